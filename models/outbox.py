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

import random
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, func, or_, select, update
from sqlalchemy.orm import Session, aliased

from models.actions import audit
from models.channels import DELIVERY_RANK, ChannelConfig, OutboxItem, OutboxState, ProviderKind, StatusReport
from models.contacts import address_on
from models.db import publish_on_commit
from models.errors import InvalidInput, InvalidState
from models.events import Event
from models.schema import Conversation, DeliveryStatus, Direction, Message, SenderType, User, utcnow

WEBCHAT = "webchat"
PROVIDER_CHANNELS = ("sms", "whatsapp")
WHATSAPP_WINDOW = timedelta(hours=24)
ACTIVE = (OutboxState.PENDING.value, OutboxState.SENDING.value, OutboxState.UNCONFIRMED.value)


@dataclass(frozen=True)
class OutboundQueued(Event):
    """An outbox row was committed: wake the worker (it also polls, so this is only for latency)."""

    outbox_id: int


@dataclass(frozen=True)
class MessageUpdated(Event):
    """A stored message changed after it was created (delivery status, an attachment arrived)."""

    conversation_id: int
    team_id: int
    message_id: int
    change: str  # "delivery_status" | "attachment"


# --- routing: which provider account, which address ---------------------------------------------


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
    configs = session.scalars(select(ChannelConfig).where(ChannelConfig.enabled.is_(True)).order_by(
        (ChannelConfig.kind == ProviderKind.TWILIO.value), ChannelConfig.id))
    return next((c for c in configs if serves(c, channel)), None)


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


# --- enqueue ---------------------------------------------------------------------------------------


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
    to = address_on(session, conv.contact_id, msg.channel)
    if to is None:
        _refuse(msg, strict, "no_address",
                f"This customer has no {_label(msg.channel)} number; link one to the contact first.")
        return None
    config = route_for(session, conv, msg.channel)
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


def _label(channel: str) -> str:
    return {"sms": "SMS", "whatsapp": "WhatsApp"}.get(channel, channel)


def _refuse(msg: Message, strict: bool, code: str, text: str) -> None:
    if strict:
        raise InvalidState(text, code=code)
    msg.delivery_status = DeliveryStatus.FAILED.value
    msg.error_code = code
    msg.error_message = text[:500]
    return None


# --- the worker's side: claim, record -------------------------------------------------------------


def claim_due(session: Session, *, limit: int, lease_s: float, now: datetime | None = None) -> tuple[str, list[int]]:
    """Claim up to `limit` due rows (commit the session right after). Safe with several workers:
    PostgreSQL skips rows another worker has locked; everywhere the claim is a compare-and-set on
    `state`, and the caller keeps only the rows carrying its token."""
    now = now or utcnow()
    earlier = aliased(OutboxItem)
    blocked = exists().where(earlier.conversation_id == OutboxItem.conversation_id, earlier.id < OutboxItem.id,
                             earlier.state.in_(ACTIVE))
    stmt = (select(OutboxItem.id)
            .where(OutboxItem.state == OutboxState.PENDING.value, OutboxItem.next_attempt_at <= now, ~blocked)
            .order_by(OutboxItem.next_attempt_at, OutboxItem.id).limit(limit))
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True, of=OutboxItem)
    ids = list(session.scalars(stmt))
    token = secrets.token_hex(16)
    if not ids:
        return token, []
    session.execute(update(OutboxItem)
                    .where(OutboxItem.id.in_(ids), OutboxItem.state == OutboxState.PENDING.value)
                    .values(state=OutboxState.SENDING.value, claim_token=token, attempts=OutboxItem.attempts + 1,
                            lease_until=now + timedelta(seconds=lease_s), attempt_started_at=now, updated_at=now)
                    .execution_options(synchronize_session=False))
    claimed = list(session.scalars(select(OutboxItem.id).where(OutboxItem.id.in_(ids),
                                                               OutboxItem.claim_token == token)
                                   .order_by(OutboxItem.id)))
    return token, claimed


def expire_leases(session: Session, now: datetime | None = None) -> list[int]:
    """Rows whose worker died mid-send: they may have reached the provider, so they become
    unconfirmed (reconciled, never resent blindly)."""
    now = now or utcnow()
    ids = list(session.scalars(select(OutboxItem.id).where(
        OutboxItem.state == OutboxState.SENDING.value, OutboxItem.lease_until < now)))
    if ids:
        session.execute(update(OutboxItem).where(OutboxItem.id.in_(ids),
                                                 OutboxItem.state == OutboxState.SENDING.value,
                                                 OutboxItem.lease_until < now)
                        .values(state=OutboxState.UNCONFIRMED.value, claim_token=None, updated_at=now,
                                error_code="interrupted",
                                last_error="The sender stopped before the provider answered.")
                        .execution_options(synchronize_session=False))
    return ids


def unconfirmed_ids(session: Session, *, settled_before: datetime, limit: int = 20) -> list[int]:
    """Unconfirmed rows that have been so for a moment (providers record what they accepted quickly)."""
    return list(session.scalars(select(OutboxItem.id).where(OutboxItem.state == OutboxState.UNCONFIRMED.value,
                                                            OutboxItem.updated_at < settled_before)
                                .order_by(OutboxItem.id).limit(limit)))


def claim_unconfirmed(session: Session, item_id: int, *, lease_s: float) -> str | None:
    """Take an unconfirmed row for reconciliation (a compare-and-set, like `claim_due`)."""
    token = secrets.token_hex(16)
    now = utcnow()
    result = session.execute(update(OutboxItem).where(OutboxItem.id == item_id,
                                                      OutboxItem.state == OutboxState.UNCONFIRMED.value)
                             .values(state=OutboxState.SENDING.value, claim_token=token,
                                     lease_until=now + timedelta(seconds=lease_s), updated_at=now)
                             .execution_options(synchronize_session=False))
    return token if getattr(result, "rowcount", 0) == 1 else None


def _held(session: Session, item_id: int, token: str) -> tuple[OutboxItem, Message, Conversation] | None:
    item = session.scalar(select(OutboxItem).where(OutboxItem.id == item_id, OutboxItem.claim_token == token,
                                                   OutboxItem.state == OutboxState.SENDING.value)
                          .with_for_update())
    if item is None:
        return None
    msg = session.get(Message, item.message_id)
    conv = session.get(Conversation, item.conversation_id)
    if msg is None or conv is None:
        return None
    return item, msg, conv


def record_sent(session: Session, item_id: int, token: str, provider_message_id: str) -> bool:
    held = _held(session, item_id, token)
    if held is None:
        return False
    item, msg, conv = held
    now = utcnow()
    item.state = OutboxState.SENT.value
    item.claim_token = None
    item.lease_until = None
    item.updated_at = now
    item.last_error = item.error_code = None
    msg.provider_message_id = provider_message_id
    msg.error_code = msg.error_message = None
    _advance(session, conv, msg, DeliveryStatus.SENT.value, force=msg.delivery_status == DeliveryStatus.FAILED.value)
    return True


def record_retry(session: Session, item_id: int, token: str, *, code: str | None, error: str,
                 max_attempts: int, backoff_s: float, backoff_max_s: float) -> str | None:
    """A failure that did not reach the provider: again later, or failed for good. Returns the new state."""
    held = _held(session, item_id, token)
    if held is None:
        return None
    item, msg, conv = held
    if item.attempts >= max_attempts:
        _fail(session, item, msg, conv, code, f"{error} (gave up after {item.attempts} attempts)")
        return OutboxState.FAILED.value
    delay = min(backoff_max_s, backoff_s * (2 ** max(0, item.attempts - 1)))
    delay *= random.uniform(0.8, 1.2)
    now = utcnow()
    item.state = OutboxState.PENDING.value
    item.claim_token = None
    item.lease_until = None
    item.next_attempt_at = now + timedelta(seconds=delay)
    item.updated_at = now
    item.error_code = code
    item.last_error = error[:2000]
    return OutboxState.PENDING.value


def record_failed(session: Session, item_id: int, token: str, *, code: str | None, error: str) -> bool:
    held = _held(session, item_id, token)
    if held is None:
        return False
    item, msg, conv = held
    _fail(session, item, msg, conv, code, error)
    return True


def record_unconfirmed(session: Session, item_id: int, token: str, *, code: str | None, error: str) -> bool:
    held = _held(session, item_id, token)
    if held is None:
        return False
    item = held[0]
    item.state = OutboxState.UNCONFIRMED.value
    item.claim_token = None
    item.lease_until = None
    item.error_code = code
    item.last_error = error[:2000]
    item.updated_at = utcnow()
    return True


def record_resend(session: Session, item_id: int, token: str) -> bool:
    """Reconciliation found the provider never got it: back in line, sent again at once."""
    held = _held(session, item_id, token)
    if held is None:
        return False
    item = held[0]
    now = utcnow()
    item.state = OutboxState.PENDING.value
    item.claim_token = None
    item.lease_until = None
    item.next_attempt_at = now
    item.updated_at = now
    return True


def _fail(session: Session, item: OutboxItem, msg: Message, conv: Conversation, code: str | None,
          error: str) -> None:
    now = utcnow()
    item.state = OutboxState.FAILED.value
    item.claim_token = None
    item.lease_until = None
    item.error_code = code
    item.last_error = error[:2000]
    item.updated_at = now
    msg.error_code = (code or "failed")[:40]
    msg.error_message = error[:500]
    _advance(session, conv, msg, DeliveryStatus.FAILED.value, force=True)


def _advance(session: Session, conv: Conversation, msg: Message, status: str, *, force: bool = False) -> bool:
    current = DELIVERY_RANK.get(msg.delivery_status, -1)
    if not force and DELIVERY_RANK.get(status, -1) <= current:
        return False
    if msg.delivery_status == status:
        return False
    msg.delivery_status = status
    publish_on_commit(session, MessageUpdated(conv.id, conv.team_id, msg.id, "delivery_status"))
    return True


# --- provider status callbacks -------------------------------------------------------------------


def _by_ref(session: Session, ref: str | None) -> Message | None:
    if not ref or not ref.startswith("o") or not ref[1:].isdigit():
        return None
    item = session.get(OutboxItem, int(ref[1:]))
    return session.get(Message, item.message_id) if item is not None else None


def do_apply_status(session: Session, status: StatusReport) -> bool:
    """Move a sent message's delivery status forward (never back), whatever order callbacks come
    in. A callback for an unconfirmed send confirms it. Returns whether anything changed."""
    msg = session.scalar(select(Message).where(
        Message.channel.in_(PROVIDER_CHANNELS), Message.provider_message_id == status.provider_message_id,
        Message.direction == Direction.OUT.value).with_for_update())
    if msg is None:
        msg = _by_ref(session, status.ref)
        if msg is None:
            return False
        session.refresh(msg, with_for_update=True)
    conv = session.get(Conversation, msg.conversation_id)
    assert conv is not None
    item = session.scalar(select(OutboxItem).where(OutboxItem.message_id == msg.id))
    confirmed = False
    if item is not None and item.state in (OutboxState.UNCONFIRMED.value, OutboxState.FAILED.value) \
            and item.error_code in ("timeout", "connection_lost", "interrupted", "unconfirmed", "no_sid", "no_id") \
            and (msg.provider_message_id in (None, status.provider_message_id)):
        # The provider has it after all: the unconfirmed send went through.
        item.state = OutboxState.SENT.value
        item.claim_token = None
        item.error_code = item.last_error = None
        item.updated_at = utcnow()
        msg.provider_message_id = status.provider_message_id
        msg.error_code = msg.error_message = None
        confirmed = True
    if msg.provider_message_id is None:
        msg.provider_message_id = status.provider_message_id
    if status.status == DeliveryStatus.FAILED.value and DELIVERY_RANK.get(msg.delivery_status, -1) < \
            DELIVERY_RANK["failed"]:
        msg.error_code = (status.error_code or "failed")[:40]
        msg.error_message = (status.error_message or "The provider could not deliver the message.")[:500]
    force = confirmed and msg.delivery_status == DeliveryStatus.FAILED.value and status.status != "failed"
    return _advance(session, conv, msg, status.status, force=force) or confirmed


# --- the agent's retry ----------------------------------------------------------------------------


def do_retry(session: Session, actor: User, msg: Message) -> OutboxItem:
    """Send a failed message again (the agent's explicit choice, also for an unconfirmed one)."""
    item = session.scalar(select(OutboxItem).where(OutboxItem.message_id == msg.id).with_for_update())
    conv = session.get(Conversation, msg.conversation_id)
    assert conv is not None
    if item is None and msg.delivery_status == DeliveryStatus.FAILED.value and not msg.private \
            and msg.direction == Direction.OUT.value and msg.channel in PROVIDER_CHANNELS:
        # It could not even be queued (no number, no channel, the window): try to queue it now.
        msg.error_code = msg.error_message = None
        msg.delivery_status = DeliveryStatus.QUEUED.value
        queued = do_enqueue_outbound(session, conv, msg, strict=True)
        assert queued is not None
        publish_on_commit(session, MessageUpdated(conv.id, conv.team_id, msg.id, "delivery_status"))
        audit(session, "message.retry", actor=actor, conversation=conv, message_id=msg.id)
        return queued
    if item is None or item.state != OutboxState.FAILED.value or msg.delivery_status != DeliveryStatus.FAILED.value:
        raise InvalidState("Only a message that failed to send can be retried.", code="not_failed")
    if msg.channel == "whatsapp" and not item.payload.get("template") \
            and not whatsapp_window(session, conv.contact_id)[0]:
        raise InvalidState("WhatsApp's 24-hour window is closed; send an approved template instead.",
                           code="window_closed")
    now = utcnow()
    item.state = OutboxState.PENDING.value
    item.attempts = 0
    item.next_attempt_at = now
    item.updated_at = now
    item.error_code = item.last_error = None
    msg.error_code = msg.error_message = None
    msg.delivery_status = DeliveryStatus.QUEUED.value
    publish_on_commit(session, MessageUpdated(conv.id, conv.team_id, msg.id, "delivery_status"))
    publish_on_commit(session, OutboundQueued(item.id))
    audit(session, "message.retry", actor=actor, conversation=conv, message_id=msg.id)
    return item


def give_up_unconfirmed(session: Session, item_id: int, token: str, *, older_than: datetime) -> bool:
    """An unconfirmed send that no callback confirmed in time: shown failed for the agent to decide."""
    held = _held(session, item_id, token)
    if held is None:
        return False
    item, msg, conv = held
    started = item.attempt_started_at or item.updated_at
    if started.tzinfo is None:
        from datetime import UTC

        started = started.replace(tzinfo=UTC)
    if started > older_than:  # not yet: back to waiting for a status callback
        item.state = OutboxState.UNCONFIRMED.value
        item.claim_token = None
        item.lease_until = None
        item.updated_at = utcnow()
        return False
    _fail(session, item, msg, conv, "unconfirmed",
          "The provider never confirmed this message; it may or may not have been delivered. "
          "Retry sends it again.")
    return True


def failed_outbox_ids(session: Session, conversation_id: int) -> list[int]:
    return list(session.scalars(select(OutboxItem.message_id).where(
        and_(OutboxItem.conversation_id == conversation_id, OutboxItem.state == OutboxState.FAILED.value))))


def pending_count(session: Session) -> int:
    return session.scalar(select(func.count(OutboxItem.id)).where(or_(*(OutboxItem.state == s for s in ACTIVE)))) or 0
