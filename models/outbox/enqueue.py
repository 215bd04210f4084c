"""The outbox: every SMS/WhatsApp message is stored first, then sent by a worker.

Why rows in the same transaction as the message (and not a listener on `MessageCreated`): events
are published after commit, so a crash between the commit and the listener would lose the send.
`do_enqueue_outbound` is called by the actions that create an outbound message, inside their
transaction: the message and its outbox row exist together or not at all.

The delivery guarantee, precisely:
- a row is claimed (state `sending`, a lease and a claim token) in its own committed transaction
  before the provider is called; a worker records the result only while its token still holds;
- connect failures, 5xx and 429 never reached (or were refused by) the provider: retried with
  exponential backoff up to `outbox_max_attempts`, then `failed`; 4xx fail at once;
- a read timeout, a broken connection, or a crash after the claim (the lease expires) may have
  reached the provider: the row becomes `unconfirmed` and is *never resent blindly*. Twilio is
  asked whether it has the message (sent → recorded with its SID; absent → sent again); for the
  Cloud API a status callback carrying our reference (`biz_opaque_callback_data`) confirms it, and
  without one within `unconfirmed_grace_s` the message is shown failed (`unconfirmed`) for the
  agent to retry or not. So a message is sent at most once unless an agent explicitly retries an
  unconfirmed one, and a stored message is always sent, confirmed or shown failed.
- a conversation's messages leave in order: a row is not claimed while an earlier row of the same
  conversation is pending, sending or unconfirmed.

Where "never twice" rests on the provider: a 5xx is taken to mean "not accepted" (as Twilio and Meta
document); the Twilio lookup matches our number, the customer's number and the body since the
attempt began (so an identical text sent to the same customer from elsewhere in that minute could
be taken for ours, and a message Twilio accepted but does not list yet would be sent again); a Cloud
API send confirmed neither by its answer nor by a callback is left to the agent, never resent.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Integer, String, bindparam, func, insert, select
from sqlalchemy.orm import Session

from models.contacts.identities import address_on
from models.db import publish_on_commit
from models.errors import InvalidInput, InvalidState
from models.events import OutboundQueued
from models.schema.base import utcnow
from models.schema.channels import (
    ChannelConfig,
    OutboxItem,
    ProviderKind,
)
from models.schema.contacts import ContactIdentity
from models.schema.conversations import Conversation, DeliveryStatus, Message, SenderType

WEBCHAT = "webchat"


PROVIDER_CHANNELS = ("sms", "whatsapp")


WHATSAPP_WINDOW = timedelta(hours=24)


def serves(config: ChannelConfig, channel: str) -> bool:
    if not config.enabled:
        return False
    if channel == "sms":
        return config.kind == ProviderKind.TWILIO.value
    if channel == "whatsapp":
        return config.kind == ProviderKind.WHATSAPP_CLOUD.value or (
            config.kind == ProviderKind.TWILIO.value and bool((config.options or {}).get("whatsapp", True)))
    return False


def route_for(session: Session, conv: Conversation, channel: str) -> ChannelConfig | None:
    """The account the customer last wrote to on `channel` (replies come from the same number),
    else the first enabled account that serves the channel (the Cloud API first for WhatsApp)."""
    via = session.scalar(
        select(Message.via_channel_id).join(Conversation, Conversation.id == Message.conversation_id)
        .where(Conversation.contact_id == conv.contact_id, Message.channel == channel,
               Message.sender_type == SenderType.CONTACT.value, Message.via_channel_id.is_not(None))
        .order_by(Message.id.desc()).limit(1))
    if via is not None:
        config = session.get(ChannelConfig, via)
        if config is not None and serves(config, channel):
            return config
    return _first_serving(session, channel)


def _first_serving(session: Session, channel: str) -> ChannelConfig | None:
    configs = session.scalars(select(ChannelConfig).where(ChannelConfig.enabled.is_(True)).order_by(
        (ChannelConfig.kind == ProviderKind.TWILIO.value), ChannelConfig.id))
    return next((c for c in configs if serves(c, channel)), None)


def _routed_query() -> Any:
    """The account the customer last wrote to on a channel, with the customer's address there, in one
    statement: `route_for`'s look for the account and its row, and `address_on`, as subqueries."""
    contact_id, channel = bindparam("contact_id", type_=Integer), bindparam("channel", type_=String)
    via = (select(Message.via_channel_id).join(Conversation, Conversation.id == Message.conversation_id)
           .where(Conversation.contact_id == contact_id, Message.channel == channel,
                  Message.sender_type == SenderType.CONTACT.value, Message.via_channel_id.is_not(None))
           .order_by(Message.id.desc()).limit(1).scalar_subquery())
    to = (select(ContactIdentity.external_id)
          .where(ContactIdentity.contact_id == contact_id, ContactIdentity.channel == channel)
          .order_by(ContactIdentity.id.desc()).limit(1).scalar_subquery())
    return select(ChannelConfig, to.label("to")).where(ChannelConfig.id == via)


_ROUTED = _routed_query()  # built once: statements cost CPU to build


def route_and_address(session: Session, contact_id: int, channel: str) -> tuple[ChannelConfig | None, str | None]:
    """`route_for` and `address_on` together: one statement when the customer has written on
    `channel` through an account that still exists (every reply to an SMS or a WhatsApp message), else
    the separate look-ups. Same answers as the two functions."""
    row = session.execute(_ROUTED, {"contact_id": contact_id, "channel": channel}).first()
    if row is None:
        config = route_for(session, Conversation(contact_id=contact_id), channel)
        return config, address_on(session, contact_id, channel)
    config, to = row
    return (config if serves(config, channel) else _first_serving(session, channel)), to


def last_inbound_at(session: Session, contact_id: int, channel: str) -> datetime | None:
    value: datetime | None = session.scalar(
        select(func.max(Message.created_at)).join(Conversation, Conversation.id == Message.conversation_id)
        .where(Conversation.contact_id == contact_id, Message.channel == channel,
               Message.sender_type == SenderType.CONTACT.value))
    if value is not None and value.tzinfo is None:  # SQLite's max() bypasses the column type
        from datetime import UTC

        value = value.replace(tzinfo=UTC)
    return value


def whatsapp_window(session: Session, contact_id: int, now: datetime | None = None) -> tuple[bool, datetime | None]:
    """WhatsApp's customer-service window: free-form messages only within 24 hours of the
    customer's last WhatsApp message. Returns (open, closes_at)."""
    last = last_inbound_at(session, contact_id, "whatsapp")
    if last is None:
        return False, None
    closes = last + WHATSAPP_WINDOW
    return (now or utcnow()) < closes, closes


def default_reply_channel(session: Session, conv: Conversation) -> str:
    """Where the customer last wrote from in this conversation (they moved there), else its channel."""
    channel = session.scalar(select(Message.channel).where(
        Message.conversation_id == conv.id, Message.sender_type == SenderType.CONTACT.value)
        .order_by(Message.id.desc()).limit(1))
    return channel or conv.channel


REPLY_CHANNELS = (WEBCHAT, *PROVIDER_CHANNELS)


def check_reply_channel(session: Session, conv: Conversation, channel: Any) -> str:
    """The reply channel an agent picked: one on which the customer has an identity."""
    if channel not in REPLY_CHANNELS:
        raise InvalidInput(f"channel must be one of: {', '.join(REPLY_CHANNELS)}.", code="bad_channel")
    if channel != conv.channel and address_on(session, conv.contact_id, channel) is None:
        raise InvalidState(f"This customer has no {_label(channel)} identity; link one to the contact first.",
                           code="no_address")
    return str(channel)


def do_enqueue_outbound(session: Session, conv: Conversation, msg: Message, *,
                        payload: dict[str, Any] | None = None, strict: bool = True) -> OutboxItem | None:
    """Queue `msg` (already flushed) for its provider, in the caller's transaction.

    `payload`: `{"template": {"name", "language", "variables"}}` for a WhatsApp template,
    `{"send_text": False}` for a file whose text is only its name. `strict` (agent replies): a
    reply that cannot go out is refused with a clear error and the whole transaction rolls back.
    Not strict (bot replies): the message is kept and marked failed with the reason, so the bot's
    turn is still recorded and the agent sees why.
    """
    payload = dict(payload or {})
    template = payload.get("template")
    if msg.channel == WEBCHAT or msg.private:
        return None
    if msg.channel not in PROVIDER_CHANNELS:
        _refuse(msg, strict, "unknown_channel", f"Messages cannot be sent on {msg.channel!r}.")
        return None
    config, to = route_and_address(session, conv.contact_id, msg.channel)
    if to is None:
        _refuse(msg, strict, "no_address",
                f"This customer has no {_label(msg.channel)} number; link one to the contact first.")
        return None
    if config is None:
        _refuse(msg, strict, "no_channel", f"No {_label(msg.channel)} channel is configured.")
        return None
    if msg.channel == "whatsapp" and template is None and not whatsapp_window(session, conv.contact_id)[0]:
        _refuse(msg, strict, "window_closed",
                "WhatsApp's 24-hour window is closed: the customer has not written on WhatsApp in the "
                "last 24 hours, so only an approved template can be sent.")
        return None
    now = utcnow()
    item = OutboxItem(message_id=msg.id, conversation_id=conv.id, channel=msg.channel,
                      channel_config_id=config.id, to_address=to, payload=payload, created_at=now,
                      updated_at=now, next_attempt_at=now)
    session.add(item)
    session.flush()
    publish_on_commit(session, OutboundQueued(item.id))
    return item


_OUTBOX: Any = OutboxItem.__table__
_QUEUE = insert(_OUTBOX).returning(_OUTBOX.c.id)


def do_enqueue_reply(session: Session, *, conversation_id: int, contact_id: int, message_id: int,
                     channel: str) -> None:
    """Queue a bot reply inserted in Core (models/conversations/bot_answers.py) for its provider: the
    route and the address in one statement, the outbox row in another — no entity loaded. A reply
    that cannot go out (no address, no account, WhatsApp's window closed) takes `do_enqueue_outbound`
    (not strict), which marks the message failed with the reason, as for any bot reply."""
    if channel not in PROVIDER_CHANNELS:
        return
    config, to = route_and_address(session, contact_id, channel)
    if to is None or config is None or (channel == "whatsapp" and not whatsapp_window(session, contact_id)[0]):
        conv, msg = session.get(Conversation, conversation_id), session.get(Message, message_id)
        assert conv is not None and msg is not None  # written in this transaction
        do_enqueue_outbound(session, conv, msg, strict=False)
        return
    now = utcnow()
    item_id = session.execute(_QUEUE, {
        "message_id": message_id, "conversation_id": conversation_id, "channel": channel,
        "channel_config_id": config.id, "to_address": to, "payload": {}, "created_at": now, "updated_at": now,
        "next_attempt_at": now}).scalar_one()
    publish_on_commit(session, OutboundQueued(item_id))


def _label(channel: str) -> str:
    return {"sms": "SMS", "whatsapp": "WhatsApp"}.get(channel, channel)


def _refuse(msg: Message, strict: bool, code: str, text: str) -> None:
    if strict:
        raise InvalidState(text, code=code)
    msg.delivery_status = DeliveryStatus.FAILED.value
    msg.error_code = code
    msg.error_message = text[:500]
    return None
