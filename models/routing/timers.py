"""Durable timers: armed in the transaction that makes them due, claimed once by any process."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import exists, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from models.routing.locks import serialize
from models.routing.settings import TeamSettings, team_settings
from models.schema.base import utcnow
from models.schema.conversations import (
    Conversation,
    Owner,
    Phase,
    Status,
)
from models.schema.routing import (
    Timer,
    TimerKind,
)

log = logging.getLogger(__name__)


def timer_for(session: Session, kind: str, conversation_id: int, ref_id: int = 0) -> Timer | None:
    return session.scalar(select(Timer).where(Timer.kind == kind, Timer.conversation_id == conversation_id,
                                              Timer.ref_id == ref_id))


RETRY_AFTER = timedelta(seconds=30)


TRANSFER_GRACE = timedelta(seconds=60)


def arm(session: Session, kind: str, conversation_id: int, due_at: datetime, *, ref_id: int = 0) -> None:
    """Make sure a timer of this kind is due no later than `due_at` (idempotent, race-free)."""
    arm_many(session, [(kind, conversation_id, due_at, ref_id)])


def arm_many(session: Session, timers: list[tuple[str, int, datetime, int]]) -> None:
    """`arm` for several (kind, conversation id, due at, ref id) in one statement."""
    if not timers:
        return
    now = utcnow()
    rows = [{"kind": str(kind), "conversation_id": cid, "ref_id": ref, "due_at": due, "attempts": 0,
             "created_at": now} for kind, cid, due, ref in dict(((t[0], t[1], t[3]), t) for t in timers).values()]
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = insert(Timer).values(rows)
    stmt = stmt.on_conflict_do_update(index_elements=["kind", "conversation_id", "ref_id"],
                                      set_={"due_at": func.min(stmt.excluded.due_at, Timer.due_at)}
                                      if dialect == "sqlite" else
                                      {"due_at": func.least(stmt.excluded.due_at, Timer.due_at)})
    session.execute(stmt)


def arm_conversation_timers(session: Session, conv: Conversation, now: datetime,
                            settings: TeamSettings | None = None,
                            collect: list[tuple[str, int, datetime, int]] | None = None) -> None:
    """The idle or waiting timer the conversation's phase calls for (the other one, if any, is
    dropped when it fires). `collect`: add it there, for one `arm_many` later in the transaction."""
    if conv.status != Status.OPEN.value or conv.owner != Owner.HUMAN.value:
        return
    if settings is None or settings.team_id != conv.team_id:
        settings = team_settings(session, conv.team_id)
    timer: tuple[str, int, datetime, int] | None = None
    if conv.phase == Phase.ASSIGNED.value and settings.idle_timeout_seconds:
        timer = (TimerKind.IDLE.value, conv.id,
                 max(conv.last_activity_at, now) + timedelta(seconds=settings.idle_timeout_seconds), 0)
    elif conv.phase in (Phase.WAITING.value, Phase.ASSIGNING.value) and settings.waiting_timeout_seconds:
        since = conv.queued_at or conv.handed_off_at or now
        timer = (TimerKind.WAITING.value, conv.id, since + timedelta(seconds=settings.waiting_timeout_seconds), 0)
    if timer is not None:
        if collect is not None:
            collect.append(timer)
        else:
            arm_many(session, [timer])


def reconcile(session: Session, now: datetime, limit: int = 500) -> int:
    """Arm the timers that open human conversations should have and lack (a crash between a commit
    and its listener, timeouts switched on). Cheap; run now and then."""
    missing = []
    for kind, phases in ((TimerKind.IDLE, (Phase.ASSIGNED.value,)),
                         (TimerKind.WAITING, (Phase.WAITING.value, Phase.ASSIGNING.value))):
        has = exists().where(Timer.conversation_id == Conversation.id, Timer.kind == kind.value)
        missing += list(session.scalars(select(Conversation).where(
            Conversation.status == Status.OPEN.value, Conversation.owner == Owner.HUMAN.value,
            Conversation.phase.in_(phases), ~has).limit(limit)))
    for conv in missing:
        arm_conversation_timers(session, conv, now)
    return len(missing)


def claim(session: Session, now: datetime, armed_before: datetime | None = None) -> Timer | None:
    """Lock one due timer for this transaction (others skip it). None when none is due.

    `armed_before`: only timers that existed when the runner's round began (one armed by what a
    timer did, e.g. the next offer, waits for the next round even if already due).
    """
    due = [Timer.due_at <= now] + ([Timer.created_at < armed_before] if armed_before is not None else [])
    if session.scalar(select(Timer.id).where(*due).limit(1)) is None:
        return None  # the common case, without taking SQLite's write lock
    serialize(session)
    return session.scalar(select(Timer).where(*due).order_by(Timer.due_at, Timer.id)
                          .limit(1).with_for_update(skip_locked=True).execution_options(populate_existing=True))


def postpone(session: Session, timer_id: int, now: datetime) -> None:
    """A handler failed: try again later rather than in a tight loop."""
    timer = session.get(Timer, timer_id)
    if timer is not None:
        timer.attempts += 1
        timer.due_at = now + RETRY_AFTER * min(timer.attempts, 10)
