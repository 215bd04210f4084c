"""The WhatsApp Cloud API: Meta's verification, signed batches, message types, statuses, the
24-hour window and templates, media, and sends that were never confirmed."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import func, select, update

from models.db import Database
from models.schema.base import utcnow
from models.schema.channels import Attachment, OutboxItem
from models.schema.contacts import Contact
from models.schema.conversations import Conversation, Message
from models.settings import Settings
from tests.support.actors import Agent, make_user
from tests.support.channels import (
    CUSTOMER,
    WA_PNID,
    WA_SECRET,
    WA_VERIFY,
    messages,
    rt,
    wa_payload,
    wa_post,
    wa_text,
)
from tests.support.fakes import FakeGraph
from tests.support.storage import BACKENDS, storage_settings

WA_ID = CUSTOMER.lstrip("+")


@pytest.fixture
def settings(request: pytest.FixtureRequest, settings: Settings) -> Settings:
    """The instance folder, or S3-compatible storage for the tests parametrized with `BACKENDS`."""
    return storage_settings(request, settings)


def _count(db: Database, model: type) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def test_meta_verification_handshake(capp: Flask) -> None:
    client = capp.test_client()
    ok = client.get("/webhooks/whatsapp", query_string={"hub.mode": "subscribe", "hub.verify_token": WA_VERIFY,
                                                         "hub.challenge": "1158201444"})
    assert ok.status_code == 200 and ok.data == b"1158201444"
    for params in ({"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "x"},
                   {"hub.mode": "unsubscribe", "hub.verify_token": WA_VERIFY, "hub.challenge": "x"}, {}):
        assert client.get("/webhooks/whatsapp", query_string=params).status_code == 403


def test_a_batch_of_two_messages_and_a_status(capp: Flask, cdb: Database, fake_graph: FakeGraph) -> None:
    client = capp.test_client()
    assert wa_post(client, wa_payload(wa_text("wamid.FIRST", "hi"))).status_code == 200
    (reply_sent,) = fake_graph.sent
    assert reply_sent["to"] == WA_ID and reply_sent["text"]["body"] == "Hello! How can I help?"
    assert reply_sent["biz_opaque_callback_data"] == "o1"
    fake_graph.add_media("MEDIA1", b"\x89PNG\r\n\x1a\n" + b"\x01" * 32, "image/png")
    batch = wa_payload(
        {"contacts": [{"profile": {"name": "Kerry"}, "wa_id": WA_ID}],
         "messages": [
             {"from": WA_ID, "id": "wamid.SECOND", "timestamp": "1700000001", "type": "text",
              "text": {"body": "where is my order? 📦"}},
             {"from": WA_ID, "id": "wamid.THIRD", "timestamp": "1700000002", "type": "image",
              "image": {"id": "MEDIA1", "mime_type": "image/png", "sha256": "x", "caption": "the box"}}]},
        {"statuses": [{"id": reply_sent["id"], "status": "read", "timestamp": "1700000003",
                       "recipient_id": WA_ID, "biz_opaque_callback_data": "o1"}]})
    assert wa_post(client, batch).status_code == 200
    stored = [(m.sender_type, m.text, m.delivery_status) for m in messages(cdb)]
    assert ("bot", "Hello! How can I help?", "read") in stored
    inbound = [(t, d) for s, t, d in stored if s == "contact"]
    assert inbound == [("hi", "received"), ("where is my order? 📦", "received"), ("the box", "received")]
    with cdb.session() as s:
        (att,) = s.scalars(select(Attachment)).all()
        assert (att.state, att.content_type) == ("ready", "image/png")
        assert s.scalars(select(Contact)).one().name == "Kerry"
    # a retry of the same batch changes nothing
    n, sends = _count(cdb, Message), len(fake_graph.sent)
    assert wa_post(client, batch).status_code == 200
    assert _count(cdb, Message) == n and len(fake_graph.sent) == sends


def test_bad_signature_and_malformed_bodies_store_nothing(capp: Flask, cdb: Database) -> None:
    client = capp.test_client()
    payload = wa_payload(wa_text("wamid.X", "hi"))
    assert wa_post(client, payload, signature="").status_code == 403
    assert wa_post(client, payload, secret="another-secret").status_code == 403
    raw = json.dumps(payload).encode()
    from connectors.whatsapp_cloud import sign
    assert wa_post(client, raw.replace(b"hi", b"yo"), signature=sign(WA_SECRET, raw)).status_code == 403
    for bad in (b"not json", b"[]", json.dumps({"object": "page", "entry": []}).encode(),
                json.dumps(wa_payload({"messages": [{"from": WA_ID, "type": "text",
                                                     "text": {"body": "no id"}}]})).encode(),
                json.dumps(wa_payload({"messages": [{"from": WA_ID, "id": "w1", "type": "text"}]})).encode()):
        assert wa_post(client, bad).status_code == 400, bad
    assert _count(cdb, Message) == 0 and _count(cdb, Contact) == 0


@pytest.mark.parametrize("settings", BACKENDS, indirect=True)
def test_every_message_type_gets_a_readable_text(capp: Flask, cdb: Database, fake_graph: FakeGraph) -> None:
    for i, media_id in enumerate(("D1", "A1", "V1")):
        fake_graph.add_media(media_id, b"%PDF-1.4 " + bytes([i]) * 10, "application/pdf")
    types = [
        {"type": "document", "document": {"id": "D1", "filename": "invoice.pdf", "mime_type": "application/pdf"}},
        {"type": "audio", "audio": {"id": "A1", "mime_type": "audio/ogg", "voice": True}},
        {"type": "video", "video": {"id": "V1", "mime_type": "video/mp4"}},
        {"type": "location", "location": {"latitude": 52.52, "longitude": 13.405, "name": "Shop",
                                          "address": "Alexanderplatz"}},
        {"type": "interactive", "interactive": {"type": "button_reply", "button_reply": {"id": "b1", "title": "Yes"}}},
        {"type": "interactive", "interactive": {"type": "list_reply",
                                                "list_reply": {"id": "l1", "title": "Track my order"}}},
        {"type": "button", "button": {"text": "Stop promotions", "payload": "STOP"}},
    ]
    msgs = [{"from": WA_ID, "id": f"wamid.T{i}", "timestamp": "1700000000", **t} for i, t in enumerate(types)]
    assert wa_post(capp.test_client(), wa_payload({"messages": msgs})).status_code == 200
    texts = [m.text for m in messages(cdb) if m.sender_type == "contact"]
    assert texts[:3] == ["[document: invoice.pdf]", "[voice message]", "[video]"]
    assert texts[3].startswith("[location] Shop — Alexanderplatz (52.52, 13.405)")
    assert texts[4:] == ["Yes", "Track my order", "Stop promotions"]
    with cdb.session() as s:
        atts = list(s.scalars(select(Attachment).order_by(Attachment.id)))
    assert atts[0].filename == "invoice.pdf"
    assert all(a.state == "ready" for a in atts)  # (the fake serves PDF bytes for all three)
    with rt(capp).store.open(atts[0].storage_key or "") as stored:
        assert stored.read() == b"%PDF-1.4 " + bytes([0]) * 10


def _whatsapp_conversation(capp: Flask, cdb: Database) -> tuple[Agent, str]:
    make_user(cdb, "ada@example.com")
    ada = Agent(capp, "ada@example.com")
    wa_post(capp.test_client(), wa_payload(wa_text("wamid.HUMAN", "I want a person")))
    return ada, ada.get("/conversations?view=team").get_json()["conversations"][0]["id"]


def _age_customer_messages(db: Database, hours: float) -> None:
    with db.transaction() as s:
        for m in s.scalars(select(Message).where(Message.sender_type == "contact")):
            m.created_at = m.created_at - timedelta(hours=hours)


def test_the_24_hour_window_and_templates(capp: Flask, cdb: Database, fake_graph: FakeGraph) -> None:
    ada, conv_id = _whatsapp_conversation(capp, cdb)
    options = ada.get(f"/conversations/{conv_id}/reply-options").get_json()
    wa = next(o for o in options["channels"] if o["channel"] == "whatsapp")
    assert options["default_channel"] == "whatsapp" and wa["available"] and wa["window"]["open"] is True
    assert [t["name"] for t in wa["templates"]] == ["order_update"]
    assert ada.post(f"/conversations/{conv_id}/messages", {"text": "inside the window"}).status_code == 201

    _age_customer_messages(cdb, 25)
    wa = next(o for o in ada.get(f"/conversations/{conv_id}/reply-options").get_json()["channels"]
              if o["channel"] == "whatsapp")
    assert wa["window"]["open"] is False
    n = _count(cdb, Message)
    r = ada.post(f"/conversations/{conv_id}/messages", {"text": "outside the window"})
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "window_closed"
    assert "template" in r.get_json()["error"]["message"]
    assert _count(cdb, Message) == n  # nothing half-written

    # an approved template may be sent
    bad = ada.post(f"/conversations/{conv_id}/template", {"name": "order_update", "variables": ["Kerry"]})
    assert bad.status_code == 400
    assert ada.post(f"/conversations/{conv_id}/template", {"name": "nope", "variables": []}).status_code == 404
    r = ada.post(f"/conversations/{conv_id}/template", {"name": "order_update", "variables": ["Kerry", "#1042"]})
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["text"] == "Hi Kerry, your order #1042 has shipped."
    sent = fake_graph.sent[-1]
    assert sent["type"] == "template" and sent["template"]["name"] == "order_update_v2"
    assert sent["template"]["language"] == {"code": "en_US"}
    assert sent["template"]["components"] == [{"type": "body", "parameters": [
        {"type": "text", "text": "Kerry"}, {"type": "text", "text": "#1042"}]}]

    # the customer answers: the window opens again
    wa_post(capp.test_client(), wa_payload(wa_text("wamid.BACK", "thanks!")))
    assert ada.post(f"/conversations/{conv_id}/messages", {"text": "you're welcome"}).status_code == 201
    assert fake_graph.sent[-1]["text"]["body"] == "you're welcome"


def test_an_unconfirmed_send_is_confirmed_by_a_status_callback_not_resent(capp: Flask, cdb: Database,
                                                                          fake_graph: FakeGraph) -> None:
    ada, conv_id = _whatsapp_conversation(capp, cdb)
    before = len(fake_graph.sent)
    fake_graph.hang_next(2.0, then_succeed=True)  # Meta takes it; its answer is later than our timeout
    msg_id = ada.post(f"/conversations/{conv_id}/messages", {"text": "did it go?"}).get_json()["id"]
    rt(capp).worker.run_once()
    with cdb.session() as s:
        item = s.scalars(select(OutboxItem).where(OutboxItem.message_id == msg_id)).one()
        assert item.state == "unconfirmed"  # waiting for Meta to say, never resent blindly
    assert len(fake_graph.sent) == before + 1
    wamid = fake_graph.sent[-1]["id"]
    status = {"statuses": [{"id": wamid, "status": "delivered", "timestamp": "1", "recipient_id": WA_ID,
                            "biz_opaque_callback_data": f"o{item.id}"}]}
    assert wa_post(capp.test_client(), wa_payload(status)).status_code == 200
    with cdb.session() as s:
        msg = s.get(Message, msg_id)
        assert msg is not None and (msg.delivery_status, msg.provider_message_id) == ("delivered", wamid)
        assert s.get(OutboxItem, item.id).state == "sent"  # type: ignore[union-attr]
    rt(capp).worker.run_once()
    assert len(fake_graph.sent) == before + 1


def test_an_unconfirmed_send_without_callback_is_shown_failed_for_the_agent(capp: Flask, cdb: Database,
                                                                           fake_graph: FakeGraph) -> None:
    ada, conv_id = _whatsapp_conversation(capp, cdb)
    fake_graph.hang_next(2.0, then_succeed=False)
    msg_id = ada.post(f"/conversations/{conv_id}/messages", {"text": "lost?"}).get_json()["id"]
    with cdb.transaction() as s:
        s.execute(update(OutboxItem).values(attempt_started_at=utcnow() - timedelta(hours=1)))
    rt(capp).worker.run_once()
    msg = next(m for m in ada.get(f"/conversations/{conv_id}/messages").get_json()["messages"] if m["id"] == msg_id)
    assert msg["delivery_status"] == "failed" and msg["error"]["code"] == "unconfirmed"
    n = len(fake_graph.sent)
    assert ada.post(f"/messages/{msg_id}/retry").get_json()["delivery_status"] == "sent"
    assert len(fake_graph.sent) == n + 1


def test_cloud_api_failures_are_retried_or_shown(capp: Flask, cdb: Database, fake_graph: FakeGraph) -> None:
    ada, conv_id = _whatsapp_conversation(capp, cdb)
    fake_graph.fail_next(500, {"error": {"message": "Service temporarily unavailable", "code": 2}})
    r = ada.post(f"/conversations/{conv_id}/messages", {"text": "first try fails"})
    rt(capp).worker.run_once()
    assert fake_graph.sent[-1]["text"]["body"] == "first try fails"
    fake_graph.fail_next(400, {"error": {"message": "Recipient not on WhatsApp", "code": 131026}})
    r = ada.post(f"/conversations/{conv_id}/messages", {"text": "refused"})
    msg = next(m for m in ada.get(f"/conversations/{conv_id}/messages").get_json()["messages"]
               if m["id"] == r.get_json()["id"])
    assert msg["delivery_status"] == "failed" and msg["error"] == {"code": "131026",
                                                                   "message": "Recipient not on WhatsApp"}
    # a failed status callback carries Meta's error code
    ok = ada.post(f"/conversations/{conv_id}/messages", {"text": "will bounce"}).get_json()
    wamid = fake_graph.sent[-1]["id"]
    wa_post(capp.test_client(), wa_payload({"statuses": [{"id": wamid, "status": "failed", "timestamp": "1",
                                                          "recipient_id": WA_ID, "errors": [
                                                              {"code": 131047, "title": "Re-engagement message",
                                                               "error_data": {"details": "More than 24 hours"}}]}]}))
    msg = next(m for m in ada.get(f"/conversations/{conv_id}/messages").get_json()["messages"] if m["id"] == ok["id"])
    assert msg["delivery_status"] == "failed" and msg["error"] == {"code": "131047", "message": "More than 24 hours"}


def test_a_redelivered_batch_in_a_conversation_under_way_is_stored_once(capp: Flask, cdb: Database,
                                                                         fake_graph: FakeGraph) -> None:
    """Meta redelivers a batch it got no 200 for: the messages already stored (here in a conversation
    under way, stored without a look for their id first) are not stored again, the new one is."""
    client = capp.test_client()
    assert wa_post(client, wa_payload(wa_text("wamid.A", "hi"))).status_code == 200
    assert wa_post(client, wa_payload(wa_text("wamid.B", "where is my order"))).status_code == 200
    both = wa_payload(wa_text("wamid.B", "where is my order"), wa_text("wamid.C", "and when"))
    assert wa_post(client, both).status_code == 200
    assert [m.text for m in messages(cdb) if m.sender_type == "contact"] == ["hi", "where is my order", "and when"]
    with cdb.session() as s:
        assert [m.provider_message_id for m in s.scalars(select(Message).where(Message.sender_type == "contact")
                                                         .order_by(Message.id))] == ["wamid.A", "wamid.B", "wamid.C"]
        assert {m.via_channel_id for m in s.scalars(select(Message).where(Message.sender_type == "contact"))} != {None}


def test_a_message_for_an_unknown_phone_number_id_is_acknowledged_and_skipped(capp: Flask, cdb: Database) -> None:
    payload = wa_payload(wa_text("wamid.OTHER", "hi"))
    payload["entry"][0]["changes"][0]["value"]["metadata"]["phone_number_id"] = "999"
    assert wa_post(capp.test_client(), payload).status_code == 200
    assert _count(cdb, Message) == 0


def test_emoji_pass_through_unchanged(capp: Flask, cdb: Database, fake_graph: FakeGraph) -> None:
    ada, conv_id = _whatsapp_conversation(capp, cdb)
    text = "👩🏽‍💻 ok 🇩🇪 — ça va? 你好"
    ada.post(f"/conversations/{conv_id}/messages", {"text": text})
    assert fake_graph.sent[-1]["text"]["body"] == text
    wa_post(capp.test_client(), wa_payload(wa_text("wamid.EMOJI", text)))
    assert messages(cdb)[-1].text == text
    with cdb.session() as s:
        assert s.scalars(select(Conversation)).one().channel == "whatsapp"
    assert WA_PNID
