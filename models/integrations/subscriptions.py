"""Admins' webhook subscriptions: which URL gets which events. The secret that signs deliveries is made
here and shown once, in the answer to the creation; never again, never logged."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any, Protocol
from urllib.parse import urlsplit
from weakref import WeakKeyDictionary

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from models.audit import audit
from models.db import publish_on_commit
from models.errors import InvalidInput, NotFound
from models.events import WebhookSubscriptionsChanged
from models.integrations.catalog import EVENTS, RESERVED
from models.schema.accounts import User
from models.schema.base import utcnow
from models.schema.integrations import DeliveryState, WebhookDelivery, WebhookSubscription

MAX_SUBSCRIPTIONS = 50
# Every commit that publishes events asks which subscriptions want them. Most deployments subscribe to few
# events, so each process remembers which events anyone wants, and a commit none of whose events is wanted
# pays no query. A change to the subscriptions is published after commit (`WebhookSubscriptionsChanged`)
# and forgets the memory in this process at once; with Redis, `console/runtime/subscription_sync.py` hears
# it in every process, and while it is listening the memory is kept until told. Without that listener
# (no Redis, or Redis down) the memory lasts `WANTED_TTL_S`: a subscription made in another process
# within that window of an event misses the event.
WANTED_TTL_S = 2.0
_wanted: WeakKeyDictionary[Any, tuple[float, frozenset[str]]] = WeakKeyDictionary()
_wanted_lock = threading.Lock()


class ChangeFeed(Protocol):
    """Tells this process about subscription changes made in others (see console/runtime/subscription_sync)."""

    def ensure_listening(self) -> bool:
        """Start listening in this process if not yet; True while changes are being heard."""
        ...


_feed: ChangeFeed | None = None


def use_change_feed(feed: ChangeFeed | None) -> None:
    global _feed
    _feed = feed
    forget_all_wanted()


def forget_all_wanted() -> None:
    with _wanted_lock:
        _wanted.clear()

def check_url(raw: Any, field: str = "url") -> str:
    """An absolute http(s) URL, without credentials in it. Where it may lead (no private addresses) is
    the outbound guard's decision at send time, when the name is resolved."""
    if not isinstance(raw, str) or not raw.strip() or len(raw) > 2000:
        raise InvalidInput(f"'{field}' must be an http(s) URL of at most 2000 characters.", code="bad_url")
    url = raw.strip()
    try:
        parts = urlsplit(url)
        host = parts.hostname
        _ = parts.port
    except ValueError:
        raise InvalidInput(f"'{field}' is not a valid URL.", code="bad_url") from None
    if parts.scheme not in ("http", "https") or not host:
        raise InvalidInput(f"'{field}' must be an http(s) URL with a host.", code="bad_url")
    if parts.username or parts.password:
        raise InvalidInput(f"'{field}' may not carry a user name or password; the signature authenticates us.",
                           code="bad_url")
    if any(ch.isspace() or not ch.isprintable() for ch in url):
        raise InvalidInput(f"'{field}' may not contain spaces or control characters.", code="bad_url")
    return url


def check_events(raw: Any) -> list[str]:
    if not isinstance(raw, list) or not raw or not all(isinstance(e, str) for e in raw):
        raise InvalidInput(f"'events' must be a non-empty list of: {', '.join(EVENTS)}.", code="bad_events")
    unknown = [e for e in raw if e not in EVENTS]
    if unknown:
        raise InvalidInput(f"Unknown event(s): {', '.join(unknown[:5])[:200]}. Known: {', '.join(EVENTS)}.",
                           code="bad_events")
    return sorted(set(raw), key=list(EVENTS).index)


def subscription_json(sub: WebhookSubscription, *, with_secret: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": sub.id, "url": sub.url, "events": list(sub.events), "description": sub.description,
        "active": sub.active, "paused": sub.paused_at is not None, "pause_reason": sub.pause_reason,
        "paused_at": _iso(sub.paused_at), "failing_since": _iso(sub.failing_since),
        "created_at": _iso(sub.created_at), "updated_at": _iso(sub.updated_at),
        "reserved_events": [e for e in sub.events if e in RESERVED],
    }
    if with_secret:
        out["secret"] = sub.secret
    return out


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def access_subscription(session: Session, subscription_id: int, *, lock: bool = False) -> WebhookSubscription:
    stmt = select(WebhookSubscription).where(WebhookSubscription.id == subscription_id)
    sub = session.scalar(stmt.with_for_update() if lock else stmt)
    if sub is None:
        raise NotFound("No such webhook subscription.")
    return sub


def do_create_subscription(session: Session, actor: User, url: str, events: Sequence[str],
                           description: str = "") -> WebhookSubscription:
    if (session.scalar(select(func.count(WebhookSubscription.id))) or 0) >= MAX_SUBSCRIPTIONS:
        raise InvalidInput(f"At most {MAX_SUBSCRIPTIONS} webhook subscriptions.", code="too_many")
    now = utcnow()
    sub = WebhookSubscription(url=url, events=list(events), description=description[:200],
                              created_by_id=actor.id, created_at=now, updated_at=now)
    session.add(sub)
    session.flush()
    forget_wanted(session)
    audit(session, "webhook.subscribed", actor=actor, subscription_id=sub.id, url=url, events=list(events))
    return sub


def do_update_subscription(session: Session, actor: User, sub: WebhookSubscription, *, url: str | None = None,
                           events: Sequence[str] | None = None, description: str | None = None,
                           active: bool | None = None) -> WebhookSubscription:
    """Change a subscription. `active` True also lifts a pause: what waited is sent at once."""
    now = utcnow()
    if url is not None:
        sub.url = url
    if events is not None:
        sub.events = list(events)
    if description is not None:
        sub.description = description[:200]
    if active is not None:
        resumed = active and (not sub.active or sub.paused_at is not None)
        sub.active = active
        if resumed:
            sub.paused_at = sub.pause_reason = sub.failing_since = None
            session.execute(update(WebhookDelivery).where(WebhookDelivery.subscription_id == sub.id,
                                                          WebhookDelivery.state == DeliveryState.PENDING.value)
                            .values(next_attempt_at=now).execution_options(synchronize_session=False))
    sub.updated_at = now
    forget_wanted(session)
    audit(session, "webhook.updated", actor=actor, subscription_id=sub.id, url=sub.url, events=list(sub.events),
          active=sub.active)
    return sub


def do_delete_subscription(session: Session, actor: User, sub: WebhookSubscription) -> None:
    audit(session, "webhook.deleted", actor=actor, subscription_id=sub.id, url=sub.url)
    session.delete(sub)
    forget_wanted(session)


def forget_wanted(session: Session) -> None:
    """A change in this transaction: forgotten here now, and everywhere once it commits."""
    with _wanted_lock:
        _wanted.pop(session.get_bind(), None)
    publish_on_commit(session, WebhookSubscriptionsChanged())


def subscribers(session: Session, names: set[str]) -> list[WebhookSubscription]:
    """Active subscriptions wanting any of `names` (JSON lists are filtered here, on every database)."""
    bind = session.get_bind()
    with _wanted_lock:
        known = _wanted.get(bind)
    fresh = known is not None and ((_feed is not None and _feed.ensure_listening())
                                   or time.monotonic() - known[0] < WANTED_TTL_S)
    if fresh and known is not None and not names & known[1]:
        return []
    subs = list(session.scalars(select(WebhookSubscription).where(WebhookSubscription.active.is_(True))
                                .order_by(WebhookSubscription.id)))
    with _wanted_lock:
        _wanted[bind] = (time.monotonic(), frozenset(e for sub in subs for e in sub.events or ()))
    return [s for s in subs if names.intersection(s.events or ())]
