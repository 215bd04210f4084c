"""The `earlier` event of the /webchat socket: a returning customer's own earlier webchat messages, shown
read-only above their conversation (the rule: models/contacts/history.py `visitor_earlier`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from connectors.webchat import customer_message
from console.serialize import iso
from models.contacts.history import visitor_earlier


def earlier_payload(session: Session, contact_id: int, visitor_id: str, current_id: int | None) -> dict[str, Any]:
    return {"conversations": [
        {"conversation_id": conv.public_id, "created_at": iso(conv.created_at),
         "messages": [customer_message(id=m.id, conversation_id=conv.public_id, sender_type=m.sender_type,
                                       text=m.text, created_at=iso(m.created_at) or "") for m in msgs]}
        for conv, msgs in visitor_earlier(session, contact_id, visitor_id, current_id)]}
