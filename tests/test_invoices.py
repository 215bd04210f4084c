"""Invoices and checkouts: an agent sends one into the conversation (webchat, SMS), the Stripe fake pays it
and the signed webhook moves it to paid (a forged signature is refused, a replay ignored), closing or
deleting before payment is refused, an admin voids, amounts are exact integers, other teams see nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from console.app import create_app
from console.runtime.jobs import InlineJobs
from models.db import Database
from models.integrations.subscriptions import forget_wanted
from models.schema.base import utcnow
from models.schema.conversations import Message
from models.schema.integrations import WebhookDelivery, WebhookSubscription
from models.schema.invoices import Invoice, ProviderEvent
from models.settings import Settings
from tests.support.actors import Agent
from tests.support.channels import CUSTOMER, make_channel_app, sms, twilio_post
from tests.support.fakes.stripe import FakeStripe, signed
from tests.support.fakes.twilio import FakeTwilio
from tests.support.routing import agent, console_events, conv, handoff, later, runner

KEY = "sk_test_parley"
WHSEC = "whsec_test_parley"


@pytest.fixture
def fake_stripe() -> Iterator[FakeStripe]:
    with FakeStripe(KEY) as fake:
        yield fake  # type: ignore[misc]


def _env(fake: FakeStripe, *, key: str | None = KEY) -> dict[str, str]:
    return {"PARLEY_STRIPE_API_BASE": fake.url, "PARLEY_STRIPE_SECRET_KEY": key or "",
            "PARLEY_STRIPE_WEBHOOK_SECRET": WHSEC, "PARLEY_PUBLIC_URL": "https://parley.example.com"}


@pytest.fixture
def papp(settings: Settings, engines: list[Any], fake_stripe: FakeStripe) -> Iterator[Flask]:
    app = create_app(settings.with_(extra=_env(fake_stripe)), engines=engines, jobs=InlineJobs(), testing=True)
    yield app
    app.extensions["parley"].db.dispose()


@pytest.fixture
def pdb(papp: Flask) -> Database:
    database: Database = papp.extensions["parley"].db
    return database


ITEM: dict[str, Any] = {"description": "Spare battery", "quantity": 2, "unit_amount": 1250}
INVOICE: dict[str, Any] = {"currency": "eur", "tax_rate_bps": 2000, "due_date": None,
           "items": [ITEM, {"description": "Shipping", "unit_amount": 1200}]}


def _invoice(a: Agent, conv_id: str, body: dict[str, Any] | None = None) -> Any:
    return a.post(f"/conversations/{conv_id}/invoices", body if body is not None else INVOICE)


def _hook(app: Flask, event: dict[str, Any], *, secret: str = WHSEC, timestamp: int | None = None) -> Any:
    raw, headers = signed(event, secret, timestamp=timestamp)
    return app.test_client().post("/webhooks/stripe", data=raw, headers=headers)


def _count(db: Database, model: type) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def test_the_stripe_fake_pays_an_invoice_and_the_webhook_moves_it_to_paid(papp: Flask, pdb: Database,
                                                                          fake_stripe: FakeStripe) -> None:
    ada = agent(papp, pdb, "ada@example.com")
    admin = agent(papp, pdb, "admin@example.com", role="admin", online=False)
    customer, conv_id = handoff(papp)
    due = (utcnow() + timedelta(days=7)).date().isoformat()
    r = _invoice(ada, conv_id, {**INVOICE, "due_date": due})
    assert r.status_code == 201, r.get_json()
    inv = r.get_json()
    # 2 x 12.50 + 12.00 = 37.00; tax 20 % = 7.40; total 44.40, all in cents
    assert (inv["subtotal"], inv["tax_amount"], inv["total"], inv["currency"]) == (3700, 740, 4440, "EUR")
    assert inv["status"] == "unpaid" and inv["total_text"] == "EUR 44.40" and inv["due_date"] == due
    assert inv["number"].startswith("INV-") and inv["payment_url"].startswith("https://checkout.stripe.test/")

    # Stripe was asked, form-encoded, for exactly that amount, with the key and the invoice's id
    create = fake_stripe.creates()[-1]
    assert create.headers["Authorization"] == f"Bearer {KEY}"
    assert create.first("mode") == "payment" and create.first("metadata[invoice_id]") == inv["id"]
    assert create.first("line_items[0][price_data][unit_amount]") == "1250"
    assert create.first("line_items[0][quantity]") == "2"
    assert create.first("line_items[2][price_data][product_data][name]") == "Tax (20 %)"
    assert create.first("line_items[2][price_data][unit_amount]") == "740"
    assert create.first("success_url") == f"https://parley.example.com/pay/{inv['id']}?result=paid"
    session_id = inv["payment_url"].rsplit("/", 1)[1]
    assert fake_stripe.sessions[session_id]["amount_total"] == 4440

    # the customer got the link in the chat, as an agent message; the console heard of the invoice
    text = customer.replies("agent")[-1]
    assert inv["number"] in text and "Total: EUR 44.40" in text and inv["payment_url"] in text
    assert [e["status"] for e in console_events(ada, "invoice")] == ["unpaid"]
    assert ada.get(f"/invoices/{inv['id']}").get_json()["status"] == "unpaid"

    # closing or deleting before payment is refused, with the invoice named
    r = ada.post(f"/conversations/{conv_id}/close")
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "unpaid_invoice"
    assert inv["number"] in r.get_json()["error"]["message"]
    r = admin.client.delete(f"/api/v1/conversations/{conv_id}", headers={"X-CSRF-Token": admin.csrf})
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "unpaid_invoice"
    assert conv(pdb, conv_id).status == "open"

    with pdb.transaction() as s:  # a subscriber to invoice.paid (its deliveries are tested in test_webhooks_out)
        s.add(WebhookSubscription(url="https://crm.example.com/hook", events=["invoice.paid", "message.created"]))
        forget_wanted(s)
    paid = fake_stripe.pay(session_id)
    # a forged signature (another secret), an old timestamp, none at all: 400, nothing changes
    assert _hook(papp, paid, secret="whsec_forged").status_code == 400
    assert _hook(papp, paid, timestamp=int(utcnow().timestamp()) - 3600).status_code == 400
    assert papp.test_client().post("/webhooks/stripe", json=paid).status_code == 400
    assert ada.get(f"/invoices/{inv['id']}").get_json()["status"] == "unpaid"
    assert _count(pdb, ProviderEvent) == 0

    r = _hook(papp, paid)
    assert r.status_code == 200 and r.get_json()["outcome"] == "paid"
    after = ada.get(f"/invoices/{inv['id']}").get_json()
    assert after["status"] == "paid" and after["paid_at"]
    assert [e["status"] for e in console_events(ada, "invoice")] == ["paid"]
    with pdb.session() as s:
        bodies = [json.loads(b) for b in s.scalars(select(WebhookDelivery.body)
                                                   .where(WebhookDelivery.event == "invoice.paid"))]
    assert [(b["data"]["invoice"]["id"], b["data"]["invoice"]["status"], b["data"]["invoice"]["total"],
             b["data"]["conversation"]["id"]) for b in bodies] == [(inv["id"], "paid", 4440, conv_id)]

    # the same event again (Stripe retries): acknowledged, and nothing changes
    r = _hook(papp, paid)
    assert r.status_code == 200 and r.get_json()["outcome"] == "replay"
    assert ada.get(f"/invoices/{inv['id']}").get_json()["paid_at"] == after["paid_at"]
    assert console_events(ada, "invoice") == [] and _count(pdb, ProviderEvent) == 1
    assert _count(pdb, WebhookDelivery) == 1  # invoice.paid once

    # paid: closing works now; a late "expired" cannot move it back
    assert _hook(papp, fake_stripe._event("checkout.session.expired", fake_stripe.sessions[session_id])
                 ).get_json()["outcome"] == "stale"
    page = papp.test_client().get(f"/pay/{inv['id']}?result=paid")
    assert page.status_code == 200 and b"Paid. Thank you" in page.data and b"EUR 44.40" in page.data
    assert papp.test_client().get("/pay/inv_nope").status_code == 404
    assert ada.post(f"/conversations/{conv_id}/close").status_code == 200
    # a full refund in Stripe shows as refunded
    assert _hook(papp, fake_stripe.refund(session_id)).get_json()["outcome"] == "refunded"
    listed = ada.get(f"/conversations/{conv_id}/invoices").get_json()["invoices"]
    assert [(i["id"], i["status"]) for i in listed] == [(inv["id"], "refunded")]


def test_amounts_are_integers_and_bad_requests_write_nothing(papp: Flask, pdb: Database,
                                                            fake_stripe: FakeStripe) -> None:
    ada = agent(papp, pdb, "ada@example.com")
    _, conv_id = handoff(papp)
    item = ITEM
    bad = [({**INVOICE, "items": [{**item, "unit_amount": 12.5}]}, "unit_amount"),
           ({**INVOICE, "items": [{**item, "unit_amount": "1250"}]}, "unit_amount"),
           ({**INVOICE, "items": [{**item, "unit_amount": 1250.0}]}, "unit_amount"),
           ({**INVOICE, "items": [{**item, "quantity": 0}]}, "quantity"),
           ({**INVOICE, "items": [{**item, "quantity": 1.5}]}, "quantity"),
           ({**INVOICE, "tax_rate_bps": 20.5}, "tax_rate_bps"),
           ({**INVOICE, "currency": "EURO"}, "currency"),
           ({"kind": "checkout", "currency": "usd", "amount": 9.99}, "amount")]
    for body, field in bad:
        r = _invoice(ada, conv_id, body)
        assert r.status_code == 422, (body, r.get_json())
        assert r.get_json()["error"]["code"] == "invalid_invoice" and field in r.get_json()["error"]["message"]
    r = _invoice(ada, conv_id, {**INVOICE, "currency": "e1r"})
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "invalid_currency"
    r = _invoice(ada, conv_id, {**INVOICE, "items": []})
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "no_items"
    r = _invoice(ada, conv_id, {**INVOICE, "due_date": "2001-01-01"})
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "invalid_due_date"
    assert fake_stripe.creates() == [] and _count(pdb, Invoice) == 0

    # a checkout in yen: no minor unit, the amount is whole yen
    r = _invoice(ada, conv_id, {"kind": "checkout", "currency": "JPY", "amount": 5000, "description": "Deposit"})
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["total_text"] == "JPY 5,000" and r.get_json()["kind"] == "checkout"
    assert fake_stripe.creates()[-1].first("line_items[0][price_data][currency]") == "jpy"


def test_without_a_stripe_key_nothing_is_sent(settings: Settings, engines: list[Any],
                                             fake_stripe: FakeStripe) -> None:
    app = create_app(settings.with_(extra=_env(fake_stripe, key=None)), engines=engines, jobs=InlineJobs(),
                     testing=True)
    db: Database = app.extensions["parley"].db
    try:
        ada = agent(app, db, "ada@example.com")
        _, conv_id = handoff(app)
        before = _count(db, Message)
        r = _invoice(ada, conv_id)
        assert r.status_code == 409 and r.get_json()["error"]["code"] == "payments_not_configured"
        assert _count(db, Invoice) == 0 and _count(db, Message) == before and fake_stripe.requests == []
    finally:
        db.dispose()


def test_stripe_refusing_stores_nothing(papp: Flask, pdb: Database, fake_stripe: FakeStripe) -> None:
    ada = agent(papp, pdb, "ada@example.com")
    _, conv_id = handoff(papp)
    fake_stripe.fail_next(402, {"error": {"type": "card_error", "message": "Your account cannot take payments."}})
    r = _invoice(ada, conv_id)
    assert r.status_code == 502 and "cannot take payments" in r.get_json()["error"]["message"]
    assert _count(pdb, Invoice) == 0


def test_another_teams_agent_sees_nothing(papp: Flask, pdb: Database) -> None:
    ada = agent(papp, pdb, "ada@example.com")
    bob = agent(papp, pdb, "bob@example.com", team="Sales", online=False)
    _, conv_id = handoff(papp)
    inv = _invoice(ada, conv_id).get_json()
    assert _invoice(bob, conv_id).status_code == 404
    assert bob.get(f"/invoices/{inv['id']}").status_code == 404
    assert bob.get(f"/conversations/{conv_id}/invoices").status_code == 404
    assert bob.post(f"/invoices/{inv['id']}/void").status_code == 404
    assert bob.get("/invoices?status=unpaid").get_json()["invoices"] == []
    assert [i["id"] for i in ada.get("/invoices?status=unpaid").get_json()["invoices"]] == [inv["id"]]
    assert ada.get("/invoices?status=paid").get_json()["invoices"] == []
    assert ada.get("/invoices?status=owed").status_code == 400
    assert console_events(bob, "invoice") == []


def test_an_admin_voids_an_invoice_and_the_conversation_can_close(papp: Flask, pdb: Database,
                                                                  fake_stripe: FakeStripe) -> None:
    ada = agent(papp, pdb, "ada@example.com")
    admin = agent(papp, pdb, "admin@example.com", role="admin", online=False)
    _, conv_id = handoff(papp)
    inv = _invoice(ada, conv_id).get_json()
    session_id = inv["payment_url"].rsplit("/", 1)[1]
    r = ada.post(f"/invoices/{inv['id']}/void")
    assert r.status_code == 403
    r = admin.post(f"/invoices/{inv['id']}/void")
    assert r.status_code == 200 and r.get_json()["status"] == "void"
    assert fake_stripe.sessions[session_id]["status"] == "expired"  # the link no longer works
    assert admin.post(f"/invoices/{inv['id']}/void").get_json()["error"]["code"] == "not_unpaid"
    assert ada.post(f"/conversations/{conv_id}/close").status_code == 200


def test_the_idle_timer_does_not_close_a_conversation_awaiting_payment(papp: Flask, pdb: Database,
                                                                       fake_stripe: FakeStripe) -> None:
    ada = agent(papp, pdb, "ada@example.com")
    _, conv_id = handoff(papp)
    inv = _invoice(ada, conv_id).get_json()
    runner(papp).tick(later(3 * 3600))
    assert conv(pdb, conv_id).status == "open"
    assert _hook(papp, fake_stripe.pay(inv["payment_url"].rsplit("/", 1)[1])).status_code == 200
    runner(papp).tick(later(6 * 3600))  # paid: the timer, which looked again later, completes it now
    assert conv(pdb, conv_id).status == "closed"


def test_a_checkout_reaches_an_sms_customer(settings: Settings, engines: list[Any], channel_env: dict[str, str],
                                            fake_stripe: FakeStripe, fake_twilio: FakeTwilio) -> None:
    app = make_channel_app(settings, engines, {**channel_env, **_env(fake_stripe)})
    db: Database = app.extensions["parley"].db
    try:
        ada = agent(app, db, "ada@example.com")
        assert twilio_post(app.test_client(), sms("SM1", "a person please")).status_code == 200
        conv_id = ada.get("/conversations?view=team&status=open").get_json()["conversations"][0]["id"]
        r = _invoice(ada, conv_id, {"kind": "checkout", "currency": "usd", "amount": 1999,
                                    "description": "Repair deposit"})
        assert r.status_code == 201, r.get_json()
        sent = fake_twilio.sends()[-1]
        assert sent.first("To") == CUSTOMER
        body = sent.first("Body") or ""
        assert "Repair deposit, USD 19.99" in body and r.get_json()["payment_url"] in body
    finally:
        db.dispose()


def test_money_is_computed_and_written_with_integers() -> None:
    from models.invoices.money import format_amount, percent, tax_of

    assert tax_of(3700, 2000) == 740 and tax_of(999, 725) == 72 and tax_of(1000, 725) == 73  # 72.5 → 73
    assert tax_of(10**15, 2000) == 2 * 10**14  # no float on the way: exact at any size
    assert format_amount(4440, "eur") == "EUR 44.40" and format_amount(5, "usd") == "USD 0.05"
    assert format_amount(123456789, "usd") == "USD 1,234,567.89"
    assert format_amount(5000, "JPY") == "JPY 5,000" and format_amount(1005, "kwd") == "KWD 1.005"
    assert (percent(2000), percent(725), percent(50)) == ("20", "7.25", "0.5")


def test_the_stripe_signature_is_checked_like_stripe_does() -> None:
    from connectors.stripe import signature_header, verify_signature

    raw = b'{"id": "evt_1"}'
    now = 1_800_000_000
    good = signature_header(WHSEC, raw, now=now)
    assert verify_signature(WHSEC, raw, good, now=now)
    assert verify_signature(WHSEC, raw, good + ",v1=" + "0" * 64, now=now + 299)  # one of several v1 matches
    assert not verify_signature(WHSEC, raw, good, now=now + 301)  # too old: a replayed capture
    assert not verify_signature(WHSEC, raw + b" ", good, now=now)  # the body was changed
    assert not verify_signature(WHSEC, raw, good.replace("v1=", "v0="), now=now)
    assert not verify_signature(None, raw, good, now=now) and not verify_signature(WHSEC, raw, None, now=now)
    assert not verify_signature(WHSEC, raw, f"t={now},t={now},v1=x", now=now)


def test_one_event_delivered_twice_at_once_is_applied_once(papp: Flask, pdb: Database,
                                                           fake_stripe: FakeStripe) -> None:
    import threading

    ada = agent(papp, pdb, "ada@example.com")
    _, conv_id = handoff(papp)
    inv = _invoice(ada, conv_id).get_json()
    raw, headers = signed(fake_stripe.pay(inv["payment_url"].rsplit("/", 1)[1]), WHSEC)
    outcomes: list[tuple[int, str]] = []
    start = threading.Barrier(3)

    def deliver() -> None:
        client = papp.test_client()
        start.wait()
        r = client.post("/webhooks/stripe", data=raw, headers=headers)
        outcomes.append((r.status_code, (r.get_json() or {}).get("outcome", "")))

    threads = [threading.Thread(target=deliver) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert sorted(outcomes) == [(200, "paid"), (200, "replay"), (200, "replay")]
    assert _count(pdb, ProviderEvent) == 1 and ada.get(f"/invoices/{inv['id']}").get_json()["status"] == "paid"
