"""Durable webhook deliveries: written with the change they report, claimed by a worker under a lease,
retried with back-off, logged per attempt; a subscription failing for too long is paused.

Why rows written before the commit (`enqueue_deliveries`, a `models.db.CommitWriter`) and not by a
listener after it: events are published after commit, so a crash in between would lose the webhook. The
rows commit with the change or not at all, with bodies built from the state the change left.

The guarantee is *at least once*: a worker that dies mid-request leaves its lease to expire and the
delivery is sent again, with the same `X-Parley-Delivery` id, so receivers drop duplicates by it.
"""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from models.audit import audit
from models.db import publish_on_commit
from models.errors import InvalidState, NotFound
from models.events import Event, WebhooksQueued
from models.integrations.catalog import envelope, event_data, event_names
from models.integrations.subscriptions import subscribers
from models.schema.base import utcnow
from models.schema.integrations import DeliveryState, WebhookAttempt, WebhookDelivery, WebhookSubscription

RESPONSE_EXCERPT = 1024


def enqueue_deliveries(session: Session, events: list[Event]) -> None:
    """Before the commit: one delivery per (event, subscription wanting it). Runs inside the caller's
    transaction; a failure here fails that commit, as the outbox does (nothing half-written)."""
    named = [(name, evt) for evt in events for name in event_names(evt)]
    if not named:
        return
    subs = subscribers(session, {name for name, _ in named})
    if not subs:
        return
    count = 0
    now = utcnow()
    for name, evt in named:
        wanting = [s for s in subs if name in s.events]
        if not wanting:
            continue
        data = event_data(session, name, evt)
        if data is None:
            continue
        body = envelope(name, data)  # one event id, the same body for every subscriber
        for sub in wanting:
            session.add(WebhookDelivery(subscription_id=sub.id, event=name, body=body, created_at=now,
                                        updated_at=now, next_attempt_at=now))
            count += 1
    if count:
        publish_on_commit(session, WebhooksQueued(count))


@dataclass(frozen=True)
class Due:
    """What a worker needs to send one claimed delivery (read in the claim's transaction)."""

    id: int
    public_id: str
    url: str
    secret: str
    body: str
    attempt: int


def claim_due(session: Session, *, limit: int, lease_s: float, now: datetime | None = None) -> tuple[str, list[Due]]:
    """Claim up to `limit` due deliveries of active subscriptions (commit right after). A compare-and-set
    on `state` (and `SKIP LOCKED` on PostgreSQL), so several workers never take the same one."""
    now = now or utcnow()
    stmt = (select(WebhookDelivery.id).join(WebhookSubscription,
                                            WebhookSubscription.id == WebhookDelivery.subscription_id)
            .where(WebhookDelivery.state == DeliveryState.PENDING.value, WebhookDelivery.next_attempt_at <= now,
                   WebhookSubscription.active.is_(True))
            .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id).limit(limit))
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True, of=WebhookDelivery)
    ids = list(session.scalars(stmt))
    token = secrets.token_hex(16)
    if not ids:
        return token, []
    session.execute(update(WebhookDelivery)
                    .where(WebhookDelivery.id.in_(ids), WebhookDelivery.state == DeliveryState.PENDING.value)
                    .values(state=DeliveryState.SENDING.value, claim_token=token,
                            attempts=WebhookDelivery.attempts + 1, lease_until=now + timedelta(seconds=lease_s),
                            updated_at=now)
                    .execution_options(synchronize_session=False))
    rows = session.execute(select(WebhookDelivery, WebhookSubscription)
                           .join(WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id)
                           .where(WebhookDelivery.id.in_(ids), WebhookDelivery.claim_token == token)
                           .order_by(WebhookDelivery.id)
                           .execution_options(populate_existing=True)).all()
    return token, [Due(d.id, d.public_id, s.url, s.secret, d.body, d.attempts) for d, s in rows]


def expire_leases(session: Session, now: datetime | None = None) -> int:
    """Deliveries whose worker died mid-request go back in line (at least once: same delivery id)."""
    now = now or utcnow()
    result = session.execute(update(WebhookDelivery)
                             .where(WebhookDelivery.state == DeliveryState.SENDING.value,
                                    WebhookDelivery.lease_until < now)
                             .values(state=DeliveryState.PENDING.value, claim_token=None, lease_until=None,
                                     next_attempt_at=now, updated_at=now, last_error="interrupted")
                             .execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0) or 0)


@dataclass(frozen=True)
class Outcome:
    """What one attempt got: a status and the start of the answer, or an error before any answer."""

    status_code: int | None
    response: str
    error: str | None
    duration_ms: float
    started_at: datetime

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


@dataclass(frozen=True)
class Policy:
    max_attempts: int
    backoff_s: float
    backoff_max_s: float
    pause_after_s: float


def record_attempt(session: Session, delivery_id: int, token: str, outcome: Outcome, policy: Policy) -> str | None:
    """Log the attempt and settle the delivery: delivered, again later, or failed. A failure while the
    subscription has been failing for `pause_after_s` pauses it (audited; admins see it). Returns the
    delivery's new state, or None when the claim was lost (another worker took over)."""
    delivery = session.scalar(select(WebhookDelivery).where(WebhookDelivery.id == delivery_id,
                                                            WebhookDelivery.claim_token == token,
                                                            WebhookDelivery.state == DeliveryState.SENDING.value)
                              .with_for_update())
    if delivery is None:
        return None
    sub = session.get(WebhookSubscription, delivery.subscription_id, with_for_update=True)
    now = utcnow()
    session.add(WebhookAttempt(delivery_id=delivery.id, number=delivery.attempts, started_at=outcome.started_at,
                               duration_ms=round(outcome.duration_ms, 1), status_code=outcome.status_code,
                               response=outcome.response[:RESPONSE_EXCERPT],
                               error=(outcome.error or None) and str(outcome.error)[:500]))
    delivery.claim_token = None
    delivery.lease_until = None
    delivery.updated_at = now
    delivery.last_status_code = outcome.status_code
    if outcome.ok:
        delivery.state = DeliveryState.DELIVERED.value
        delivery.delivered_at = now
        delivery.last_error = None
        if sub is not None:
            sub.failing_since = None
        return delivery.state
    delivery.last_error = (outcome.error or f"HTTP {outcome.status_code}")[:500]
    if delivery.attempts >= policy.max_attempts:
        delivery.state = DeliveryState.FAILED.value
    else:
        delay = min(policy.backoff_max_s, policy.backoff_s * (2 ** max(0, delivery.attempts - 1)))
        delivery.state = DeliveryState.PENDING.value
        delivery.next_attempt_at = now + timedelta(seconds=delay * random.uniform(0.9, 1.1))
    if sub is not None:
        _note_failure(session, sub, now, policy)
    return delivery.state


def _note_failure(session: Session, sub: WebhookSubscription, now: datetime, policy: Policy) -> None:
    if sub.failing_since is None:
        sub.failing_since = now
        return
    if sub.paused_at is None and now - sub.failing_since >= timedelta(seconds=policy.pause_after_s):
        hours = policy.pause_after_s / 3600
        sub.active = False
        sub.paused_at = now
        sub.pause_reason = f"Every delivery failed for {hours:g} h; paused. Fix the receiver, then resume."
        sub.updated_at = now
        audit(session, "webhook.paused", subscription_id=sub.id, url=sub.url,
              failing_since=sub.failing_since.isoformat())


def do_retry_delivery(session: Session, actor: Any, subscription_id: int, public_id: str) -> WebhookDelivery:
    """An admin sends a failed delivery again (same id, attempts counted afresh)."""
    delivery = session.scalar(select(WebhookDelivery).where(WebhookDelivery.public_id == public_id,
                                                            WebhookDelivery.subscription_id == subscription_id)
                              .with_for_update())
    if delivery is None:
        raise NotFound("No such delivery.")
    if delivery.state != DeliveryState.FAILED.value:
        raise InvalidState("Only a delivery that failed can be retried; pending ones are retried by themselves.",
                           code="not_failed")
    now = utcnow()
    delivery.state = DeliveryState.PENDING.value
    delivery.attempts = 0
    delivery.next_attempt_at = now
    delivery.updated_at = now
    audit(session, "webhook.retry", actor=actor, subscription_id=subscription_id, delivery=public_id)
    publish_on_commit(session, WebhooksQueued(1))
    return delivery


def deliveries_json(session: Session, subscription_id: int, *, limit: int = 50, state: str | None = None,
                    public_id: str | None = None) -> list[dict[str, Any]]:
    """The delivery log, newest first, with every attempt's status and the start of its answer."""
    stmt = select(WebhookDelivery).where(WebhookDelivery.subscription_id == subscription_id)
    if state:
        stmt = stmt.where(WebhookDelivery.state == state)
    if public_id:
        stmt = stmt.where(WebhookDelivery.public_id == public_id)
    rows = list(session.scalars(stmt.order_by(WebhookDelivery.id.desc()).limit(limit)))
    attempts: dict[int, list[WebhookAttempt]] = {}
    if rows:
        for a in session.scalars(select(WebhookAttempt).where(WebhookAttempt.delivery_id.in_([r.id for r in rows]))
                                 .order_by(WebhookAttempt.id)):
            attempts.setdefault(a.delivery_id, []).append(a)
    return [{"id": d.public_id, "event": d.event, "state": d.state, "attempts": d.attempts,
             "next_attempt_at": _iso(d.next_attempt_at) if d.state == DeliveryState.PENDING.value else None,
             "last_status_code": d.last_status_code, "last_error": d.last_error,
             "created_at": _iso(d.created_at), "delivered_at": _iso(d.delivered_at), "body": d.body,
             "log": [{"number": a.number, "started_at": _iso(a.started_at), "duration_ms": a.duration_ms,
                      "status_code": a.status_code, "response": a.response, "error": a.error}
                     for a in attempts.get(d.id, [])]}
            for d in rows]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
