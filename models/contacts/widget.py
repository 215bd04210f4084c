"""What a webchat browser is shown of its contact's open conversation.

A visitor token proves a browser, not a person. A contact can have several identities (a WhatsApp
number, other browsers) joined by a link or a merge, and a merge is an agent's claim that the browser
never confirmed. So the widget shows a browser what was said *on webchat* *since its identity joined
the contact*: the same messages the live pushes bring it (only webchat replies go to the widget), and
never what the kept contact said and was told before a merge, on any channel.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.schema.contacts import ContactIdentity
from models.schema.conversations import Conversation, Message

WEBCHAT = "webchat"


def visitor_history(session: Session, conv: Conversation, visitor_id: str) -> list[Message]:
    """The messages of `conv` the browser of `visitor_id` may be shown, oldest first."""
    joined = session.scalar(select(ContactIdentity.joined_at).where(
        ContactIdentity.channel == WEBCHAT, ContactIdentity.external_id == visitor_id,
        ContactIdentity.contact_id == conv.contact_id))
    if joined is None:
        return []
    return list(session.scalars(select(Message).where(
        Message.conversation_id == conv.id, Message.private.is_(False), Message.channel == WEBCHAT,
        Message.created_at >= joined).order_by(Message.id)))
