"""A returning customer's earlier conversations.

For the agent: the other conversations of the same contact that this agent may see (the visibility
rule, in SQL), newest first, each with how many messages it has, to expand one by one through the
conversation's own messages endpoint (which checks access again).

For the customer on webchat: only what their browser was party to, by the rule of
models/contacts/widget.py (webchat messages since this visitor identity joined the contact), and only
the customer's, the bot's and the agents' messages: never private notes or system lines. A merge or a
link made by an agent therefore never shows a browser anything it did not already see.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.conversations.visibility import visible_clause
from models.schema.accounts import User
from models.schema.contacts import ContactIdentity
from models.schema.conversations import Conversation, Message, SenderType

WEBCHAT = "webchat"
SHOWN_TO_CUSTOMER = (SenderType.CONTACT.value, SenderType.BOT.value, SenderType.AGENT.value)
MAX_CONVERSATIONS = 50
MAX_WIDGET_CONVERSATIONS = 5
MAX_WIDGET_MESSAGES = 200


@dataclass(frozen=True)
class Earlier:
    conversation: Conversation
    messages: int
    notes: int


def earlier_conversations(session: Session, user: User, conv: Conversation) -> list[Earlier]:
    """The contact's other conversations begun before this one that `user` may see, newest first."""
    counts = (select(Message.conversation_id, func.count().label("n"),
                     func.count().filter(Message.private.is_(True)).label("notes"))
              .group_by(Message.conversation_id).subquery())
    rows = session.execute(
        select(Conversation, func.coalesce(counts.c.n, 0), func.coalesce(counts.c.notes, 0))
        .outerjoin(counts, counts.c.conversation_id == Conversation.id)
        .where(Conversation.contact_id == conv.contact_id, Conversation.id < conv.id, visible_clause(user))
        .order_by(Conversation.id.desc()).limit(MAX_CONVERSATIONS))
    return [Earlier(c, int(n), int(notes)) for c, n, notes in rows]


def visitor_earlier(session: Session, contact_id: int, visitor_id: str, current_id: int | None
                    ) -> list[tuple[Conversation, list[Message]]]:
    """What a webchat browser is shown above its conversation: its own earlier webchat exchanges with us,
    oldest conversation first (the last few, at most `MAX_WIDGET_MESSAGES` messages)."""
    joined = session.scalar(select(ContactIdentity.joined_at).where(
        ContactIdentity.channel == WEBCHAT, ContactIdentity.external_id == visitor_id,
        ContactIdentity.contact_id == contact_id))
    if joined is None:
        return []
    stmt = select(Conversation).where(Conversation.contact_id == contact_id).order_by(Conversation.id.desc())
    if current_id is not None:
        stmt = stmt.where(Conversation.id < current_id)
    convs = list(session.scalars(stmt.limit(MAX_WIDGET_CONVERSATIONS)))
    if not convs:
        return []
    msgs = list(session.scalars(select(Message).where(
        Message.conversation_id.in_([c.id for c in convs]), Message.private.is_(False), Message.channel == WEBCHAT,
        Message.sender_type.in_(SHOWN_TO_CUSTOMER), Message.created_at >= joined)
        .order_by(Message.id.desc()).limit(MAX_WIDGET_MESSAGES)))
    by_conv: dict[int, list[Message]] = {}
    for m in reversed(msgs):
        by_conv.setdefault(m.conversation_id, []).append(m)
    return [(c, by_conv[c.id]) for c in reversed(convs) if c.id in by_conv]
