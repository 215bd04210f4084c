"""What every `parley` command shares: a user's mistake as one line and exit 1, and a migrated database."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

import click

from models.db import Database
from models.errors import ParleyError
from models.settings import Settings

# `--threads` of `parley run` / `parley web`: each open WebSocket holds a thread, so a process meant
# to hold thousands of idle chat sockets needs thousands (gunicorn's connection cap follows the threads).
MAX_THREADS = 10_000
# The default holds 1,000 open chats per process (~120 KB each, measured by bench.idle). gunicorn's pool
# makes threads as connections need them, so an idle server does not pay for them. With the old default
# of 32, the 33rd open chat was accepted and never answered (bench.routing found it).
DEFAULT_THREADS = 1_000


@contextmanager
def fail_cleanly() -> Iterator[None]:
    """A mistake the user made is one line on stderr and exit 1, not a traceback."""
    try:
        yield
    except ParleyError as exc:
        click.echo(f"error: {exc.message}", err=True)
        sys.exit(1)


def migrated_db(settings: Settings | None = None) -> Database:
    """The configured database, migrated to head first (commands may run before `parley run` ever did)."""
    from models.migrate import upgrade

    database = Database((settings or Settings.from_env()).database_url)
    upgrade(database.engine)
    return database
