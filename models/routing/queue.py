"""A team's queue: who waits, in what order, and what the customer is told about the wait."""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, select
from sqlalchemy.orm import Session

from models.conversations.messages import do_system_message
from models.db import publish_on_commit
from models.events import (
    ConversationQueued,
)
from models.routing.hours import HoursState, out_of_hours_text, team_hours_state
from models.routing.settings import team_settings
from models.routing.timers import arm_conversation_timers
from models.schema.accounts import AuditEvent, Availability, TeamMember, User
from models.schema.base import utcnow
from models.schema.conversations import (
    Channel,
    Conversation,
    Owner,
    Phase,
    Status,
)

log = logging.getLogger(__name__)


QUEUE_SCAN = 50  # waiting conversations looked at per routing step


def queued_since() -> ColumnElement[Any]:
    return func.coalesce(Conversation.queued_at, Conversation.handed_off_at, Conversation.created_at)


def waiting_in(team_id: int) -> ColumnElement[bool]:
    return and_(Conversation.team_id == team_id, Conversation.status == Status.OPEN.value,
                Conversation.owner == Owner.HUMAN.value, Conversation.phase == Phase.WAITING.value)


def in_queue(team_id: int) -> ColumnElement[bool]:
    """Waiting, or offered and not yet accepted: both still hold a place in the queue."""
    return and_(Conversation.team_id == team_id, Conversation.status == Status.OPEN.value,
                Conversation.owner == Owner.HUMAN.value,
                Conversation.phase.in_((Phase.WAITING.value, Phase.ASSIGNING.value)))


def queue_select(team_id: int) -> Select[Any]:
    return select(Conversation).where(in_queue(team_id)).order_by(queued_since(), Conversation.id)


def queue_positions(session: Session, team_id: int) -> dict[int, int]:
    """1-based places in the team's queue, longest-waiting first."""
    ids = session.scalars(select(Conversation.id).where(in_queue(team_id)).order_by(queued_since(), Conversation.id))
    return {cid: i for i, cid in enumerate(ids, start=1)}


@dataclass(frozen=True)
class WaitBasis:
    """What a team's wait estimate rests on: recent waits, and the agents online now."""

    mean_wait_seconds: float | None
    online_agents: int

    def estimate(self, position: int) -> int | None:
        """Seconds: the recent mean wait, once per "round" of online agents ahead of this place.
        None when nobody left the queue lately (no basis for a figure; the widget shows the place)."""
        if self.mean_wait_seconds is None:
            return None
        rounds = math.ceil(position / max(1, self.online_agents))
        return max(1, round(self.mean_wait_seconds * rounds))


def wait_basis(session: Session, team_id: int, now: datetime) -> WaitBasis:
    """The mean wait of the last 20 conversations that left this team's queue in the past day."""
    rows = session.scalars(
        select(AuditEvent.data).where(AuditEvent.kind == "routing.assigned",
                                      AuditEvent.created_at >= now - timedelta(days=1))
        .order_by(AuditEvent.id.desc()).limit(200))
    waits = [float(d["waited_seconds"]) for d in rows
             if isinstance(d, dict) and d.get("team_id") == team_id and "waited_seconds" in d][:20]
    online = session.scalar(
        select(func.count()).select_from(TeamMember).join(User, User.id == TeamMember.user_id)
        .where(TeamMember.team_id == team_id, User.active.is_(True),
               User.availability == Availability.ONLINE.value)) or 0
    return WaitBasis(sum(waits) / len(waits) if waits else None, online)


@dataclass(frozen=True)
class QueueOutlook:
    """What a customer waiting in a team's queue is told: an estimated wait while the team is open,
    and when it opens (in the team's timezone) while it is closed (`models/team_workspace.py`)."""

    basis: WaitBasis
    hours: HoursState

    def fields(self, position: int) -> dict[str, Any]:
        """`estimated_wait_seconds` (None while closed); for a team with hours, also `team_open` and,
        while closed, `opens_at` (ISO, UTC) and `opens_at_text` (in the team's timezone)."""
        h = self.hours
        out: dict[str, Any] = {"estimated_wait_seconds": self.basis.estimate(position) if h.open_now else None}
        if not h.always_open:
            out.update(team_open=h.open_now, opens_at=h.next_opening.isoformat() if h.next_opening else None,
                       opens_at_text=h.next_opening_text)
        return out


def queue_outlook(session: Session, team_id: int, now: datetime) -> QueueOutlook:
    return QueueOutlook(wait_basis(session, team_id, now), team_hours_state(session, team_id, now)[1])


def teams_with_waiting(session: Session) -> list[int]:
    return list(session.scalars(select(Conversation.team_id).where(
        Conversation.status == Status.OPEN.value, Conversation.owner == Owner.HUMAN.value,
        Conversation.phase == Phase.WAITING.value).distinct()))


def teams_of(session: Session, user_ids: Iterable[int]) -> set[int]:
    ids = list(user_ids)
    if not ids:
        return set()
    return set(session.scalars(select(TeamMember.team_id).where(TeamMember.user_id.in_(ids))))


def _waited(conv: Conversation, now: datetime) -> float:
    since = conv.queued_at or conv.handed_off_at or conv.created_at
    return max(0.0, (now - since).total_seconds())


def do_announce_queue(session: Session, conversation_id: int, now: datetime | None = None) -> bool:
    """Tell a customer who just entered the queue that a person will answer (once per handoff).

    Outside the team's opening hours, on every channel: the team's out-of-hours message, with when it
    opens. Otherwise on SMS/WhatsApp the team's queue message (webchat customers see their place in the
    queue and an estimated wait instead)."""
    conv = session.get(Conversation, conversation_id)
    if conv is None or conv.status != Status.OPEN.value \
            or conv.phase not in (Phase.WAITING.value, Phase.ASSIGNING.value):
        return False
    hours, state = team_hours_state(session, conv.team_id, now or utcnow())
    if hours is not None and not state.open_now:
        text_ = out_of_hours_text(hours, state)
    elif conv.channel == Channel.WEBCHAT.value:
        return False
    else:
        text_ = team_settings(session, conv.team_id).queue_message
    if not text_:
        return False
    do_system_message(session, conv, text_)
    return True


def do_requeue(session: Session, conv: Conversation, now: datetime, reason: str) -> None:
    """Put a conversation back in its team's queue with a fresh place (e.g. moved to another team)."""
    conv.queued_at = now
    conv.phase = Phase.WAITING.value
    arm_conversation_timers(session, conv, now)
    publish_on_commit(session, ConversationQueued(conv.id, conv.team_id, conv.contact_id, reason))
