"""Payments at the web edge: Stripe's webhook (`POST /webhooks/stripe`) and the page Stripe sends the
customer back to (`GET /pay/<invoice id>`).

The webhook is a thin adapter, in the order of console/webhooks.py: verify `Stripe-Signature` over the raw
body (400, nothing stored: Stripe's convention for a bad signature) → parse (400) → apply and commit (the
event id is stored with the change, so a replay answers 200 and changes nothing) → acknowledge. A commit
that fails is a 500 Stripe retries; Stripe is never told "received" for an event that was not kept.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response, jsonify, render_template, request
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from connectors import stripe
from connectors.base import MalformedPayload
from console.services import services
from models.invoices.payments import do_apply_payment
from models.invoices.shapes import invoice_json
from models.schema.invoices import Invoice

log = logging.getLogger(__name__)
bp = Blueprint("payments", __name__)


def _refuse(status: int, code: str, message: str) -> tuple[Response, int]:
    return jsonify({"error": {"code": code, "message": message}}), status


@bp.post("/webhooks/stripe")
def stripe_webhook() -> Any:
    raw = request.get_data(cache=True)
    config = stripe.StripeConfig.from_settings(services().settings)
    if not stripe.verify_signature(config.webhook_secret, raw, request.headers.get("Stripe-Signature")):
        return _refuse(400, "bad_signature", "Missing, old or invalid Stripe-Signature.")
    try:
        update = stripe.parse_event(raw)
    except MalformedPayload as exc:
        return _refuse(400, "malformed", str(exc))
    try:
        with services().db.transaction() as s:
            outcome = do_apply_payment(s, update)
    except IntegrityError:  # the same event, delivered twice at once: the other delivery applied it
        outcome = "replay"
    log.info("stripe event %s (%s): %s", update.event_id, update.type, outcome)
    return jsonify({"received": True, "outcome": outcome})


@bp.get("/pay/<invoice_id>")
def payment_page(invoice_id: str) -> Any:
    """Where Stripe sends the customer back: the invoice's number, total and status, nothing else (the
    unguessable invoice id is the only key, as a customer's chat link is)."""
    result = request.args.get("result")
    with services().db.session() as s:
        inv = s.scalar(select(Invoice).where(Invoice.public_id == invoice_id[:40]))
        data = invoice_json(inv, "") if inv is not None else None
    return render_template("payment.html", invoice=data, result=result), (200 if data else 404)
