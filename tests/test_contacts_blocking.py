"""Blocking a contact: who may, the reason's limit, and what a blocked contact's messages do on every
channel (kept apart for admins, stored once, starting nothing and reaching nobody)."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import func, select

from models.db import Database
from models.schema.accounts import AuditEvent
from models.schema.contacts import BlockedMessage, Contact
from models.schema.conversations import Conversation, Message
from tests.support.actors import Agent
from tests.support.channels import CUSTOMER, sms, twilio_post, wa_payload, wa_post, wa_text
from tests.support.fakes import FakeGraph, FakeTwilio
from tests.support.routing import agent, console_events, handoff


def _count(db: Database, model: type) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def _delete(a: Agent, path: str) -> Any:
    return a.client.delete(f"/api/v1{path}", headers={"X-CSRF-Token": a.csrf})


def _contact_id(a: Agent, conv_id: str) -> int:
    return int(a.get(f"/conversations/{conv_id}").get_json()["contact"]["id"])


def test_who_may_block_and_unblock_and_the_reason_limit(app: Flask, db: Database) -> None:
    ada = agent(app, db, "ada@example.com", online=False)
    sup = agent(app, db, "sup@example.com", role="supervisor", online=False)
    other = agent(app, db, "olga@example.com", team="Billing", online=False)
    _, conv_id = handoff(app)
    contact_id = _contact_id(ada, conv_id)

    r = ada.post(f"/contacts/{contact_id}/block", {"reason": "x" * 251})
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "reason_too_long"
    assert ada.post(f"/contacts/{contact_id}/block", {"reason": 7}).status_code == 400
    # an agent of another team sees none of its conversations: the contact is unknown to them
    assert other.post(f"/contacts/{contact_id}/block", {}).status_code == 404

    r = ada.post(f"/contacts/{contact_id}/block", {"reason": "y" * 250})
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["open_conversation"] == conv_id  # the agent is asked to end it: it is not closed for them
    blocked = body["contact"]["blocked"]
    assert blocked["reason"] == "y" * 250 and blocked["by"]["email"] == "ada@example.com" and blocked["at"]
    conv = ada.get(f"/conversations/{conv_id}").get_json()
    assert conv["status"] == "open" and conv["contact"]["blocked"] is True  # the console shows it
    with db.session() as s:
        kinds = list(s.scalars(select(AuditEvent.kind).where(AuditEvent.kind.like("contact.%"))))
    assert kinds == ["contact.blocked"]

    assert _delete(ada, f"/contacts/{contact_id}/block").status_code == 403  # lifting it is a supervisor's act
    assert _delete(sup, f"/contacts/{contact_id}/block").status_code == 204
    assert ada.get(f"/contacts/{contact_id}").get_json()["blocked"] is None
    r = _delete(sup, f"/contacts/{contact_id}/block")
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "not_blocked"


def test_a_blocked_webchat_customer_starts_nothing_and_admins_see_what_they_sent(app: Flask, db: Database) -> None:
    ada = agent(app, db, "ada@example.com", online=False)
    admin = agent(app, db, "admin@example.com", role="admin", online=False)
    customer, conv_id = handoff(app)
    contact_id = _contact_id(ada, conv_id)
    before = ada.counters()
    assert before["unreplied"] == 1
    assert ada.post(f"/contacts/{contact_id}/block", {"reason": "abusive"}).status_code == 200
    messages, conversations = _count(db, Message), _count(db, Conversation)
    ada.socket.get_received("/console")

    ack = customer.say("you cannot stop me")
    assert ack["ok"] is False and ack["error"]["code"] == "blocked"
    assert (_count(db, Message), _count(db, Conversation)) == (messages, conversations)
    assert ada.counters() == before  # nothing reached the agent: no unreplied, no unread
    assert console_events(ada, "message") == []
    assert [m["text"] for m in ada.get(f"/conversations/{conv_id}/messages").get_json()["messages"]
            if m["sender_type"] == "contact"] == ["a person please"]  # history stays

    # the agent ends the open conversation; the next message still starts none
    assert ada.post(f"/conversations/{conv_id}/close").status_code == 200
    assert customer.say("hello?")["ok"] is False
    assert _count(db, Conversation) == conversations

    # admins see the blocked contacts and what they sent; agents do not
    assert ada.get("/contacts/blocked").status_code == 403
    assert ada.get(f"/contacts/{contact_id}/blocked-messages").status_code == 403
    listed = admin.get("/contacts/blocked").get_json()["contacts"]
    assert [(c["id"], c["blocked_messages"], c["blocked"]["reason"]) for c in listed] == [(contact_id, 2, "abusive")]
    sent = admin.get(f"/contacts/{contact_id}/blocked-messages").get_json()["messages"]
    assert [(m["channel"], m["text"]) for m in sent] == [("webchat", "hello?"), ("webchat", "you cannot stop me")]

    # unblocked, the customer can start again
    assert _delete(admin, f"/contacts/{contact_id}/block").status_code == 204
    ack = customer.say("sorry")
    assert ack["ok"] is True and ack["conversation_id"] != conv_id


def test_a_blocked_contact_on_sms_and_whatsapp_is_acknowledged_and_stored_once(
        capp: Flask, cdb: Database, fake_twilio: FakeTwilio, fake_graph: FakeGraph) -> None:
    admin = agent(capp, cdb, "admin@example.com", role="admin", online=False)
    client = capp.test_client()
    assert twilio_post(client, sms("SM" + "1" * 32, "hi")).status_code == 200
    sent_before = len(fake_twilio.sends())
    assert sent_before == 1  # the bot answered
    with cdb.session() as s:
        contact_id = s.scalars(select(Contact.id)).one()
    assert admin.post(f"/contacts/{contact_id}/block", {"reason": None}).status_code == 200
    messages, conversations = _count(cdb, Message), _count(cdb, Conversation)

    for _ in range(2):  # the provider retries: acknowledged both times, stored once
        r = twilio_post(client, sms("SM" + "2" * 32, "let me in"))
        assert r.status_code == 200
    payload = wa_payload(wa_text("wamid.B1", "on whatsapp now", sender=CUSTOMER.lstrip("+")))
    for _ in range(2):
        r = wa_post(client, payload)
        assert r.status_code == 200
    # a retry of a message stored before the block is not stored again either
    assert twilio_post(client, sms("SM" + "1" * 32, "hi")).status_code == 200

    assert (_count(cdb, Message), _count(cdb, Conversation)) == (messages, conversations)
    assert len(fake_twilio.sends()) == sent_before and fake_graph.sent == []  # no bot, no agent answered
    sent = admin.get(f"/contacts/{contact_id}/blocked-messages").get_json()["messages"]
    assert sorted((m["channel"], m["text"]) for m in sent) == [("sms", "let me in"), ("whatsapp", "on whatsapp now")]
    assert _count(cdb, BlockedMessage) == 2


def test_a_merge_keeps_the_block_and_what_the_blocked_contact_sent(capp: Flask, cdb: Database) -> None:
    sup = agent(capp, cdb, "sup@example.com", role="supervisor", online=False)
    customer, web_conv = handoff(capp)
    web_contact = _contact_id(sup, web_conv)
    sup.post(f"/conversations/{web_conv}/close")
    twilio_post(capp.test_client(), sms("SM" + "3" * 32, "hi"))
    with cdb.session() as s:
        sms_contact = s.scalars(select(Contact.id).where(Contact.id != web_contact)).one()
    assert sup.post(f"/contacts/{sms_contact}/block", {"reason": "spam"}).status_code == 200
    twilio_post(capp.test_client(), sms("SM" + "4" * 32, "spam spam"))
    assert sup.post(f"/contacts/{web_contact}/merge", {"contact_id": sms_contact}).status_code == 200
    merged = sup.get(f"/contacts/{web_contact}").get_json()
    assert merged["blocked"]["reason"] == "spam"
    with cdb.session() as s:
        assert list(s.scalars(select(BlockedMessage.contact_id))) == [web_contact]
    assert customer.say("still me")["ok"] is False


def test_a_blocked_webchat_customers_file_is_refused_and_only_its_name_kept(capp: Flask, cdb: Database) -> None:
    import io

    admin = agent(capp, cdb, "admin@example.com", role="admin", online=False)
    customer, conv_id = handoff(capp)
    contact_id = _contact_id(admin, conv_id)
    assert admin.post(f"/contacts/{contact_id}/block", {}).status_code == 200
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 100
    r = capp.test_client().post("/webchat/upload", data={"token": customer.token, "file": (io.BytesIO(png), "me.png")},
                                content_type="multipart/form-data")
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "blocked"
    sent = admin.get(f"/contacts/{contact_id}/blocked-messages").get_json()["messages"]
    assert [(m["text"], m["media_count"]) for m in sent] == [("[file: me.png]", 1)]
    assert _count(cdb, Message) == len(admin.get(f"/conversations/{conv_id}/messages").get_json()["messages"])
