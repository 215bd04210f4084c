"""The commands that serve: `parley run` (everything in one process, ready for a first-time user),
`parley web` and `parley worker` (the production roles, console/runtime/roles.py)."""

from __future__ import annotations

import logging
import signal
import sys
import threading

import click
from flask import Flask

from console.app import build_engines, create_app
from console.runtime.roles import Background, make_web, make_worker
from console.runtime.server import ParleyServer
from models.accounts.users import do_bootstrap
from models.db import Database
from models.migrate import upgrade
from models.settings import Settings

log = logging.getLogger(__name__)


# How long a thread that wants the GIL waits before the running one must give it up: Python's default,
# 5 ms. A shorter one (1 ms, issue 17's stop 22, for the webhooks' writers queueing for the GIL behind
# CPU-bound threads) lost in alternating runs on both benches it was meant for: webchat 20 x 10 and
# signed webhooks on `parley run` (bench/README.md, "Issue 17, CPU per message"). Stated here so that
# the serving processes run with it whatever an imported library set.
SWITCH_INTERVAL_S = 0.005


def prepare(settings: Settings) -> None:
    """Migrate and make the first admin (printed once: this is the only time the password is shown).
    Also the serving process's thread switch interval (`SWITCH_INTERVAL_S`), inherited by gunicorn's workers."""
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    database = Database(settings.database_url)
    try:
        upgrade(database.engine)
        with database.transaction() as s:
            first = do_bootstrap(s)
    finally:
        database.dispose()
    if first is not None:
        click.secho("\n  First start: a demo admin was created.", fg="green", bold=True)
        click.echo(f"    email:    {first.email}\n    password: {first.password}\n"
                   "  Keep it; it will not be shown again (`parley user create` makes more users).\n")


def _banner(host: str, port: int) -> None:
    base = f"http://{host}:{port}"
    click.echo(f"  Console:     {base}/\n  Widget demo: {base}/widget/demo\n"
               f"  API:         {base}/api/v1/openapi.json\n")


def serve(settings: Settings, *, host: str, port: int, threads: int = 32, concurrency: int = 4) -> None:
    """`parley run`: web and worker roles in one gunicorn worker process (bot turns on threads of
    their own, so live pushes never wait behind them). SIGTERM: stop claiming, finish, exit 0."""
    prepare(settings)
    holder: dict[str, Background] = {}

    def build() -> Flask:
        app = create_app(settings, engines=build_engines(settings))
        holder["bg"] = make_worker(app, concurrency=concurrency, in_process=True)
        return app

    _banner(host, port)
    grace = settings.shutdown_grace_seconds
    stopping: list[threading.Thread] = []

    def on_term(_app: Flask) -> None:  # bot turns get half the grace, while gunicorn drains HTTP
        stopping.append(holder["bg"].stop_soon(grace / 2))

    def on_exit(_app: Flask) -> None:
        if not stopping:  # exiting for another reason than SIGTERM: give everything back at once
            holder["bg"].stop(0)
        for thread in stopping:
            thread.join(grace / 2)

    ParleyServer(build, host=host, port=port, threads=threads, grace_s=grace,
                 on_start=lambda _app: holder["bg"].start(), on_term=on_term, on_exit=on_exit).run()


def serve_web(settings: Settings, *, host: str, port: int, threads: int = 32) -> None:
    """`parley web`: HTTP and Socket.IO only, under gunicorn (see console/runtime/server.py)."""
    prepare(settings)

    def build() -> Flask:
        return make_web(create_app(settings, engines=build_engines(settings)))

    _banner(host, port)
    ParleyServer(build, host=host, port=port, threads=threads, grace_s=settings.shutdown_grace_seconds).run()


def run_worker(settings: Settings, *, concurrency: int = 4) -> None:
    """`parley worker`: bot turns, deliveries, timers and sweeps; no HTTP. SIGTERM or Ctrl+C: stop
    claiming, let turns under way be stored (or give their claims back), exit 0."""
    prepare(settings)
    if not settings.redis_url:
        log.warning("worker without REDIS_URL: browsers hear its changes only after a refresh")
    app = create_app(settings, engines=build_engines(settings))
    background = make_worker(app, concurrency=concurrency, in_process=False)
    stop = threading.Event()

    def term(*_: object) -> None:
        background.stop_claiming()
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, term)
    background.start()
    click.echo(f"worker running: bot turns on {concurrency} thread(s), deliveries, timers; Ctrl+C stops it")
    stop.wait()
    background.stop(settings.shutdown_grace_seconds)
    app.extensions["parley"].db.dispose()
