"""The benches start the production stack the way an operator would: `parley web` on PostgreSQL refuses
development defaults (models/production.py), so the environment the bench builds must pass that check
on its own, without the opt-out, and must let the bench's own clients in."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.servers import stack_env
from models.inboxes.options import check_origin_value
from models.production import OPT_OUT, check_production_defaults
from models.settings import Settings

PG = "postgresql://postgres@127.0.0.1:5432/test?options=-csearch_path%3Dbench_1_abc"
URL = "http://127.0.0.1:54321"


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for name in (OPT_OUT, "PARLEY_PUBLIC_URL", "PARLEY_WIDGET_ORIGINS"):
        monkeypatch.delenv(name, raising=False)  # a shell that sets them must not hide a refusal
    return stack_env(URL, str(tmp_path), PG, "redis://127.0.0.1:6379/0")


def test_the_production_stack_environment_is_not_refused(env: dict[str, str]) -> None:
    assert OPT_OUT not in env
    settings = Settings.from_env(env=env, load_dotenv=False)
    assert settings.database_url.startswith("postgresql")
    check_production_defaults(settings, env)  # raises InsecureDefaults when `parley web` would refuse


def test_the_stack_allows_the_origin_its_clients_send(env: dict[str, str]) -> None:
    settings = Settings.from_env(env=env, load_dotenv=False)
    # websocket-client's Origin for ws://127.0.0.1:54321 is the server's own scheme://host:port.
    assert settings.widget_origins == (check_origin_value(URL),)
    assert settings.public_url is not None and settings.public_url.rstrip("/") == URL


def test_a_bench_may_still_override_what_the_operator_sets(tmp_path: Path) -> None:
    env = stack_env(URL, str(tmp_path), PG, "redis://", {"PARLEY_WIDGET_ORIGINS": "https://shop.example.com"})
    assert env["PARLEY_WIDGET_ORIGINS"] == "https://shop.example.com"
    assert env["PARLEY_PUBLIC_URL"] == URL
