"""Messages written into a conversation: by the bot, by an agent, by the system; and read marks."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.audit import audit
from models.conversations.assignment import _assignee_ids, _set_assignees
from models.db import publish_on_commit
from models.errors import InvalidInput, InvalidState, TooLong
from models.events import (
    ConversationRead,
    MessageCreated,
)
from models.schema.accounts import User
from models.schema.base import utcnow
from models.schema.conversations import (
    Channel,
    Conversation,
    DeliveryStatus,
    Direction,
    Message,
    Owner,
    ReadMark,
    SenderType,
    Status,
)


def check_text(text: Any, max_length: int) -> str:
    if not isinstance(text, str):
        raise InvalidInput("The message text must be a string.", code="invalid")
    stripped = text.strip()
    if not stripped:
        raise InvalidInput("The message is empty.", code="empty")
    if len(text) > max_length:
        raise TooLong(f"The message is too long ({len(text)} characters; the limit is {max_length}).")
    return text


def _message_created(session: Session, conv: Conversation, msg: Message) -> None:
    publish_on_commit(session, MessageCreated(conv.id, conv.team_id, conv.contact_id, msg.id,
                                              msg.sender_type, msg.private, msg.channel,
                                              human_owned=conv.owner == Owner.HUMAN.value))


def _outbound_status(channel: str) -> str:
    """Webchat is delivered by the socket emit right after commit (and by history on reconnect), so it
    is `sent` as stored; other channels wait in the outbox as `queued` until the provider accepts."""
    return (DeliveryStatus.SENT if channel == Channel.WEBCHAT.value else DeliveryStatus.QUEUED).value


def do_send_bot_reply(session: Session, conv: Conversation, text: str, *, intent: str | None,
                      confidence: float | None, decision: str, reason: str | None,
                      channel: str | None = None, rich: dict[str, Any] | None = None) -> Message:
    """The bot answers on the channel the customer last wrote from (`channel`, when the caller knows
    it already); SMS/WhatsApp go through the outbox. `rich`: its buttons and image
    (models/conversations/rich.py), which the outbox renders per channel."""
    from models.outbox.enqueue import default_reply_channel, do_enqueue_outbound

    now = utcnow()
    reply_channel = channel or default_reply_channel(session, conv)
    msg = Message(conversation_id=conv.id, direction=Direction.OUT.value, sender_type=SenderType.BOT.value,
                  text=text, channel=reply_channel, delivery_status=_outbound_status(reply_channel),
                  created_at=now, bot_intent=intent, bot_confidence=confidence, bot_decision=decision,
                  bot_reason=reason, rich=rich or None)
    session.add(msg)
    conv.last_activity_at = now
    # Facts the reports group and filter by, in the same UPDATE as last_activity_at (no statement more).
    if conv.bot_first_at is None:
        conv.bot_first_at = now
    if intent is not None and conv.first_intent is None:
        conv.first_intent = intent
    session.flush()
    do_enqueue_outbound(session, conv, msg, strict=False)
    _message_created(session, conv, msg)
    return msg


def do_agent_message(session: Session, user: User, conv: Conversation, text: str, *,
                     private: bool = False, channel: str | None = None,
                     outbound: dict[str, Any] | None = None) -> Message:
    """An agent's reply (clears unreplied) or private note (does not, and the customer never sees it).

    Replying to a conversation the bot owns takes it over: the bot goes silent and the replier is
    assigned, as in Chatwoot when an agent answers a pending conversation. `channel` is the reply
    channel the agent picked (default: where the customer last wrote from); SMS/WhatsApp replies
    are queued in the outbox in this transaction (`outbound`: e.g. a WhatsApp template), or refused.
    """
    from models.outbox.enqueue import check_reply_channel, default_reply_channel, do_enqueue_outbound

    if conv.status != Status.OPEN.value and not private:
        raise InvalidState("This conversation is closed; reopen it to reply.")
    if not private and _prepared_only(session, conv):
        raise InvalidState("This session is being prepared: nothing reaches the customer until the invitation is "
                           "sent. Edit the welcome message or add private notes.", code="not_invited_yet")
    reply_channel = check_reply_channel(session, conv, channel) if channel else default_reply_channel(session, conv)
    now = utcnow()
    if not private and conv.owner == Owner.BOT.value:
        conv.owner = Owner.HUMAN.value
        conv.handed_off_at = now
        _set_assignees(session, user, conv, [*_assignee_ids(conv), user.id])
        audit(session, "conversation.taken_over", actor=user, conversation=conv)
    msg = Message(conversation_id=conv.id, direction=Direction.OUT.value,
                  sender_type=SenderType.AGENT.value, author_id=user.id, text=text, private=private,
                  channel=reply_channel,
                  delivery_status=DeliveryStatus.SENT.value if private else _outbound_status(reply_channel),
                  created_at=now)
    session.add(msg)
    if not private:
        conv.waiting_since = None
        conv.last_activity_at = now
    session.flush()
    do_enqueue_outbound(session, conv, msg, payload=outbound)
    _message_created(session, conv, msg)
    _mark_read(session, user, conv, msg.id)
    return msg


def _prepared_only(session: Session, conv: Conversation) -> bool:
    """A pre-planned session (models/outreach) whose invitation has not gone out yet."""
    return conv.awaiting_invitation


def do_mark_read(session: Session, user: User, conv: Conversation) -> None:
    last = session.scalar(
        select(func.coalesce(func.max(Message.id), 0)).where(Message.conversation_id == conv.id)) or 0
    if _mark_read(session, user, conv, last):
        publish_on_commit(session, ConversationRead(conv.id, conv.team_id, conv.contact_id, user.id))


def _mark_read(session: Session, user: User, conv: Conversation, message_id: int) -> bool:
    mark = session.get(ReadMark, (user.id, conv.id))
    if mark is None:
        session.add(ReadMark(user_id=user.id, conversation_id=conv.id, last_read_message_id=message_id))
        return True
    if mark.last_read_message_id >= message_id:
        return False
    mark.last_read_message_id = message_id
    mark.updated_at = utcnow()
    return True


def do_system_message(session: Session, conv: Conversation, text_: str) -> Message:
    """A message to the customer from the service itself (queue notice, closing message).

    Goes out like a bot reply: webchat by the realtime listener, SMS/WhatsApp through the outbox.
    Not activity: it does not move the idle clock.
    """
    from models.outbox.enqueue import default_reply_channel, do_enqueue_outbound

    msg = Message(conversation_id=conv.id, direction=Direction.OUT.value, sender_type=SenderType.SYSTEM.value,
                  text=text_, channel=default_reply_channel(session, conv),
                  delivery_status=DeliveryStatus.QUEUED.value, created_at=utcnow())
    session.add(msg)
    session.flush()
    do_enqueue_outbound(session, conv, msg, strict=False)
    publish_on_commit(session, MessageCreated(conv.id, conv.team_id, conv.contact_id, msg.id, msg.sender_type,
                                              msg.private, msg.channel))
    return msg
