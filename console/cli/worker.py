"""`parley web` and `parley worker`: the production roles (console/runtime/roles.py)."""

from __future__ import annotations

import click

from console.cli.support import DEFAULT_THREADS, MAX_THREADS
from models.settings import Settings


def _one_process(workers: int) -> int:
    if workers != 1:
        raise click.BadParameter(
            "must be 1: gunicorn spreads a client's Socket.IO polling requests over its processes, which "
            "breaks the session. Run several `parley web` (other ports or hosts) behind a balancer that "
            "keeps a client on one process (nginx ip_hash); they share live pushes through REDIS_URL.")
    return workers


@click.command("web", help="Serve HTTP and Socket.IO only, under gunicorn (run behind nginx; bot turns, "
                           "deliveries and timers run in `parley worker`).")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--threads", default=DEFAULT_THREADS, show_default=True, type=click.IntRange(1, MAX_THREADS),
              help="Threads serving requests; each open WebSocket holds one.")
@click.option("--workers", default=1, show_default=True, type=int, callback=lambda _c, _p, v: _one_process(v),
              help="Processes; must be 1: Socket.IO long-polling needs a client's requests on one process. "
                   "Run more `parley web` on other ports behind a sticky balancer instead.")
def web(host: str, port: int, threads: int, workers: int) -> None:
    from console.runtime.serve import serve_web

    serve_web(Settings.from_env(), host=host, port=port, threads=threads)


@click.command("worker", help="Run bot turns, SMS/WhatsApp deliveries, timers and sweeps (as many as you "
                              "like, on any host sharing the database and Redis). SIGTERM stops it cleanly.")
@click.option("--concurrency", default=4, show_default=True, type=click.IntRange(1, 256),
              help="Bot turns run at once by this process.")
def worker(concurrency: int) -> None:
    from console.runtime.serve import run_worker

    run_worker(Settings.from_env(), concurrency=concurrency)
