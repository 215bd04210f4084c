"""What a broadcast did: counts (one grouped query) and the recipients page by page, each with the
delivery status of their message as providers report it (models/outbox/status.py)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.broadcasts.send import check_may_broadcast, visible_contacts
from models.errors import NotFound
from models.schema.accounts import User
from models.schema.broadcasts import Broadcast, BroadcastRecipient
from models.schema.contacts import Contact
from models.schema.conversations import Conversation, Message

COUNTS = ("recipients", "pending", "queued", "sent", "delivered", "read", "failed", "skipped_blocked",
          "skipped_opted_out", "skipped_no_address")


def access_broadcast(session: Session, user: User, broadcast_id: int) -> Broadcast:
    check_may_broadcast(user)
    b = session.get(Broadcast, broadcast_id)
    if b is None:
        raise NotFound("No such broadcast.", code="no_broadcast")
    return b


def status_of(outcome: str, delivery: str | None) -> str:
    """One word per recipient: a skip, pending, failed, or their message's delivery status."""
    if outcome != "queued":
        return outcome
    return delivery or "queued"


def counts(session: Session, broadcast_id: int) -> dict[str, int]:
    out = dict.fromkeys(COUNTS, 0)
    rows = session.execute(
        select(BroadcastRecipient.outcome, Message.delivery_status, func.count())
        .outerjoin(Message, Message.id == BroadcastRecipient.message_id)
        .where(BroadcastRecipient.broadcast_id == broadcast_id)
        .group_by(BroadcastRecipient.outcome, Message.delivery_status))
    for outcome, delivery, n in rows:
        out["recipients"] += n
        key = status_of(outcome, delivery)
        out[key if key in out else "queued"] += n
    return out


def recipients(session: Session, user: User, broadcast_id: int, *, offset: int, limit: int
               ) -> list[dict[str, Any]]:
    rows = session.execute(
        select(BroadcastRecipient, Contact.name, Conversation.public_id, Message.delivery_status,
               Message.error_message)
        .join(Contact, Contact.id == BroadcastRecipient.contact_id)
        .outerjoin(Conversation, Conversation.id == BroadcastRecipient.conversation_id)
        .outerjoin(Message, Message.id == BroadcastRecipient.message_id)
        .where(BroadcastRecipient.broadcast_id == broadcast_id)
        .order_by(BroadcastRecipient.id).offset(offset).limit(limit)).all()
    seen = set(visible_contacts(session, user, [r[0].contact_id for r in rows]))
    return [{"contact_id": r.contact_id, "name": name if r.contact_id in seen else None,
             "conversation_id": public_id if r.contact_id in seen else None,
             "status": status_of(r.outcome, delivery), "error": r.error or (error if delivery == "failed" else None)}
            for r, name, public_id, delivery, error in rows]


def broadcasts_of(session: Session, limit: int = 50) -> list[Broadcast]:
    return list(session.scalars(select(Broadcast).order_by(Broadcast.id.desc()).limit(limit)))
