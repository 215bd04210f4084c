"""The unit of work: events only after commit, never after rollback, and never while a connection is held."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select

from models.db import Database, publish_on_commit
from models.events import Event
from models.schema.accounts import Team
from models.settings import Settings


@dataclass(frozen=True)
class Ping(Event):
    n: int


@pytest.fixture
def database(settings: Settings) -> Iterator[Database]:
    db = Database(settings.database_url)
    yield db
    db.dispose()


def test_events_follow_commit_in_order_and_skip_rollbacks(database: Database) -> None:
    heard: list[int] = []
    database.bus.subscribe(lambda e: heard.append(e.n) if isinstance(e, Ping) else None)
    with database.transaction() as s:
        publish_on_commit(s, Ping(1))
        publish_on_commit(s, Ping(2))
        assert heard == []  # not before the commit
    assert heard == [1, 2]
    with pytest.raises(RuntimeError), database.transaction() as s:
        s.add(Team(name="Ghost"))
        publish_on_commit(s, Ping(3))
        raise RuntimeError("boom")
    assert heard == [1, 2]
    with database.session() as s:
        assert s.scalar(select(func.count()).select_from(Team).where(Team.name == "Ghost")) == 0


def test_listeners_run_after_the_connection_is_returned(database: Database) -> None:
    """A listener that reads the database must not need a second connection while the writer holds one:
    under a burst that exhausted the pool and deadlocked every handler (seen in bench/webchat.py)."""
    held: list[int] = []
    database.bus.subscribe(lambda e: held.append(database.engine.pool.checkedout()))  # type: ignore[attr-defined]
    with database.transaction() as s:
        s.add(Team(name="Sales"))
        publish_on_commit(s, Ping(1))
    assert held == [0]


def test_concurrent_writers_all_commit(database: Database) -> None:
    errors: list[BaseException] = []

    def write(i: int) -> None:
        try:
            for j in range(5):
                with database.transaction() as s:
                    s.add(Team(name=f"t{i}-{j}"))
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors
    with database.session() as s:
        assert s.scalar(select(func.count()).select_from(Team).where(Team.name.like("t%-%"))) == 80
