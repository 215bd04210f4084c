"""Engine and session setup, and the event bus that publishes after commit.

A `Database` owns one engine, a session factory and the bus. Code that changes state does it in
`with db.transaction() as session:`; events added with `publish_on_commit(session, event)` reach
the bus's listeners only once that transaction has committed (and never if it rolled back).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from models.events import Event

log = logging.getLogger(__name__)

Listener = Callable[[Event], None]
_PENDING = "parley_pending_events"
_BUS = "parley_bus"


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


@event.listens_for(Session, "after_commit")
def _dispatch_after_commit(session: Session) -> None:
    pending: list[Event] = session.info.pop(_PENDING, [])
    bus: EventBus | None = session.info.get(_BUS)
    if bus is None:
        return
    for evt in pending:
        bus.publish(evt)


@event.listens_for(Session, "after_rollback")
def _drop_after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)


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
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 10})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


class Database:
    def __init__(self, url: str, bus: EventBus | None = None) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.bus = bus or EventBus()
        self._sessions = sessionmaker(self.engine, expire_on_commit=False, info={_BUS: self.bus})

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def session(self) -> Session:
        return self._sessions()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work: commits at the end (then events are published), rolls back on error."""
        with self._sessions() as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
