"""The delivery worker's side of the outbox: claim due items under a lease, record what the provider said."""

from __future__ import annotations

import random
import secrets
from datetime import datetime, timedelta

from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session, aliased

from models.outbox.status import _advance
from models.schema.base import utcnow
from models.schema.channels import (
    OutboxItem,
    OutboxState,
)
from models.schema.conversations import Conversation, DeliveryStatus, Message

ACTIVE = (OutboxState.PENDING.value, OutboxState.SENDING.value, OutboxState.UNCONFIRMED.value)


def claim_due(session: Session, *, limit: int, lease_s: float, now: datetime | None = None) -> tuple[str, list[int]]:
    """Claim up to `limit` due rows (commit the session right after). Safe with several workers:
    PostgreSQL skips rows another worker has locked; everywhere the claim is a compare-and-set on
    `state`, and the caller keeps only the rows carrying its token."""
    now = now or utcnow()
    earlier = aliased(OutboxItem)
    blocked = exists().where(earlier.conversation_id == OutboxItem.conversation_id, earlier.id < OutboxItem.id,
                             earlier.state.in_(ACTIVE))
    due = (select(OutboxItem.id)
           .where(OutboxItem.state == OutboxState.PENDING.value, OutboxItem.next_attempt_at <= now, ~blocked)
           .order_by(OutboxItem.next_attempt_at, OutboxItem.id).limit(limit))
    if session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True, of=OutboxItem)
    token = secrets.token_hex(16)
    # One statement: the due rows' ids, taken and returned (three before: the look, the UPDATE, and a look
    # for the rows that carry the token); the state in the WHERE keeps the compare-and-set.
    claimed = session.scalars(update(OutboxItem)
                              .where(OutboxItem.id.in_(due.scalar_subquery()),
                                     OutboxItem.state == OutboxState.PENDING.value)
                              .values(state=OutboxState.SENDING.value, claim_token=token,
                                      attempts=OutboxItem.attempts + 1, lease_until=now + timedelta(seconds=lease_s),
                                      attempt_started_at=now, updated_at=now)
                              .returning(OutboxItem.id)
                              .execution_options(synchronize_session=False))
    return token, sorted(claimed)


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
    """The row still claimed with `token` (locked), with its message and conversation: one statement."""
    row = session.execute(
        select(OutboxItem, Message, Conversation)
        .join(Message, Message.id == OutboxItem.message_id)
        .join(Conversation, Conversation.id == OutboxItem.conversation_id)
        .where(OutboxItem.id == item_id, OutboxItem.claim_token == token,
               OutboxItem.state == OutboxState.SENDING.value)
        .with_for_update(of=OutboxItem)).first()
    if row is None:
        return None
    item, msg, conv = row
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
