"""REST API of invoices and checkouts under /api/v1 (shapes in console/api/schemas/invoices.py):

- `POST /conversations/<id>/invoices`: send an invoice (line items, tax, due date) or a checkout (one amount)
  into the conversation: a Stripe Checkout Session is made first, then the invoice and the agent message
  carrying its link are stored together; 409 `payments_not_configured` without PARLEY_STRIPE_SECRET_KEY,
  502 when Stripe refuses (nothing stored either way);
- `GET /conversations/<id>/invoices`, `GET /invoices/<id>`, `GET /invoices?status=`: with their live status;
- `POST /invoices/<id>/void`: admins; the Stripe session is expired, then the invoice is void.

Who may send: anyone who sees the conversation (the visibility rule); others get 404, as for the conversation.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response, jsonify, request
from sqlalchemy.exc import SQLAlchemyError

from connectors.stripe import ProviderError, StripeConfig, create_session, expire_session
from console.api.declare import api, json_body, query_args
from console.api.schemas import invoices as si
from console.auth import api_user
from console.services import services
from models.errors import Conflict, InvalidInput, InvalidState, ParleyError
from models.invoices.invoices import (
    Item,
    access_invoice,
    check_draft,
    check_may_invoice,
    check_may_void,
    do_send_invoice,
    do_void,
    invoices_of,
    visible_invoices,
)
from models.invoices.shapes import invoice_json
from models.schema.base import utcnow
from models.schema.invoices import InvoiceKind, new_invoice_id

log = logging.getLogger(__name__)
bp = Blueprint("api_invoices", __name__, url_prefix="/api/v1")


def _config() -> StripeConfig:
    config = StripeConfig.from_settings(services().settings)
    if not config.configured:
        raise Conflict("Payments are not configured here (PARLEY_STRIPE_SECRET_KEY); ask an admin.",
                       code="payments_not_configured")
    return config


def _provider_failed(exc: ProviderError) -> tuple[Response, int]:
    return jsonify({"error": {"code": "provider_error", "message": str(exc)}}), 502


def _body() -> si.InvoiceIn:
    """The request, validated; a wrong amount (a float, a string, below 1) is 422 with the field named."""
    try:
        return json_body(si.InvoiceIn)
    except InvalidInput as exc:
        if exc.code == "bad_json":
            raise
        raise InvalidState(exc.message, code="invalid_invoice") from None


def _items(body: si.InvoiceIn) -> list[Item]:
    if body.kind == InvoiceKind.CHECKOUT.value:
        if body.amount is None or body.items:
            raise InvalidState("A checkout takes an `amount` (and an optional `description`), not items.",
                               code="invalid_invoice")
        return [Item(body.description or "Payment", 1, body.amount)]
    if body.amount is not None:
        raise InvalidState("An invoice takes `items`; `amount` is for a checkout.", code="invalid_invoice")
    return [Item(i.description, i.quantity, i.unit_amount) for i in body.items]


def _links(invoice_id: str) -> tuple[str, str]:
    base = (services().settings.resolved().public_url or request.host_url).rstrip("/")
    return f"{base}/pay/{invoice_id}?result=paid", f"{base}/pay/{invoice_id}?result=cancelled"


def _json(public_id: str, user: Any) -> dict[str, Any]:
    with services().db.session() as s:
        inv, conv = access_invoice(s, user, public_id)
        return invoice_json(inv, conv.public_id)


@bp.post("/conversations/<public_id>/invoices")
@api("Send an invoice or a checkout (a payment link) into the conversation", si.InvoiceOut, status=201,
     body=si.InvoiceIn, errors=(409, 422, 502),
     description="Amounts are JSON integers in minor units (1250 = 12.50); a float or a string is 422. The "
                 "message carrying the link goes out like any agent reply (webchat, SMS, WhatsApp). 409 "
                 "`payments_not_configured` without PARLEY_STRIPE_SECRET_KEY; 502 when Stripe refuses.")
def send_invoice(public_id: str) -> tuple[Response, int]:
    user = api_user()
    body = _body()
    with services().db.session() as s:
        check_may_invoice(s, user, public_id)  # 404 / closed, before anything is asked of Stripe
    try:
        draft = check_draft(body.kind, body.currency, _items(body), body.tax_rate_bps, body.due_date,
                            utcnow().date())
    except InvalidInput as exc:  # what the invoice says is wrong: 422 like a bad amount, with its own code
        raise InvalidState(exc.message, code=exc.code) from None
    config = _config()
    invoice_id = new_invoice_id()
    expires_at = draft.link_expiry(utcnow())
    success, cancel = _links(invoice_id)
    try:
        session = create_session(config, draft, invoice_id=invoice_id, success_url=success, cancel_url=cancel,
                                 expires_at=expires_at)
    except ProviderError as exc:
        return _provider_failed(exc)
    try:
        with services().db.transaction() as s:
            conv = check_may_invoice(s, user, public_id, lock=True)
            do_send_invoice(s, user, conv, draft, public_id=invoice_id, session_id=session.id, url=session.url,
                            expires_at=expires_at, channel=body.channel)
    except (ParleyError, SQLAlchemyError):
        _expire_quietly(config, session.id)  # nothing was stored: the link must not work either
        raise
    return jsonify(_json(invoice_id, user)), 201


def _expire_quietly(config: StripeConfig, session_id: str) -> None:
    try:
        expire_session(config, session_id)
    except ProviderError as exc:  # it expires on its own within 24 hours; no invoice names it
        log.warning("checkout session %s of an invoice not stored could not be expired: %s", session_id, exc)


@bp.get("/conversations/<public_id>/invoices")
@api("The conversation's invoices and checkouts, oldest first, with their status", si.InvoiceList)
def conversation_invoices(public_id: str) -> Response:
    user = api_user()
    with services().db.session() as s:
        conv = check_may_invoice(s, user, public_id, open_only=False)
        return jsonify({"invoices": [invoice_json(i, conv.public_id) for i in invoices_of(s, conv.id)]})


@bp.get("/invoices")
@api("Invoices of the conversations the caller sees, newest first (`status=unpaid`: the ones awaited)",
     si.InvoiceList, query=si.InvoiceQuery)
def list_invoices() -> Response:
    user = api_user()
    args = query_args(si.InvoiceQuery)
    with services().db.session() as s:
        found = visible_invoices(s, user, status=args.status, limit=args.limit)
        return jsonify({"invoices": [invoice_json(inv, public_id) for inv, public_id in found]})


@bp.get("/invoices/<invoice_id>")
@api("An invoice or checkout, with its status", si.InvoiceOut)
def get_invoice(invoice_id: str) -> Response:
    return jsonify(_json(invoice_id, api_user()))


@bp.post("/invoices/<invoice_id>/void")
@api("Void an unpaid invoice (admins): its payment link stops working", si.InvoiceOut, errors=(403, 409, 502),
     description="409 `not_unpaid` once it is paid, expired or void; 502 when Stripe cannot expire the link "
                 "(e.g. the customer is paying right now).")
def void_invoice(invoice_id: str) -> Response | tuple[Response, int]:
    user = api_user()
    with services().db.session() as s:
        inv, _ = access_invoice(s, user, invoice_id)
        check_may_void(user, inv)
        session_id = inv.provider_session_id
    config = _config()
    if session_id:
        try:
            expire_session(config, session_id)
        except ProviderError as exc:
            return _provider_failed(exc)
    with services().db.transaction() as s:
        inv, conv = access_invoice(s, user, invoice_id, lock=True)
        do_void(s, user, conv, inv)
    return jsonify(_json(invoice_id, user))
