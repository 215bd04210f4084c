"""Agents' availability (online/away/offline) and capacity."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, union_all, update
from sqlalchemy.orm import Session

from models.audit import audit
from models.db import publish_on_commit
from models.errors import Forbidden, InvalidInput, NotFound
from models.events import (
    AgentAvailabilityChanged,
)
from models.routing.locks import lock_user, serialize
from models.schema.accounts import Availability, User
from models.schema.conversations import (
    Assignment,
    Conversation,
    Phase,
    Status,
)
from models.schema.reports import AvailabilityChange
from models.schema.routing import (
    Offer,
    OfferStatus,
)

DEFAULT_CAPACITY = 3


# An agent whose consoles have all been closed this long is set offline.
OFFLINE_AFTER = timedelta(minutes=5)


def check_availability(value: Any) -> str:
    if value not in {a.value for a in Availability}:
        raise InvalidInput("status must be one of: online, away, offline.")
    return str(value)


def do_set_availability(session: Session, user_id: int, status: str, *, now: datetime,
                        automatic: bool = False) -> bool:
    """Set what the agent chose (or, `automatic`, what presence decided). Returns whether it changed."""
    serialize(session)
    user = lock_user(session, user_id)
    if user is None:
        raise NotFound("No such user.")
    previous = user.availability
    if not automatic:
        user.auto_offline_from = None
        user.console_seen_at = now  # a sign of life: the 5 minutes without a console start now
    if previous == status:
        return False
    user.availability = status
    session.add(AvailabilityChange(user_id=user.id, status=status, changed_at=now))  # for the reports
    audit(session, "agent.availability", actor=None if automatic else user, user_id=user.id,
                  availability=status, previous=previous, automatic=automatic)
    publish_on_commit(session, AgentAvailabilityChanged(user.id, status, previous, automatic))
    return True


def do_console_seen(session: Session, user_ids: Iterable[int], now: datetime) -> None:
    """A heartbeat for users with a console open in this process."""
    ids = list(user_ids)
    if ids:
        session.execute(update(User).where(User.id.in_(ids)).values(console_seen_at=now))


def do_console_connected(session: Session, user_id: int, now: datetime) -> None:
    """A console connected: if presence had set the agent offline, give back what they had chosen."""
    serialize(session)
    user = lock_user(session, user_id)
    if user is None:
        return
    user.console_seen_at = now
    restore = user.auto_offline_from
    if restore and user.availability == Availability.OFFLINE.value:
        user.auto_offline_from = None
        do_set_availability(session, user_id, restore, now=now, automatic=True)


def do_sweep_disconnected(session: Session, now: datetime, after: timedelta = OFFLINE_AFTER) -> list[int]:
    """Agents (not offline) with no console seen for `after`: set offline, remembering their choice."""
    serialize(session)
    cutoff = now - after
    users = list(session.scalars(
        select(User).where(User.availability != Availability.OFFLINE.value,
                           (User.console_seen_at.is_(None)) | (User.console_seen_at < cutoff))
        .with_for_update(skip_locked=True, key_share=True).limit(200)))
    for user in users:
        chosen = user.availability
        do_set_availability(session, user.id, Availability.OFFLINE.value, now=now, automatic=True)
        user.auto_offline_from = chosen
    return [u.id for u in users]


def capacity_of(user: User) -> int:
    return user.capacity if user.capacity is not None else DEFAULT_CAPACITY


def check_capacity(value: Any) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 100:
        raise InvalidInput("capacity must be a whole number from 0 to 100, or null for the default (3).")
    return value


def do_set_capacity(session: Session, actor: User, user_id: int, capacity: int | None) -> User:
    if actor.role != "admin":
        raise Forbidden("Only admins change an agent's capacity.")
    serialize(session)
    user = lock_user(session, user_id)
    if user is None:
        raise NotFound("No such user.")
    user.capacity = capacity
    audit(session, "agent.capacity", actor=actor, user_id=user_id, capacity=capacity)
    return user


def active_chats(session: Session, user_ids: Sequence[int]) -> dict[int, int]:
    """Open conversations assigned to each user, plus chats offered to them and not yet answered."""
    out = dict.fromkeys(user_ids, 0)
    if not user_ids:
        return out
    # Both counts in one statement: one round trip (routing counts its agents in every batch).
    assigned = (select(Assignment.user_id, func.count())
                .join(Conversation, Conversation.id == Assignment.conversation_id)
                .where(Assignment.user_id.in_(user_ids), Conversation.status == Status.OPEN.value)
                .group_by(Assignment.user_id))
    offered = (select(Offer.user_id, func.count()).join(Conversation, Conversation.id == Offer.conversation_id)
               .where(Offer.user_id.in_(user_ids), Offer.status == OfferStatus.PENDING.value,
                      Conversation.status == Status.OPEN.value, Conversation.phase == Phase.ASSIGNING.value)
               .group_by(Offer.user_id))
    for uid, n in session.execute(union_all(assigned, offered)).all():
        out[uid] += n
    return out
