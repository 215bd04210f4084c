"""The unit of work: events only after commit, never after rollback, and never while a connection is held."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select, text

from models.db import Database, WriteLock, publish_on_commit
from models.events import Event
from models.schema.accounts import Team
from models.settings import Settings
from tests.support.databases import PG_URL


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


def _order_after_release(lock: WriteLock, kinds: list[bool | str]) -> list[str]:
    """Hold the lock, let writers of these kinds (True: urgent, "first": routing) queue one after
    another, release: the order they got it in."""
    got: list[str] = []
    threads = []
    with lock.held():
        for n, kind in enumerate(kinds):
            name = f"{'first' if kind == 'first' else 'urgent' if kind else 'background'}{n}"

            def write(name: str = name, kind: bool | str = kind) -> None:
                with lock.held(urgent=kind is True, first=kind == "first"):
                    got.append(name)

            threads.append(threading.Thread(target=write))
            threads[-1].start()
            while lock.waiting < n + 1:  # queued before the next one comes
                time.sleep(0.001)
    for t in threads:
        t.join(5)
    return got


def test_a_writer_someone_waits_for_goes_before_background_writers() -> None:
    """SQLite's write lock: a webhook's commit (the provider holds the request open) before bot turns
    and deliveries that queued earlier; re-entrant like the RLock it replaced."""
    lock = WriteLock(patience_s=60)
    got = _order_after_release(lock, [False, False, True])
    assert got[0] == "urgent2" and sorted(got[1:]) == ["background0", "background1"]
    with lock.held(), lock.held(urgent=True):  # the same thread again: no deadlock
        pass


def test_routing_goes_before_urgent_writers_that_queued_earlier() -> None:
    """Issue 17 (speed): behind a burst of customer messages (urgent) the first handoffs' routing
    waited for every one of them; routing writes first, one batch at a time."""
    lock = WriteLock(patience_s=60)
    got = _order_after_release(lock, [False, True, True, "first"])
    assert got[0] == "first3" and got[1:3] == ["urgent1", "urgent2"] and got[3] == "background0"
    # and before a background writer gone overdue (it waits one routing batch more, never starves)
    assert _order_after_release(WriteLock(patience_s=0), [False, True, "first"]) == [
        "first2", "background0", "urgent1"]


def test_a_background_writer_that_waited_its_patience_goes_next() -> None:
    """Under a burst of urgent writers the bot slows down but never stops."""
    lock = WriteLock(patience_s=0)
    assert _order_after_release(lock, [False, True]) == ["background0", "urgent1"]


@pytest.mark.skipif(not (PG_URL or "").startswith("postgres"), reason="PostgreSQL only (DATABASE_URL)")
def test_a_connection_the_server_closed_is_replaced_at_checkout_without_a_ping(
        database: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """What `pool_pre_ping` did, without its round trip before every checkout: a pooled connection
    whose backend went away (a PostgreSQL restart, here `pg_terminate_backend`) is thrown away at
    checkout and the caller works on a fresh one, so a restart never turns into a 500."""
    pings: list[object] = []

    def ping(_dialect: object, conn: object) -> bool:
        pings.append(conn)
        return True

    monkeypatch.setattr(type(database.engine.dialect), "do_ping", ping)
    pid_sql = text("SELECT pg_backend_pid()")
    with database.transaction() as s:
        first = s.scalar(pid_sql)
    other = Database(database.url)
    try:
        with other.transaction() as s:
            assert s.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
            for _ in range(200):  # terminating is asynchronous: until the backend is gone
                if not s.scalar(text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"), {"pid": first}):
                    break
                time.sleep(0.01)
    finally:
        other.dispose()
    for _ in range(3):  # the dead connection is not handed out, then the fresh one is reused
        with database.transaction() as s:
            assert s.scalar(select(func.count()).select_from(Team)) is not None
            assert s.scalar(pid_sql) != first
    assert pings == []
