"""The one settings object: `parley config show`, `.env`, unknown variables, and the README's tables."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from console.cli import main
from models.settings import FIELD_OF, SECRET_NAMES, TOOLING_VARS, Settings

ROOT = Path(__file__).resolve().parents[1]
SECRETS = {
    "PARLEY_SECRET_KEY": "sk-session-signing-123",
    "PARLEY_METRICS_TOKEN": "metrics-token-456",
    "PARLEY_TWILIO_AUTH_TOKEN": "twilio-auth-789",
    "PARLEY_LLM_API_KEY": "sk-llm-key-abc",
    "PARLEY_RASA_TOKEN": "rasa-token-def",
    "PARLEY_WHATSAPP_APP_SECRET": "wa-app-secret-ghi",
}


@pytest.fixture()
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory of its own (for `.env`), and an environment without the suite's database."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PARLEY_INSTANCE", str(tmp_path / "instance"))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("REDIS_URL", raising=False)
    return tmp_path


def _show(*args: str) -> str:
    result = CliRunner().invoke(main, ["config", "show", *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_config_show_lists_every_variable_with_secrets_masked(workdir: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DATABASE_URL", "postgresql://parley:hunter2-db@db.internal:5432/parley")
    monkeypatch.setenv("REDIS_URL", "redis://:hunter3-redis@redis.internal:6379/0")
    monkeypatch.setenv("PARLEY_OUTBOX_POLL", "3")
    monkeypatch.setenv("PARLEY_LLM_TIMEOUT", "")  # empty: unset
    text = _show()
    shown = json.loads(_show("--json"))
    assert set(shown) == set(FIELD_OF)  # every variable the settings know, nothing else
    for name in FIELD_OF:
        assert re.search(rf"^{name}\s", text, re.M), name
    for secret in [*SECRETS.values(), "hunter2-db", "hunter3-redis"]:
        assert secret not in text and secret not in json.dumps(shown)
    assert all(shown[name] == "****" for name in SECRETS)
    assert shown["DATABASE_URL"] == "postgresql+psycopg://parley:****@db.internal:5432/parley"
    assert shown["REDIS_URL"] == "redis://:****@redis.internal:6379/0"
    assert shown["PARLEY_OUTBOX_POLL"] == "3.0" and shown["PARLEY_LLM_MODEL"] == "(unset)"
    assert shown["PARLEY_LLM_TIMEOUT"] == "20.0"
    assert "# seconds between the delivery worker's polls" in text  # and what each one means


def test_dotenv_in_the_working_directory_is_read_and_real_variables_win(workdir: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARLEY_LLM_TIMEOUT", "9")
    (workdir / ".env").write_text("PARLEY_MAX_MESSAGE_LENGTH=77\nPARLEY_LLM_TIMEOUT=3\n"
                                  "PARLEY_WHATSAPP_TOKEN=wa-dotenv-token\n")
    for name in ("PARLEY_MAX_MESSAGE_LENGTH", "PARLEY_WHATSAPP_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr("os.environ", dict(__import__("os").environ))  # load_dotenv writes into it; undo after
    shown = json.loads(_show("--json"))
    assert shown["PARLEY_MAX_MESSAGE_LENGTH"] == "77"
    assert shown["PARLEY_LLM_TIMEOUT"] == "9.0"
    assert shown["PARLEY_WHATSAPP_TOKEN"] == "****"


def test_an_unknown_parley_variable_is_reported_with_the_closest_name(workdir: Path, monkeypatch: pytest.MonkeyPatch,
                                                                      caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("PARLEY_OUTBOX_POL", "3")
    monkeypatch.setenv("PARLEY_FOO", "1")
    with caplog.at_level(logging.WARNING, logger="models.settings"):
        _show()
    lines = [r.getMessage() for r in caplog.records if r.name == "models.settings"]
    assert "unknown setting PARLEY_OUTBOX_POL is ignored (did you mean PARLEY_OUTBOX_POLL?)" in lines
    assert "unknown setting PARLEY_FOO is ignored" in lines
    assert not any("PARLEY_INSTANCE" in line for line in lines)


def test_a_bad_value_is_one_line_naming_the_variable(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARLEY_OUTBOX_POLL", "often")
    monkeypatch.setenv("PARLEY_LOG_FORMAT", "xml")
    result = CliRunner().invoke(main, ["config", "show"])
    assert result.exit_code == 1
    assert "PARLEY_OUTBOX_POLL" in result.output and "PARLEY_LOG_FORMAT" in result.output
    assert "Traceback" not in result.output


def test_settings_keep_their_api(tmp_path: Path) -> None:
    s = Settings.from_env({"PARLEY_INSTANCE": str(tmp_path), "PARLEY_BOT_ENGINES": "rasa, llm",
                           "DATABASE_URL": "postgres://u:p@h/db", "PARLEY_SECRET_KEY": "k"})
    assert s.bot_engines == ("rasa", "llm") and s.database_url == "postgresql+psycopg://u:p@h/db"
    assert s.with_(max_message_length=5).max_message_length == 5 and s.max_message_length == 4096
    assert s.with_(extra={"PARLEY_RASA_TIMEOUT": "2"}).resolved().rasa_timeout == 2.0
    assert "'k'" not in repr(s)  # secrets stay out of reprs and so out of tracebacks and logs
    # an empty variable is an unset one, from the environment or laid over
    assert Settings.from_env({"PARLEY_SECRET_KEY": "k", "PARLEY_LLM_TIMEOUT": "", "PARLEY_INSTANCE": str(tmp_path)}
                             ).llm_timeout == 20.0
    assert s.overlay({"PARLEY_RASA_URL": "http://r:5005/"}).overlay({"PARLEY_RASA_URL": ""}).rasa_url is None


def _documented() -> set[str]:
    names: set[str] = set()
    for line in (ROOT / "README.md").read_text().splitlines():
        if line.startswith("| `"):
            names |= set(re.findall(r"`(PARLEY_[A-Z0-9_]+|DATABASE_URL|REDIS_URL)`", line.split("|")[1]))
    return names


def test_the_readme_documents_every_variable_and_no_other() -> None:
    documented = _documented()
    assert sorted(set(FIELD_OF) - documented) == [], "add these to README.md's configuration tables"
    assert sorted(documented - set(FIELD_OF)) == [], "README documents variables the settings do not know"


def test_every_variable_the_code_names_is_declared() -> None:
    """A knob read straight from the environment would escape validation, `config show` and the README."""
    named: dict[str, str] = {}
    for folder in ("models", "connectors", "bot", "console"):
        for path in (ROOT / folder).rglob("*.py"):
            for name in re.findall(r"\bPARLEY_[A-Z0-9_]*[A-Z0-9]\b", path.read_text()):
                named.setdefault(name, str(path.relative_to(ROOT)))
    undeclared = {n: p for n, p in named.items() if n not in FIELD_OF and n not in TOOLING_VARS}
    assert undeclared == {}, "declare these in models/settings.py"
    assert set(SECRETS) <= SECRET_NAMES
