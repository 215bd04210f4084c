"""Counting the SQL statements a piece of work sends to the database (the hot path's budget).

A count, unlike a time, is exact and the same on every machine: the statement-count tests
(tests/test_statement_counts.py) pin what one customer message or one agent reply costs, so a change
that adds a query per message fails CI instead of slowly eating the throughput.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, event


@dataclass
class Statements:
    """The statements seen while the block ran, in order (every thread of the process counts)."""

    seen: list[str] = field(default_factory=list)
    commits: int = 0  # transactions committed (each costs a round of the ORM's and the driver's work)
    # Transactions opened and rolled back on the database server: on PostgreSQL each is a round trip
    # of its own (the BEGIN, the ROLLBACK a session that only read ends with), beside each statement
    # and COMMIT; an autocommit read (`Database.read_session`) has neither. SQLite opens none for reads.
    begins: int = 0
    rollbacks: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def committed(self) -> None:
        with self._lock:
            self.commits += 1

    def began(self) -> None:
        with self._lock:
            self.begins += 1

    def rolled_back(self) -> None:
        with self._lock:
            self.rollbacks += 1

    @property
    def round_trips(self) -> int:
        """What a PostgreSQL connection waits on the server for: BEGIN, each statement, COMMIT or ROLLBACK."""
        return self.begins + self.count + self.commits + self.rollbacks

    def add(self, sql: str) -> None:
        with self._lock:
            self.seen.append(" ".join(sql.split()))

    @property
    def count(self) -> int:
        return len(self.seen)

    def report(self) -> str:
        """What to print when a budget is exceeded: each statement, shortened."""
        return "\n".join(f"{n:>3}. {sql[:160]}" for n, sql in enumerate(self.seen, 1))


@contextmanager
def counting(engine: Engine) -> Iterator[Statements]:
    """Every statement executed on `engine` inside the block (ORM, Core and raw SQL alike), and every
    commit."""
    found = Statements()

    def before(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        found.add(statement)

    def commit(_conn: Any) -> None:
        found.committed()

    def transactional(conn: Any) -> bool:
        return bool(conn.get_execution_options().get("isolation_level") != "AUTOCOMMIT")

    def begin(conn: Any) -> None:
        if transactional(conn):
            found.began()

    def rollback(conn: Any) -> None:
        if transactional(conn):
            found.rolled_back()

    hooks: dict[str, Callable[..., Any]] = {"before_cursor_execute": before, "commit": commit, "begin": begin,
                                            "rollback": rollback}
    for name, hook in hooks.items():
        event.listen(engine, name, hook)
    try:
        yield found
    finally:
        for name, hook in hooks.items():
            event.remove(engine, name, hook)


def hold_caches(monkeypatch: Any) -> None:
    """Keep the process-wide caches a statement budget assumes warm, however slowly a loaded machine
    runs the test. Without a change feed (SQLite, no Redis) the webhook subscriptions are re-read once
    every `WANTED_TTL_S` (2 s) and the channels' settings once every `CONFIG_TTL_S` (5 s): once per
    interval per process, not per message — but a test slowed past the interval counted one statement
    more and failed (seen under load). The budgets are the steady state's."""
    from console import webhooks
    from models.integrations import subscriptions

    monkeypatch.setattr(subscriptions, "WANTED_TTL_S", 3600.0)
    monkeypatch.setattr(webhooks, "CONFIG_TTL_S", 3600.0)
