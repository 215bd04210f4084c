"""Close, reopen, return to the bot."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.audit import audit
from models.conversations.assignment import _set_assignees
from models.conversations.handoff import first_unanswered_customer_message_at
from models.conversations.ingest import open_conversation_of
from models.conversations.roles import check_may_end
from models.db import publish_on_commit
from models.errors import InvalidState
from models.events import (
    ConversationStatusChanged,
)
from models.invoices.guard import check_no_unpaid_invoice
from models.schema.accounts import User
from models.schema.base import utcnow
from models.schema.conversations import (
    Conversation,
    Message,
    Owner,
    Phase,
    Status,
)


def do_close(session: Session, actor: User | None, conv: Conversation) -> None:
    """`actor` None: the system closed it (a routing timer). An assigned conversation is closed by
    an assignee, a supervisor or an admin; an unassigned one by anybody who can see it."""
    if conv.status == Status.CLOSED.value:
        raise InvalidState("This conversation is already closed.")
    check_may_end(actor, conv, "close")
    check_no_unpaid_invoice(session, conv.id, "closing")
    now = utcnow()
    conv.status = Status.CLOSED.value
    conv.closed_at = now
    conv.waiting_since = None
    if conv.owner == Owner.HUMAN.value:
        conv.phase = Phase.ENDED.value
    _status_changed(session, actor, conv, "closed")


def do_reopen(session: Session, actor: User, conv: Conversation) -> None:
    if conv.status == Status.OPEN.value:
        raise InvalidState("This conversation is already open.")
    newer = open_conversation_of(session, conv.contact)
    if newer is not None:
        raise InvalidState("This customer already has an open conversation; continue there.",
                           code="has_open_conversation")
    conv.status = Status.OPEN.value
    conv.closed_at = None
    if conv.owner == Owner.HUMAN.value:
        conv.phase = Phase.ASSIGNED.value if conv.assignments else Phase.WAITING.value
        conv.waiting_since = first_unanswered_customer_message_at(session, conv)
    _status_changed(session, actor, conv, "reopened")


def do_return_to_bot(session: Session, actor: User, conv: Conversation) -> None:
    """Give the conversation back to the bot: an explicit act; the bot answers the next message."""
    if conv.status != Status.OPEN.value:
        raise InvalidState("Reopen the conversation before returning it to the bot.")
    if conv.owner == Owner.BOT.value:
        raise InvalidState("The bot already owns this conversation.")
    check_may_end(actor, conv, "return to the bot")
    _set_assignees(session, actor, conv, [])
    conv.owner = Owner.BOT.value
    conv.phase = None
    conv.waiting_since = None
    conv.bot_fallbacks = 0
    # The bot does not answer what was said to the humans; it starts with the next message.
    conv.bot_cursor = session.scalar(
        select(func.coalesce(func.max(Message.id), 0)).where(Message.conversation_id == conv.id)) or 0
    _status_changed(session, actor, conv, "returned_to_bot")


def _status_changed(session: Session, actor: User | None, conv: Conversation, change: str) -> None:
    conv.last_activity_at = utcnow()
    audit(session, f"conversation.{change}", actor=actor, conversation=conv)
    publish_on_commit(session, ConversationStatusChanged(conv.id, conv.team_id, conv.contact_id, change))
