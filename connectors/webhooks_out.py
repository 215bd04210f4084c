"""Outgoing signed requests: webhook deliveries (the worker that drains `webhook_deliveries`) and
conversation actions; `sign` is also how the `http` bot engine signs its turns.

Every request goes through the outbound guard (connectors/outbound.py): an admin's URL cannot reach
loopback, private or metadata addresses unless `PARLEY_OUTBOUND_ALLOW` names them, and redirects are not
followed. The signature: `X-Parley-Timestamp: <unix seconds>` and
`X-Parley-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>`; receivers recompute it
over the raw bytes and refuse old timestamps (replays). `X-Parley-Delivery` stays the same across retries.

Framework-free, like the delivery worker: runs as a thread in `parley run` and `parley worker`; without a
thread (tests, one-shot commands) `notify()` runs one pass through the app's jobs.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from connectors.outbound import OutboundFailed, OutboundGuard, OutboundRefused, OutboundTooLarge
from connectors.polling import PollingWorker
from models.db import Database
from models.integrations.deliveries import Due, Outcome, Policy, claim_due, expire_leases, record_attempt
from models.schema.base import utcnow

log = logging.getLogger(__name__)

BATCH = 20
MAX_ANSWER_BYTES = 64 * 1024
USER_AGENT = "Parley-Webhooks/1"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def signed_headers(secret: str | None, body: bytes, *, delivery_id: str | None = None,
                   now: int | None = None) -> dict[str, str]:
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
    if secret:
        ts = int(time.time()) if now is None else now
        headers["X-Parley-Timestamp"] = str(ts)
        headers["X-Parley-Signature"] = sign(secret, ts, body)
    if delivery_id:
        headers["X-Parley-Delivery"] = delivery_id
    return headers


def post_signed(guard: OutboundGuard, url: str, secret: str | None, body: bytes, *, timeout: float,
                delivery_id: str | None = None, event: str | None = None) -> Outcome:
    """One signed POST; never raises for what the far side did (refused, timeout, HTTP error)."""
    headers = signed_headers(secret, body, delivery_id=delivery_id)
    if event:
        headers["X-Parley-Event"] = event
    started, clock = utcnow(), time.perf_counter()
    try:
        answer = guard.post(url, content=body, headers=headers, timeout=timeout, max_bytes=MAX_ANSWER_BYTES)
    except OutboundRefused as exc:
        return Outcome(None, "", f"refused: {exc}", _ms(clock), started)
    except OutboundTooLarge as exc:
        return Outcome(None, "", f"the answer is too large ({exc})", _ms(clock), started)
    except OutboundFailed as exc:
        reason = f"no answer within {timeout:g} s" if "in time" in str(exc) or "within" in str(exc) else str(exc)
        return Outcome(None, "", reason, _ms(clock), started)
    except (httpx.InvalidURL, ValueError) as exc:  # a URL saved before a stricter check: said, never raised
        return Outcome(None, "", f"invalid URL ({type(exc).__name__})", _ms(clock), started)
    return Outcome(answer.status_code, answer.text, None, _ms(clock), started)


def _ms(clock: float) -> float:
    return (time.perf_counter() - clock) * 1000


@dataclass(frozen=True)
class WebhookSettings:
    timeout_s: float
    poll_s: float
    lease_s: float
    policy: Policy
    outbound_allow: str = ""

    @classmethod
    def from_settings(cls, settings: Any) -> WebhookSettings:
        return cls(timeout_s=settings.webhook_timeout, poll_s=settings.webhook_poll,
                   lease_s=settings.webhook_timeout * 3 + 5,
                   policy=Policy(settings.webhook_max_attempts, settings.webhook_backoff,
                                 settings.webhook_backoff_max, settings.webhook_pause_after),
                   outbound_allow=settings.outbound_allow)

    def guard(self) -> OutboundGuard:
        return guard_with(self.outbound_allow)


def guard_with(outbound_allow: str) -> OutboundGuard:
    """Read per request, like the other guarded clients: the environment as it is now, plus the setting
    (which tests and `.env` files set without touching the process environment)."""
    env = OutboundGuard.from_env()
    extra = OutboundGuard.from_env({"PARLEY_OUTBOUND_ALLOW": outbound_allow})
    return OutboundGuard(allow_hosts=env.allow_hosts | extra.allow_hosts, allow_nets=env.allow_nets + extra.allow_nets)


class WebhookWorker(PollingWorker):
    """Claims due deliveries under a lease and sends them; any number may run against one database."""

    name = "parley-webhooks"
    batch = BATCH

    def __init__(self, db: Database, settings: WebhookSettings, submit: Callable[..., None]) -> None:
        super().__init__(submit)
        self.db = db
        self.settings = settings

    @property
    def poll_s(self) -> float:
        return self.settings.poll_s

    def one_pass(self) -> int:
        with self.db.transaction() as s:
            expired = expire_leases(s)
        if expired:
            log.warning("%d webhook deliveries were interrupted mid-request; sending them again", expired)
        with self.db.transaction() as s:
            token, due = claim_due(s, limit=BATCH, lease_s=self.settings.lease_s)
        for item in due:
            self.send(item, token)
        return len(due)

    def send(self, item: Due, token: str) -> str | None:
        event = _event_of(item.body)
        outcome = post_signed(self.settings.guard(), item.url, item.secret, item.body.encode(),
                              timeout=self.settings.timeout_s, delivery_id=item.public_id, event=event)
        with self.db.transaction() as s:
            state = record_attempt(s, item.id, token, outcome, self.settings.policy)
        if outcome.ok:
            log.info("webhook %s delivered (HTTP %s)", item.public_id, outcome.status_code)
        else:  # the URL is the admin's, logged; the secret never is
            log.info("webhook %s attempt %d failed: %s; now %s", item.public_id, item.attempt,
                     outcome.error or f"HTTP {outcome.status_code}", state)
        return state


def _event_of(body: str) -> str | None:
    try:
        value = json.loads(body).get("event")
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None
