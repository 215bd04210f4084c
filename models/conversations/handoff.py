"""The bot hands a conversation to people: the human side owns it, the packet is pinned, the unreplied clock starts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.audit import audit
from models.db import publish_on_commit
from models.errors import InvalidState
from models.events import (
    ConversationHandedOff,
)
from models.schema.accounts import User
from models.schema.base import utcnow
from models.schema.conversations import (
    Conversation,
    HandoffPacket,
    Message,
    Owner,
    Phase,
    SenderType,
    Status,
)


def first_unanswered_customer_message_at(session: Session, conv: Conversation) -> Any:
    """When the oldest customer message that no human agent has answered was sent (None if none)."""
    last_agent = (
        select(func.coalesce(func.max(Message.id), 0))
        .where(Message.conversation_id == conv.id, Message.sender_type == SenderType.AGENT.value,
               Message.private.is_(False))
        .scalar_subquery()
    )
    return session.scalar(
        select(func.min(Message.created_at)).where(
            Message.conversation_id == conv.id, Message.sender_type == SenderType.CONTACT.value,
            Message.id > last_agent)
    )


def do_handoff(session: Session, conv: Conversation, *, reason: str, intent: str | None = None,
               confidence: float | None = None, ranking: Sequence[dict[str, Any]] = (),
               summary: str = "", engine: str | None = None, trigger_message_id: int | None = None,
               actor: User | None = None, stages: Sequence[dict[str, Any]] = ()) -> HandoffPacket:
    """Move a conversation to the human side: queued for its team, the unreplied clock running."""
    if conv.status != Status.OPEN.value:
        raise InvalidState("Only an open conversation can be handed off.")
    now = utcnow()
    packet = HandoffPacket(conversation_id=conv.id, trigger_message_id=trigger_message_id, reason=reason,
                           intent=intent, confidence=confidence, ranking=list(ranking), summary=summary,
                           engine=engine, created_at=now, stages=list(stages))
    session.add(packet)
    conv.owner = Owner.HUMAN.value
    conv.phase = Phase.ASSIGNED.value if conv.assignments else Phase.WAITING.value
    conv.handed_off_at = now
    conv.last_activity_at = now
    conv.waiting_since = first_unanswered_customer_message_at(session, conv) or now
    conv.bot_fallbacks = 0
    audit(session, "conversation.handoff", actor=actor, conversation=conv, reason=reason, intent=intent)
    publish_on_commit(session, ConversationHandedOff(conv.id, conv.team_id, conv.contact_id, reason))
    return packet
