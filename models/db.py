"""Engine and session setup, and the event bus that publishes after commit.

A `Database` owns one engine, a session factory and the bus. Code that changes state does it in
`with db.transaction() as session:`; events added with `publish_on_commit(session, event)` reach
the bus's listeners only once that transaction has committed (and never if it rolled back), and
only after its session has closed: a listener that reads the database never needs a second
connection while the first is still held, so a burst of writers cannot exhaust the pool.
"""

from __future__ import annotations

import logging
import select as _select
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, exc
from sqlalchemy.orm import Session, sessionmaker

from models.events import Event

log = logging.getLogger(__name__)

Listener = Callable[[Event], None]
# A job queue's `submit` (console/runtime/jobs.py): `Database.transaction(publish_with=...)` hands it
# the publishing of a commit's events instead of publishing them on the committing thread.
Submit = Callable[..., None]
# Called just before a commit with the events that commit will publish; may add rows to the session,
# which then commit (or roll back) with the change itself (e.g. webhook deliveries, models/integrations/).
CommitWriter = Callable[[Session, list[Event]], None]
_PENDING = "parley_pending_events"
_WRITERS = "parley_commit_writers"
_COMMITTED = "parley_committed_events"
_DEFER = "parley_defer_dispatch"
_BUS = "parley_bus"
_FIRST = "parley_first_after_commit"
_FIRST_COMMITTED = "parley_first_committed"


class EventBus:
    """Synchronous fan-out to listeners. A failing listener is logged and does not stop the others."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []
        self._lock = threading.Lock()

    def subscribe(self, listener: Listener) -> None:
        with self._lock:
            self._listeners.append(listener)

    def publish(self, evt: Event) -> None:
        for listener in list(self._listeners):
            try:
                listener(evt)
            except Exception:  # the dispatch boundary: one listener must not break another
                log.exception("listener %r failed on %r", listener, evt)


def publish_on_commit(session: Session, evt: Event) -> None:
    session.info.setdefault(_PENDING, []).append(evt)


def pending_events(session: Session) -> int:
    """How many events the session's transaction will publish on commit, so far."""
    return len(session.info.get(_PENDING) or ())


def first_after_commit(session: Session, call: Callable[[], None]) -> None:
    """Run `call` once this transaction has committed, before its events reach the listeners (and
    never if it rolls back): for what another process waits on, such as the Redis wake-up of the
    worker that answers a customer message (console/sockets.py), which would otherwise queue behind
    the consoles' pushes of that message (a database read and a publish; bench/README.md, issue 17)."""
    session.info.setdefault(_FIRST, []).append(call)


def _run_first(calls: list[Callable[[], None]]) -> None:
    for call in calls:
        try:
            call()
        except Exception:  # the dispatch boundary, as for listeners
            log.exception("after-commit call %r failed", call)


@event.listens_for(Session, "before_commit")
def _write_before_commit(session: Session) -> None:
    pending: list[Event] = session.info.get(_PENDING) or []
    writers: list[CommitWriter] = session.info.get(_WRITERS) or []
    if pending and writers:
        for write in list(writers):
            write(session, list(pending))


@event.listens_for(Session, "after_commit")
def _dispatch_after_commit(session: Session) -> None:
    pending: list[Event] = session.info.pop(_PENDING, [])
    first: list[Callable[[], None]] = session.info.pop(_FIRST, [])
    if session.info.get(_DEFER):
        session.info.setdefault(_FIRST_COMMITTED, []).extend(first)  # `transaction()` runs them on close
        session.info.setdefault(_COMMITTED, []).extend(pending)  # `transaction()` publishes on close
        return
    _run_first(first)
    _publish(session.info.get(_BUS), pending)


def _publish(bus: EventBus | None, events: list[Event]) -> None:
    if bus is None:
        return
    for evt in events:
        bus.publish(evt)


@event.listens_for(Session, "after_rollback")
def _drop_after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)
    session.info.pop(_FIRST, None)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1] if "///" in url else ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # A connection here is a file handle: let every thread have one rather than wait for one.
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 10},
                               pool_size=10, max_overflow=-1)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # No `pool_pre_ping`: its round trip (SELECT 1) before every checkout was a fifth of a webhook's
    # time on PostgreSQL. `_closed_by_server` catches what the ping caught — a server restarted or a
    # backend terminated since the connection went back to the pool — without a round trip, and
    # `pool_recycle` retires connections before a middlebox or idle timeout can drop them silently.
    engine = create_engine(url, pool_size=10, max_overflow=20, pool_recycle=RECYCLE_S)
    event.listen(engine, "checkout", _closed_by_server)
    return engine


RECYCLE_S = 1800


def _closed_by_server(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """Pessimistic disconnect handling at checkout, for free: a pooled connection sits idle with
    nothing to read, so a socket that is readable now means the server closed it (a restart or
    `pg_terminate_backend` sends its FATAL notice and closes). Raising `DisconnectionError` here makes
    the pool throw that connection away and check out a fresh one (SQLAlchemy's documented checkout
    hook): the caller never sees the dead one, so a PostgreSQL restart is not a 500."""
    if getattr(dbapi_connection, "closed", False):
        raise exc.DisconnectionError("connection closed")
    fileno = getattr(dbapi_connection, "fileno", None)
    if fileno is None:  # a driver with no socket to look at
        return
    poller = _select.poll()  # not select(): a busy web process has descriptors above FD_SETSIZE
    try:
        poller.register(fileno(), _select.POLLIN)
        ready = poller.poll(0)
    except (OSError, ValueError) as err:  # no socket any more
        raise exc.DisconnectionError(str(err)) from err
    if ready:
        raise exc.DisconnectionError("the server closed this pooled connection")


class WriteLock:
    """SQLite's one writer at a time, handed over in this process, with two kinds of writer.

    An *urgent* writer has somebody waiting on the other end for its commit — a provider holding a
    webhook open for its acknowledgement — and goes before the background writers (bot turns,
    deliveries, timers) that are waiting too. A background writer that has waited `patience_s`
    goes next, whoever else waits: under a burst of webhooks the bot slows down, it never stops.
    A *first* writer goes before all of them, overdue ones included: routing, which people on both
    ends wait for (a customer for a person, an agent for the chat), and which writes from one thread
    at a time in short batches (console/runtime/routing_work.py), so it delays any other writer by
    one batch at most; behind a burst of 100 customer messages, and the bot turns gone overdue under
    it, the first handoffs' routing waited up to a second (bench/routing.py).
    Re-entrant, like the RLock it replaces.
    """

    def __init__(self, patience_s: float = 0.25) -> None:
        self.patience_s = patience_s
        mutex = threading.Lock()
        # Two queues on one mutex, so that a release wakes one writer of the kind that goes next
        # rather than every waiting thread (dozens of request threads under a burst).
        self._first = threading.Condition(mutex)
        self._urgent = threading.Condition(mutex)
        self._background = threading.Condition(mutex)
        self._owner: int | None = None
        self._depth = 0
        self._first_waiting = 0
        self._urgent_waiting = 0
        self._background_waiting = 0
        self._overdue_waiting = 0

    @contextmanager
    def held(self, *, urgent: bool = False, first: bool = False) -> Iterator[None]:
        self._acquire(urgent, first)
        try:
            yield
        finally:
            self._release()

    @property
    def waiting(self) -> int:
        """Writers waiting now (both kinds): what a test waits for before it lets the holder go."""
        with self._urgent:
            return self._first_waiting + self._urgent_waiting + self._background_waiting

    def _acquire(self, urgent: bool, first: bool = False) -> None:
        me = threading.get_ident()
        with self._urgent:  # the shared mutex
            if self._owner == me:
                self._depth += 1
                return
            if first:
                self._first_waiting += 1
                while self._owner is not None:
                    self._first.wait()
                self._first_waiting -= 1
            elif urgent:
                self._urgent_waiting += 1
                while self._owner is not None or self._overdue_waiting or self._first_waiting:
                    self._urgent.wait()
                self._urgent_waiting -= 1
            else:
                self._wait_in_background()
            self._owner, self._depth = me, 1

    def _wait_in_background(self) -> None:
        """Called with the mutex held; returns when this background writer may take the lock."""
        self._background_waiting += 1
        overdue = False
        deadline = time.monotonic() + self.patience_s
        while self._owner is not None or self._first_waiting or (self._urgent_waiting and not overdue):
            if overdue:
                self._background.wait()
                continue
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                overdue = True
                self._overdue_waiting += 1
            else:
                self._background.wait(remaining)
        self._background_waiting -= 1
        if overdue:
            self._overdue_waiting -= 1

    def _release(self) -> None:
        with self._urgent:
            self._depth -= 1
            if self._depth:
                return
            self._owner = None
            if self._first_waiting:
                self._first.notify()
            elif self._overdue_waiting:
                self._background.notify_all()  # rare: one of those overdue goes next
            elif self._urgent_waiting:
                self._urgent.notify()
            elif self._background_waiting:
                self._background.notify()


class Database:
    def __init__(self, url: str, bus: EventBus | None = None) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.bus = bus or EventBus()
        self.writers: list[CommitWriter] = []  # shared by every session of this database (see `CommitWriter`)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False, info={_BUS: self.bus,
                                                                                 _WRITERS: self.writers})
        # Reads on their own (`read_session`): on PostgreSQL in autocommit, on the same pool. SQLite
        # (pysqlite) opens a transaction only before a write: its reads have no BEGIN to save.
        self._read_sessions = self._sessions if self.is_sqlite else sessionmaker(
            self.engine.execution_options(isolation_level="AUTOCOMMIT"), expire_on_commit=False,
            info={_BUS: self.bus, _WRITERS: self.writers})
        # SQLite has one writer at a time; queueing writers here hands the lock over at once instead
        # of leaving them in SQLite's busy handler, which sleeps in growing steps (measured in bench/).
        self._write_lock: WriteLock | None = WriteLock() if self.is_sqlite else None

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def session(self) -> Session:
        return self._sessions()

    def read_session(self) -> Session:
        """A session that only reads (the realtime pushes, the bot's sweep): on PostgreSQL each
        statement runs on its own, without the BEGIN before and the ROLLBACK after that a
        transaction costs, two round trips of three for a one-query push (bench/README.md, issue 17).
        What the reads see is unchanged: under READ COMMITTED, PostgreSQL's default, every statement
        of a transaction sees what was committed when that statement began anyway. Never write in it:
        nothing would roll a write back."""
        return self._read_sessions()

    @contextmanager
    def transaction(self, *, publish_with: Submit | None = None, urgent: bool = False,
                    first: bool = False, publish_under_lock: bool = False) -> Iterator[Session]:
        """One unit of work: commits at the end, rolls back on error; events are published once the
        session is closed and its connection is back in the pool. With `publish_with` they are
        handed to that queue instead, in commit order, and the caller goes on without waiting for
        the listeners (a webhook acknowledges once its message is committed: console/webhooks.py).
        `urgent`: somebody is waiting for this commit; on SQLite it writes before background work
        (`WriteLock`); `first`: before urgent writers too (routing). `publish_under_lock` (SQLite): the
        events are published before the next writer may commit, so that what it commits is pushed after
        them (a bot's answer stored with the customer's message, console/sockets.py)."""
        with self._serialised(urgent, first):
            with self._sessions() as session:
                session.info[_DEFER] = True
                with session.begin():
                    yield session
                committed: list[Event] = session.info.pop(_COMMITTED, [])
                after_commit: list[Callable[[], None]] = session.info.pop(_FIRST_COMMITTED, [])
            _run_first(after_commit)
            if publish_under_lock and publish_with is None and self._write_lock is not None:
                _publish(self.bus, committed)
                return
        if publish_with is None:
            _publish(self.bus, committed)
        elif committed:
            publish_with(_publish, self.bus, committed)

    @contextmanager
    def _serialised(self, urgent: bool = False, first: bool = False) -> Iterator[None]:
        if self._write_lock is None:
            yield
            return
        with self._write_lock.held(urgent=urgent, first=first):
            yield

    def dispose(self) -> None:
        self.engine.dispose()
