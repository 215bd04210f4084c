"""Delivery statuses reported by providers (forward only) and an agent's Retry."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.audit import audit
from models.db import publish_on_commit
from models.errors import InvalidState
from models.events import MessageUpdated, OutboundQueued
from models.outbox.enqueue import PROVIDER_CHANNELS, do_enqueue_outbound, whatsapp_window
from models.schema.accounts import User
from models.schema.base import utcnow
from models.schema.channels import (
    DELIVERY_RANK,
    OutboxItem,
    OutboxState,
    StatusReport,
)
from models.schema.conversations import Conversation, DeliveryStatus, Direction, Message


def _advance(session: Session, conv: Conversation, msg: Message, status: str, *, force: bool = False) -> bool:
    current = DELIVERY_RANK.get(msg.delivery_status, -1)
    if not force and DELIVERY_RANK.get(status, -1) <= current:
        return False
    if msg.delivery_status == status:
        return False
    msg.delivery_status = status
    publish_on_commit(session, MessageUpdated(conv.id, conv.team_id, msg.id, "delivery_status"))
    return True


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
