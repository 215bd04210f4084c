"""Outgoing webhooks: admins subscribe URLs to events; deliveries are signed, written with the change,
retried with the same delivery id, logged per attempt, paused after failing for a day."""

from __future__ import annotations

import ipaddress
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select, update

from connectors.outbound import OutboundGuard, OutboundRefused
from connectors.webhooks_out import sign
from console.api.schemas.integrations import WebhookPayload
from console.app import create_app
from console.runtime.jobs import InlineJobs
from console.runtime.subscription_sync import SubscriptionSync
from console.runtime.webhooks_out import webhook_worker
from models.db import Database
from models.schema.accounts import AuditEvent
from models.schema.base import utcnow
from models.schema.integrations import WebhookDelivery, WebhookSubscription
from models.settings import Settings
from tests.support.actors import Agent, Customer, make_user
from tests.support.fakes.hooks import WebhookReceiver


@pytest.fixture
def app(settings: Settings, engines: list[Any]) -> Iterator[Flask]:
    """The usual test app, allowed to reach the local receivers (loopback is refused by default)."""
    app = create_app(settings.with_(outbound_allow="127.0.0.1", webhook_backoff=0.0), engines=engines,
                     jobs=InlineJobs(), testing=True)
    yield app
    app.extensions["parley"].db.dispose()


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as r:
        yield r


@pytest.fixture
def admin(app: Flask, db: Database) -> Agent:
    make_user(db, "root@example.com", role="admin")
    return Agent(app, "root@example.com")


def patch(user: Agent, path: str, body: Any) -> Any:
    return user.client.patch(f"/api/v1{path}", json=body, headers={"X-CSRF-Token": user.csrf})


def delete(user: Agent, path: str) -> Any:
    return user.client.delete(f"/api/v1{path}", headers={"X-CSRF-Token": user.csrf})


def subscribe(admin: Agent, receiver: WebhookReceiver, events: list[str]) -> dict[str, Any]:
    r = admin.post("/webhook_subscriptions", {"url": receiver.url + "/hook", "events": events})
    assert r.status_code == 201, r.get_json()
    out: dict[str, Any] = r.get_json()
    receiver.secret = out["secret"]
    return out


def retry_now(app: Flask) -> int:
    db: Database = app.extensions["parley"].db
    with db.transaction() as s:
        s.execute(update(WebhookDelivery).where(WebhookDelivery.state == "pending")
                  .values(next_attempt_at=utcnow() - timedelta(seconds=1)))
    return webhook_worker(app).run_once()


def test_a_failed_delivery_is_retried_with_the_same_id_and_stored_once(app: Flask, admin: Agent,
                                                                       receiver: WebhookReceiver) -> None:
    sub = subscribe(admin, receiver, ["conversation.created"])
    receiver.fail_next(500, {"error": "down for a moment"})
    Customer(app).say("hello")
    assert receiver.stored == {}  # the first attempt got a 500
    retry_now(app)
    assert len(receiver.stored) == 1 and receiver.refused == 0
    ids = [r.headers.get("X-Parley-Delivery") for r in receiver.sends()]
    assert len(ids) == 2 and ids[0] == ids[1] and ids[0] in receiver.stored
    body = receiver.stored[ids[0]]
    assert body["event"] == "conversation.created" and body["data"]["conversation"]["id"].startswith("c_")
    # the log: two attempts, the 500 with the start of its answer, then the 200
    log = admin.get(f"/webhook_subscriptions/{sub['id']}/deliveries").get_json()["deliveries"]
    assert [(d["event"], d["state"], d["attempts"]) for d in log] == [("conversation.created", "delivered", 2)]
    assert [(a["status_code"], "down for a moment" in a["response"]) for a in log[0]["log"]] == [(500, True),
                                                                                                  (200, False)]
    retry_now(app)  # nothing is sent twice once delivered
    assert len(receiver.sends()) == 2


def test_the_signature_covers_timestamp_and_raw_body(app: Flask, admin: Agent, receiver: WebhookReceiver) -> None:
    subscribe(admin, receiver, ["message.created"])
    Customer(app).say("hi <script>alert(1)</script>")
    sent = receiver.sends()
    assert sent and receiver.refused == 0
    req = sent[0]
    ts = req.headers["X-Parley-Timestamp"]
    assert req.headers["X-Parley-Signature"] == sign(str(receiver.secret), int(ts), req.body)
    assert req.headers["X-Parley-Signature"] != sign("another secret", int(ts), req.body)
    assert req.headers["X-Parley-Event"] == "message.created"
    texts = [b["data"]["message"]["text"] for b in receiver.stored.values()]
    assert "hi <script>alert(1)</script>" in texts  # customer text is carried as data, unchanged


def test_a_subscription_gets_only_its_events_with_the_documented_schema(app: Flask, admin: Agent, db: Database,
                                                                        receiver: WebhookReceiver) -> None:
    subscribe(admin, receiver, ["message.created"])
    with WebhookReceiver() as handoffs:
        subscribe(admin, handoffs, ["conversation.handed_off", "conversation.closed", "conversation.assigned"])
        customer = Customer(app)
        customer.say("hello")
        customer.say("a person please")
        assert sorted(set(handoffs.events())) == ["conversation.handed_off"]
        assert set(receiver.events()) == {"message.created"}
        senders = sorted(b["data"]["message"]["sender_type"] for b in receiver.stored.values())
        assert senders == ["bot", "bot", "contact", "contact"]
        conv_id = next(iter(handoffs.stored.values()))["data"]["conversation"]["id"]
        make_user(db, "ada@example.com")
        ada = Agent(app, "ada@example.com")
        ada.post(f"/conversations/{conv_id}/assign", {"user_ids": [ada_id(db)]})
        assert ada.post(f"/conversations/{conv_id}/close").status_code == 200
        assert sorted(set(handoffs.events())) == ["conversation.assigned", "conversation.closed",
                                                  "conversation.handed_off"]
        for body in [*handoffs.stored.values(), *receiver.stored.values()]:
            WebhookPayload.model_validate(body)
            assert set(body) == {"id", "event", "created_at", "data"}
            assert {"conversation", "contact"} <= set(body["data"])
        handed = next(b for b in handoffs.stored.values() if b["event"] == "conversation.handed_off")
        assert handed["data"]["handoff"] == {"reason": "customer_asked"}
        assigned = next(b for b in handoffs.stored.values() if b["event"] == "conversation.assigned")
        assert [a["name"] for a in assigned["data"]["assignment"]["assignees"]] == ["Ada"]


def ada_id(db: Database) -> int:
    from models.schema.accounts import User

    with db.session() as s:
        found = s.scalar(select(User.id).where(User.email == "ada@example.com"))
        assert found is not None
        return found


def test_the_secret_is_shown_once_and_admins_alone_manage_subscriptions(app: Flask, admin: Agent, db: Database,
                                                                        receiver: WebhookReceiver) -> None:
    sub = subscribe(admin, receiver, ["conversation.created"])
    assert sub["secret"].startswith("whsec_") and len(sub["secret"]) > 30
    for r in (admin.get("/webhook_subscriptions"), patch(admin, f"/webhook_subscriptions/{sub['id']}",
                                                          {"description": "CRM sync"}),
              admin.get(f"/webhook_subscriptions/{sub['id']}/deliveries")):
        assert r.status_code == 200 and sub["secret"] not in r.get_data(as_text=True)
        assert "secret" not in json.dumps(r.get_json())
    make_user(db, "ada@example.com")
    ada = Agent(app, "ada@example.com")
    assert ada.get("/webhook_subscriptions").status_code == 403
    assert ada.post("/webhook_subscriptions", {"url": "https://x.example", "events": ["message.created"]}
                    ).status_code == 403
    assert delete(admin, f"/webhook_subscriptions/{sub['id']}").status_code == 204
    assert admin.get("/webhook_subscriptions").get_json()["subscriptions"] == []


@pytest.mark.parametrize("body", [
    {"url": "ftp://example.com/x", "events": ["message.created"]},
    {"url": "https://user:pw@example.com/", "events": ["message.created"]},
    {"url": "https://example.com/", "events": ["message.deleted"]},
    {"url": "https://example.com/", "events": []},
    {"url": "https://example.com/", "events": "message.created"},
    {"url": 5, "events": ["message.created"]},
    {"url": "https://[::1/", "events": ["message.created"]},
    {"url": "https://example.com/", "events": ["message.created"], "secret": "mine"},
    {"events": ["message.created"]},
])
def test_junk_subscriptions_are_refused_with_400(admin: Agent, body: dict[str, Any]) -> None:
    r = admin.post("/webhook_subscriptions", body)
    assert r.status_code == 400, r.get_json()
    assert r.get_json()["error"]["message"]


def test_junk_on_other_routes_is_4xx(admin: Agent, receiver: WebhookReceiver) -> None:
    sub = subscribe(admin, receiver, ["message.created"])
    assert patch(admin, f"/webhook_subscriptions/{sub['id']}", {"active": "yes"}).status_code == 400
    assert patch(admin, f"/webhook_subscriptions/{sub['id']}", {"events": ["nope"]}).status_code == 400
    assert patch(admin, "/webhook_subscriptions/999", {"active": True}).status_code == 404
    assert patch(admin, "/webhook_subscriptions/99999999999", {"active": True}).status_code == 404
    assert admin.get(f"/webhook_subscriptions/{sub['id']}/deliveries?limit=0").status_code == 400
    assert admin.get(f"/webhook_subscriptions/{sub['id']}/deliveries?state=lost").status_code == 400
    assert delete(admin, "/webhook_subscriptions/999").status_code == 404
    events = admin.get("/webhook_events").get_json()["events"]
    assert [e["name"] for e in events if e["reserved"]] == []  # invoice.paid is sent now (test_invoices.py)
    schemas = admin.get("/openapi.json").get_json()["components"]["schemas"]
    assert {"WebhookPayload", "WebhookData", "WebhookMessage"} <= set(schemas)  # the body's documented schema


def test_the_guarded_client_refuses_a_private_address_unless_allowed(settings: Settings, engines: list[Any],
                                                                     receiver: WebhookReceiver) -> None:
    app = create_app(settings, engines=engines, jobs=InlineJobs(), testing=True)  # no PARLEY_OUTBOUND_ALLOW
    db = app.extensions["parley"].db
    try:
        make_user(db, "root@example.com", role="admin")
        admin = Agent(app, "root@example.com")
        sub = subscribe(admin, receiver, ["conversation.created"])
        Customer(app).say("hello")
        assert receiver.sends() == []
        log = admin.get(f"/webhook_subscriptions/{sub['id']}/deliveries").get_json()["deliveries"]
        assert log[0]["state"] == "pending" and "refused" in log[0]["log"][0]["error"]
        assert "PARLEY_OUTBOUND_ALLOW" in log[0]["log"][0]["error"]
    finally:
        db.dispose()
    with pytest.raises(OutboundRefused):
        OutboundGuard().post(receiver.url, content=b"{}")
    with pytest.raises(OutboundRefused):
        OutboundGuard().post("http://169.254.169.254/latest", content=b"{}")
    allowed = OutboundGuard(allow_nets=(ipaddress.ip_network("127.0.0.1/32"),))
    assert allowed.post(receiver.url, content=b"{}").status_code == 401  # reached: unsigned, so refused there


def test_a_subscription_failing_for_a_day_is_paused_audited_and_resumed(app: Flask, admin: Agent, db: Database,
                                                                       receiver: WebhookReceiver) -> None:
    sub = subscribe(admin, receiver, ["conversation.created"])
    receiver.fail_next(503, times=2)
    Customer(app).say("hello")
    with db.transaction() as s:  # it has been failing for more than a day
        s.execute(update(WebhookSubscription).values(failing_since=utcnow() - timedelta(hours=25)))
    retry_now(app)
    listed = admin.get("/webhook_subscriptions").get_json()["subscriptions"][0]
    assert listed["paused"] and not listed["active"] and "paused" in listed["pause_reason"]
    with db.session() as s:
        kinds = list(s.scalars(select(AuditEvent.kind).where(AuditEvent.kind == "webhook.paused")))
    assert kinds == ["webhook.paused"]
    Customer(app).say("hello again")  # paused: nothing new is queued or sent
    assert retry_now(app) == 0 and receiver.stored == {}
    r = patch(admin, f"/webhook_subscriptions/{sub['id']}", {"active": True})
    assert r.status_code == 200 and not r.get_json()["paused"]
    webhook_worker(app).run_once()
    assert receiver.events() == ["conversation.created"]  # what waited went out on resuming


def test_deliveries_commit_with_the_change_or_not_at_all(app: Flask, admin: Agent, db: Database,
                                                         receiver: WebhookReceiver) -> None:
    from models.db import publish_on_commit
    from models.events import ContactUpdated
    from models.schema.contacts import Contact

    subscribe(admin, receiver, ["contact.updated"])
    with db.transaction() as s:
        contact = Contact(name="Grace")
        s.add(contact)
        s.flush()
        contact_id = contact.id
    with pytest.raises(RuntimeError), db.transaction() as s:
        publish_on_commit(s, ContactUpdated(contact_id, "merged"))
        raise RuntimeError("the change failed")
    with db.session() as s:
        assert s.scalars(select(WebhookDelivery)).all() == []
    with db.transaction() as s:
        publish_on_commit(s, ContactUpdated(contact_id, "identity_linked"))
    body = next(iter(receiver.stored.values()))
    assert body["event"] == "contact.updated" and body["data"]["contact"]["name"] == "Grace"
    assert body["data"]["conversation"] is None and body["data"]["change"] == "identity_linked"


def test_an_interrupted_delivery_is_sent_again_with_the_same_id(app: Flask, admin: Agent, db: Database,
                                                                receiver: WebhookReceiver) -> None:
    from models.integrations.deliveries import claim_due

    subscribe(admin, receiver, ["conversation.created"])
    worker = webhook_worker(app)
    worker._submit = lambda *_a: None  # the process dies before it sends: the row is stored anyway
    Customer(app).say("hello")
    with db.transaction() as s:
        _token, due = claim_due(s, limit=5, lease_s=30)
    assert len(due) == 1
    with db.transaction() as s:  # the worker that claimed it died; its lease ran out
        s.execute(update(WebhookDelivery).values(lease_until=utcnow() - timedelta(seconds=1)))
    worker.run_once()
    assert list(receiver.stored) == [due[0].public_id]


def test_contact_updated_and_reopened_come_from_the_real_actions(app: Flask, admin: Agent,
                                                                 receiver: WebhookReceiver) -> None:
    subscribe(admin, receiver, ["contact.updated", "conversation.reopened"])
    ack = Customer(app).say("a person please")
    conv = admin.get(f"/conversations/{ack['conversation_id']}").get_json()
    r = admin.post(f"/contacts/{conv['contact']['id']}/identities", {"channel": "sms", "address": "+4915112345678"})
    assert r.status_code == 201, r.get_json()
    assert admin.post(f"/conversations/{conv['id']}/close").status_code == 200
    assert admin.post(f"/conversations/{conv['id']}/reopen").status_code == 200
    assert receiver.events() == ["contact.updated", "conversation.reopened"]
    updated = next(iter(receiver.stored.values()))["data"]
    assert updated["change"] == "identity_linked" and updated["conversation"] is None
    assert sorted((i["channel"], i["address"]) for i in updated["contact"]["identities"]) == [
        ("sms", "+4915112345678"), ("webchat", None)]  # the widget's visitor id stays inside


def test_a_delivery_that_failed_for_good_can_be_sent_again_by_an_admin(settings: Settings, engines: list[Any],
                                                                       receiver: WebhookReceiver) -> None:
    app = create_app(settings.with_(outbound_allow="127.0.0.1", webhook_backoff=0.0, webhook_max_attempts=2),
                     engines=engines, jobs=InlineJobs(), testing=True)
    db = app.extensions["parley"].db
    try:
        make_user(db, "root@example.com", role="admin")
        admin = Agent(app, "root@example.com")
        sub = subscribe(admin, receiver, ["conversation.created"])
        receiver.fail_next(500, times=2)
        Customer(app).say("hello")
        retry_now(app)
        log = admin.get(f"/webhook_subscriptions/{sub['id']}/deliveries").get_json()["deliveries"]
        assert [(d["state"], d["attempts"]) for d in log] == [("failed", 2)] and receiver.stored == {}
        path = f"/webhook_subscriptions/{sub['id']}/deliveries/{log[0]['id']}/retry"
        r = admin.post(path)
        assert r.status_code == 200, r.get_json()
        assert list(receiver.stored) == [log[0]["id"]]  # the same delivery id, stored once
        assert admin.post(path).status_code == 422  # delivered: nothing to retry
        assert admin.post(f"/webhook_subscriptions/{sub['id']}/deliveries/dlv_nope/retry").status_code == 404
        assert admin.post(f"/webhook_subscriptions/999/deliveries/{log[0]['id']}/retry").status_code == 404
    finally:
        db.dispose()




@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="the change feed between processes needs REDIS_URL")
def test_a_subscription_made_in_one_process_is_heard_at_once_in_another(
        app: Flask, admin: Agent, settings: Settings, receiver: WebhookReceiver) -> None:
    """Two web processes on one database: the other one (tests/support/webhook_process.py) remembers that
    nobody wants `message.created`, with an hour's time limit; this one subscribes; the other's next customer
    message is delivered, because the change reached it through Redis."""
    channel = f"parley-test-{uuid.uuid4().hex}"
    sync = SubscriptionSync(os.environ["REDIS_URL"], channel)  # as console/runtime/webhooks_out wires it
    app.extensions["parley"].db.bus.subscribe(sync)
    other = subprocess.Popen(
        [sys.executable, "-m", "tests.support.webhook_process", settings.database_url, str(settings.instance_dir),
         os.environ["REDIS_URL"], channel], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        cwd=Path(__file__).resolve().parents[1])
    try:
        assert other.stdout is not None and other.stdin is not None
        assert other.stdout.readline().strip() == "ready"
        subscribe(admin, receiver, ["message.created"])
        other.stdin.write("go\n")
        other.stdin.flush()
        assert other.stdout.readline().strip() == "told"
        assert other.stdout.readline().strip() == "done"
    finally:
        other.kill()
        other.wait()
    texts = [b["data"]["message"]["text"] for b in receiver.stored.values()]
    assert "are you there?" in texts and "hello" not in texts
