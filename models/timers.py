"""Durable timers: due times kept in `routing_timers`, fired once by whichever process claims them.

A timer is claimed and handled in one transaction (`SELECT ... FOR UPDATE SKIP LOCKED` on
PostgreSQL, the write lock on SQLite) and deleted in that same transaction, so its effect and its
removal commit together: a crash before commit leaves the timer for the next runner, a second
process never sees it twice. What a timer does is decided from the state at firing time (an offer
already accepted, a conversation with activity since), so a late or repeated check is harmless.

Kinds: `offer` and `transfer` expiry; `idle` (an assigned conversation without activity) and
`waiting` (left in the queue), per team and configurable, which complete the conversation and send
the customer the team's closing message.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import exists, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from models import actions, routing
from models.db import publish_on_commit
from models.routing_events import ConversationQueued
from models.routing_schema import Timer, TimerKind
from models.schema import Conversation, Owner, Phase, Status, utcnow

log = logging.getLogger(__name__)

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
                            settings: routing.TeamSettings | None = None,
                            collect: list[tuple[str, int, datetime, int]] | None = None) -> None:
    """The idle or waiting timer the conversation's phase calls for (the other one, if any, is
    dropped when it fires). `collect`: add it there, for one `arm_many` later in the transaction."""
    if conv.status != Status.OPEN.value or conv.owner != Owner.HUMAN.value:
        return
    if settings is None or settings.team_id != conv.team_id:
        settings = routing.team_settings(session, conv.team_id)
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
    routing.serialize(session)
    return session.scalar(select(Timer).where(*due).order_by(Timer.due_at, Timer.id)
                          .limit(1).with_for_update(skip_locked=True).execution_options(populate_existing=True))



def handle(session: Session, timer: Timer, now: datetime) -> None:
    """Do what a claimed timer is for; it is deleted, or moved to its new due time, in this transaction."""
    if not _handle(session, timer, now):
        session.delete(timer)


def fire_next(session: Session, now: datetime) -> Timer | None:
    timer = claim(session, now)
    if timer is not None:
        handle(session, timer, now)
    return timer


def postpone(session: Session, timer_id: int, now: datetime) -> None:
    """A handler failed: try again later rather than in a tight loop."""
    timer = session.get(Timer, timer_id)
    if timer is not None:
        timer.attempts += 1
        timer.due_at = now + RETRY_AFTER * min(timer.attempts, 10)


def _handle(session: Session, timer: Timer, now: datetime) -> bool:
    """Do what the timer is for. True: it re-armed itself (keep the row); False: done (delete it)."""
    from models import transfers

    if timer.kind == TimerKind.OFFER.value:
        routing.do_expire_offer(session, timer.ref_id, now)
        return False
    if timer.kind == TimerKind.TRANSFER.value:
        transfers.do_expire_transfer(session, timer.ref_id, now)
        return False
    conv = routing.lock_conversation(session, timer.conversation_id)
    if conv is None or conv.status != Status.OPEN.value or conv.owner != Owner.HUMAN.value:
        return False
    settings = routing.team_settings(session, conv.team_id)
    if timer.kind == TimerKind.IDLE.value:
        if conv.phase == Phase.TRANSFERRING.value:
            timer.due_at = now + TRANSFER_GRACE  # not while a transfer awaits its answer
            return True
        if conv.phase != Phase.ASSIGNED.value or not settings.idle_timeout_seconds:
            return False
        due = conv.last_activity_at + timedelta(seconds=settings.idle_timeout_seconds)
        if due > now:
            timer.due_at = due
            return True
        do_auto_close(session, conv, now, reason="idle", failed=False)
        return False
    if timer.kind == TimerKind.WAITING.value:
        if conv.phase not in (Phase.WAITING.value, Phase.ASSIGNING.value) or not settings.waiting_timeout_seconds:
            return False
        since = conv.queued_at or conv.handed_off_at or conv.created_at
        due = since + timedelta(seconds=settings.waiting_timeout_seconds)
        if due > now:
            timer.due_at = due
            return True
        do_auto_close(session, conv, now, reason="waiting", failed=True)
        return False
    log.warning("unknown timer kind %r (timer %s) dropped", timer.kind, timer.id)
    return False


def do_auto_close(session: Session, conv: Conversation, now: datetime, *, reason: str, failed: bool) -> None:
    """Complete a conversation nobody is working (idle while assigned) or nobody took (waiting too
    long: phase `failed`), telling the customer with the team's closing message."""
    settings = routing.team_settings(session, conv.team_id)
    routing.withdraw_offers(session, conv, now)
    if settings.closing_message:
        routing.do_system_message(session, conv, settings.closing_message)
    actions.do_close(session, None, conv)
    if failed:
        conv.phase = Phase.FAILED.value
    actions.audit(session, "routing.auto_closed", conversation=conv, reason=reason, team_id=conv.team_id)


def do_requeue(session: Session, conv: Conversation, now: datetime, reason: str) -> None:
    """Put a conversation back in its team's queue with a fresh place (e.g. moved to another team)."""
    conv.queued_at = now
    conv.phase = Phase.WAITING.value
    arm_conversation_timers(session, conv, now)
    publish_on_commit(session, ConversationQueued(conv.id, conv.team_id, conv.contact_id, reason))
