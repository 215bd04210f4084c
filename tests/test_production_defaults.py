"""With PostgreSQL configured, Parley refuses to start on development defaults (any widget origin, no
public URL) and says what to set; SQLite and the explicit opt-out keep starting with no configuration."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from console.cli import main
from models.production import InsecureDefaults, check_production_defaults
from models.settings import Settings

PG = "postgresql://postgres@127.0.0.1:5432/test"


def _settings(tmp_path: Path, **env: str) -> Settings:
    return Settings.from_env(env={"PARLEY_INSTANCE": str(tmp_path), "PARLEY_SECRET_KEY": "k", **env},
                             load_dotenv=False)


def test_postgresql_with_development_defaults_is_refused(tmp_path: Path) -> None:
    settings = _settings(tmp_path, DATABASE_URL=PG)
    with pytest.raises(InsecureDefaults) as refused:
        check_production_defaults(settings, {})
    message = refused.value.message
    assert "PARLEY_WIDGET_ORIGINS" in message and "PARLEY_PUBLIC_URL" in message
    assert "PARLEY_ALLOW_INSECURE_DEFAULTS=1" in message
    only_origin = _settings(tmp_path, DATABASE_URL=PG, PARLEY_WIDGET_ORIGINS="https://shop.example.com")
    with pytest.raises(InsecureDefaults, match="PARLEY_PUBLIC_URL") as refused:
        check_production_defaults(only_origin, {})
    assert "PARLEY_WIDGET_ORIGINS" not in refused.value.message


def test_explicit_values_sqlite_or_the_opt_out_start(tmp_path: Path) -> None:
    configured = _settings(tmp_path, DATABASE_URL=PG, PARLEY_WIDGET_ORIGINS="https://shop.example.com")
    check_production_defaults(configured, {"PARLEY_PUBLIC_URL": "https://parley.example.com"})
    check_production_defaults(_settings(tmp_path), {})  # `parley run` with no configuration
    check_production_defaults(_settings(tmp_path, DATABASE_URL=PG), {"PARLEY_ALLOW_INSECURE_DEFAULTS": "1"})


def test_parley_run_says_what_to_set_and_exits(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["run", "--port", "1"], env={
        "DATABASE_URL": PG, "PARLEY_INSTANCE": str(tmp_path), "PARLEY_SECRET_KEY": "k",
        "PARLEY_ALLOW_INSECURE_DEFAULTS": "", "PARLEY_WIDGET_ORIGINS": "*", "PARLEY_PUBLIC_URL": ""})
    assert result.exit_code == 1
    assert "Refusing to start with development defaults on PostgreSQL" in result.output
    assert "Traceback" not in result.output
