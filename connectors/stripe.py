"""Stripe Checkout, spoken over HTTP: create a Checkout Session (the payment link of an invoice), expire
it (void), and verify and parse Stripe's signed webhook. No Flask in here, and no Stripe SDK: the few form
fields are written out, and the API base is configurable (`PARLEY_STRIPE_API_BASE`; tests run a local fake).

Requests go through the outbound guard (connectors/outbound.py); the configured API base's host is allowed
by name, as the other providers' bases are: the operator named it on purpose.

The webhook: `Stripe-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>…]`, each v1 an HMAC-SHA256 of
`"<t>.<raw body>"` with the endpoint's signing secret (`PARLEY_STRIPE_WEBHOOK_SECRET`); a timestamp more
than `TOLERANCE_S` away from now is refused (a replay of an old capture).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

from connectors.base import MalformedPayload
from connectors.outbound import OutboundFailed, OutboundGuard, OutboundRefused, OutboundTooLarge
from connectors.webhooks_out import guard_with
from models.invoices.invoices import Draft
from models.invoices.money import percent
from models.invoices.payments import PaymentUpdate

DEFAULT_API_BASE = "https://api.stripe.com"
TOLERANCE_S = 300
MAX_ANSWER_BYTES = 256 * 1024


class PaymentsNotConfigured(Exception):
    """No `PARLEY_STRIPE_SECRET_KEY`: nothing can be charged."""


class ProviderError(Exception):
    """Stripe refused the request or could not be reached; `message` is safe to show an agent."""


@dataclass(frozen=True)
class StripeConfig:
    secret_key: str | None
    webhook_secret: str | None
    api_base: str = DEFAULT_API_BASE
    outbound_allow: str = ""
    timeout_s: float = 10.0

    @classmethod
    def from_settings(cls, settings: Any) -> StripeConfig:
        s = settings.resolved()
        return cls(secret_key=s.stripe_secret_key, webhook_secret=s.stripe_webhook_secret,
                   api_base=(s.stripe_api_base or DEFAULT_API_BASE).rstrip("/"), outbound_allow=s.outbound_allow,
                   timeout_s=s.provider_timeout)

    @property
    def configured(self) -> bool:
        return bool(self.secret_key)

    def guard(self) -> OutboundGuard:
        base = guard_with(self.outbound_allow)
        host = (urlsplit(self.api_base).hostname or "").lower()
        return OutboundGuard(allow_hosts=base.allow_hosts | ({host} if host else set()), allow_nets=base.allow_nets)


@dataclass(frozen=True)
class Session:
    id: str
    url: str


def session_form(draft: Draft, *, invoice_id: str, success_url: str, cancel_url: str,
                 expires_at: datetime) -> list[tuple[str, str]]:
    """The form Stripe's `POST /v1/checkout/sessions` takes: one line item per invoice line, tax as a line
    of its own (so that what Stripe charges is exactly the invoice's integer total)."""
    lines = [(i.description, i.unit_amount, i.quantity) for i in draft.items]
    if draft.tax_amount:
        lines.append((f"Tax ({percent(draft.tax_rate_bps)} %)", draft.tax_amount, 1))
    form = [("mode", "payment"), ("success_url", success_url), ("cancel_url", cancel_url),
            ("client_reference_id", invoice_id), ("metadata[invoice_id]", invoice_id),
            ("payment_intent_data[metadata][invoice_id]", invoice_id),
            ("expires_at", str(int(expires_at.timestamp())))]
    for n, (name, amount, quantity) in enumerate(lines):
        p = f"line_items[{n}]"
        form += [(f"{p}[price_data][currency]", draft.currency), (f"{p}[price_data][unit_amount]", str(amount)),
                 (f"{p}[price_data][product_data][name]", name[:250]), (f"{p}[quantity]", str(quantity))]
    return form


def _call(config: StripeConfig, path: str, form: list[tuple[str, str]], *, idempotency_key: str | None = None
          ) -> dict[str, Any]:
    if not config.secret_key:
        raise PaymentsNotConfigured("PARLEY_STRIPE_SECRET_KEY is not set")
    headers = {"Authorization": f"Bearer {config.secret_key}",
               "Content-Type": "application/x-www-form-urlencoded", "Stripe-Version": "2024-06-20"}
    if idempotency_key:
        headers["Idempotency-Key"] = idempotency_key  # a retried create makes one session, not two
    try:
        answer = config.guard().post(f"{config.api_base}{path}", content=urlencode(form).encode(), headers=headers,
                                     timeout=config.timeout_s, max_bytes=MAX_ANSWER_BYTES)
    except (OutboundFailed, OutboundRefused, OutboundTooLarge) as exc:
        raise ProviderError(f"Stripe could not be reached ({exc}).") from exc
    try:
        body = json.loads(answer.content)
    except ValueError:
        body = None
    if answer.status_code >= 400 or not isinstance(body, dict):
        detail = body.get("error", {}).get("message") if isinstance(body, dict) else None
        raise ProviderError(f"Stripe refused the request ({answer.status_code}"
                            + (f": {str(detail)[:300]}" if detail else "") + ").")
    return body


def create_session(config: StripeConfig, draft: Draft, *, invoice_id: str, success_url: str, cancel_url: str,
                   expires_at: datetime) -> Session:
    body = _call(config, "/v1/checkout/sessions", session_form(draft, invoice_id=invoice_id, success_url=success_url,
                                                              cancel_url=cancel_url, expires_at=expires_at),
                 idempotency_key=f"parley-{invoice_id}")
    sid, url = body.get("id"), body.get("url")
    if not isinstance(sid, str) or not isinstance(url, str) or not url.startswith(("https://", "http://")):
        raise ProviderError("Stripe answered without a session id and URL.")
    return Session(sid, url)


def expire_session(config: StripeConfig, session_id: str) -> None:
    """The link stops working (void). A session already expired or completed answers 400: the caller
    decides (a completed one means the customer paid meanwhile)."""
    _call(config, f"/v1/checkout/sessions/{session_id}/expire", [])


# --- the webhook ---------------------------------------------------------------------------------


def verify_signature(secret: str | None, raw: bytes, header: str | None, *, now: float | None = None,
                     tolerance: int = TOLERANCE_S) -> bool:
    if not secret or not header:
        return False
    parts = [p.split("=", 1) for p in header.split(",") if "=" in p]
    stamps = [v.strip() for k, v in parts if k.strip() == "t"]
    sigs = [v.strip() for k, v in parts if k.strip() == "v1"]
    if len(stamps) != 1 or not stamps[0].isdigit() or not sigs:
        return False
    ts = int(stamps[0])
    if abs((time.time() if now is None else now) - ts) > tolerance:
        return False
    expected = hmac.new(secret.encode(), stamps[0].encode() + b"." + raw, hashlib.sha256).hexdigest()
    return any(hmac.compare_digest(expected, s) for s in sigs)


def signature_header(secret: str, raw: bytes, *, now: int | None = None) -> str:
    """What Stripe sends (for the fake and the tests)."""
    ts = int(time.time()) if now is None else now
    return f"t={ts},v1=" + hmac.new(secret.encode(), str(ts).encode() + b"." + raw, hashlib.sha256).hexdigest()


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def parse_event(raw: bytes) -> PaymentUpdate:
    """A verified event → what Parley acts on. Events of other types are kept (their id, so a replay is
    known) with `status` None."""
    try:
        event = json.loads(raw)
    except ValueError as exc:
        raise MalformedPayload("not JSON") from exc
    if not isinstance(event, dict) or not _str(event.get("id")) or not _str(event.get("type")):
        raise MalformedPayload("an event has an id and a type")
    if len(event["id"]) > 255:
        raise MalformedPayload("the event id is too long")
    data = event.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    if not isinstance(obj, dict):
        raise MalformedPayload("data.object is missing")
    kind: str = event["type"]
    base = {"event_id": event["id"], "type": kind}
    if kind.startswith("checkout.session."):
        raw_meta = obj.get("metadata")
        metadata: dict[str, Any] = raw_meta if isinstance(raw_meta, dict) else {}
        status = None
        if kind in ("checkout.session.completed", "checkout.session.async_payment_succeeded"):
            status = "paid" if obj.get("payment_status") == "paid" else None  # async methods: paid later
        elif kind == "checkout.session.expired":
            status = "expired"
        amount = obj.get("amount_total")
        return PaymentUpdate(**base, status=status, invoice_public_id=_str(metadata.get("invoice_id")),
                             session_id=_str(obj.get("id")), payment_id=_str(obj.get("payment_intent")),
                             amount=amount if isinstance(amount, int) and not isinstance(amount, bool) else None,
                             currency=_str(obj.get("currency")))
    if kind == "charge.refunded":
        # only a full refund refunds the invoice; a partial one leaves it paid (Stripe shows the rest)
        full = obj.get("refunded") is True
        return PaymentUpdate(**base, status="refunded" if full else None, payment_id=_str(obj.get("payment_intent")))
    return PaymentUpdate(**base, status=None)
