"""What a customer's own page is shown beyond the live messages: the `earlier` event of the /webchat socket
(a returning customer's own earlier webchat messages, read-only above their conversation; the rule:
models/contacts/history.py `visitor_earlier`), and the files in the hosted chat page's messages."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.webchat import customer_message
from console.serialize import iso
from models.contacts.history import visitor_earlier
from models.schema.channels import Attachment, AttachmentState


def earlier_payload(session: Session, contact_id: int, visitor_id: str, current_id: int | None) -> dict[str, Any]:
    return {"conversations": [
        {"conversation_id": conv.public_id, "created_at": iso(conv.created_at),
         "messages": [customer_message(id=m.id, conversation_id=conv.public_id, sender_type=m.sender_type,
                                       text=m.text, created_at=iso(m.created_at) or "") for m in msgs]}
        for conv, msgs in visitor_earlier(session, contact_id, visitor_id, current_id)]}


def with_files(session: Session, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The customer's messages with the files agents sent in them (links the customer's page may open)."""
    from console.runtime.channels import runtime

    ids = [m["id"] for m in messages]
    files: dict[int, list[dict[str, Any]]] = {}
    if ids:
        links = runtime().links
        for a in session.scalars(select(Attachment).where(Attachment.message_id.in_(ids),
                                                          Attachment.state == AttachmentState.READY.value)
                                 .order_by(Attachment.id)):
            files.setdefault(a.message_id, []).append({"filename": a.filename, "content_type": a.content_type,
                                                       "size": a.size, "url": links.visitor_url(a.public_id)})
    return [{**m, "files": files.get(m["id"], [])} for m in messages]
