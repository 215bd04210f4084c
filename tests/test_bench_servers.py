"""The benches start the production stack the way an operator would: `parley web` on PostgreSQL refuses
development defaults (models/production.py), so the environment the bench builds must pass that check
on its own, without the opt-out, and must let the bench's own clients in."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.servers import sockets_threads, stack_env, threads_for
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


def test_one_process_can_be_given_a_thread_for_each_of_thousands_of_sockets() -> None:
    """Each open websocket holds a gunicorn thread: 1,000 idle chats and an active one need more than
    1,000 threads, and gunicorn's connection cap (1,000 by default) must not leave them unused."""
    import click

    from console.cli import main
    from console.runtime.server import ParleyServer

    threads = sockets_threads(1001)
    server = ParleyServer(lambda: None, host="127.0.0.1", port=1, threads=threads, grace_s=1)  # type: ignore[arg-type,return-value]
    assert server.cfg.threads == threads
    assert server.cfg.worker_connections > threads
    for command in ("run", "web"):
        option = next(p for p in main.commands[command].params if p.name == "threads")
        assert option.type.convert(str(threads), option, None) == threads  # `--threads 1033` is taken
        with pytest.raises(click.BadParameter):
            option.type.convert("0", option, None)


def test_the_server_is_sized_for_the_sockets_a_bench_opens() -> None:
    """A socket beyond the threads is accepted but never answered: a bench of 100 visitors on the
    default 32 threads would time out rather than measure anything."""
    assert threads_for(20) == 32  # the default runs keep the configuration earlier figures had
    for sockets in (25, 100, 1001):
        assert threads_for(sockets) >= sockets + 8
        assert threads_for(sockets, 64) >= sockets + 8
