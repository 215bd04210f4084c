"""Twilio (SMS and WhatsApp through Twilio): signed webhooks in, the outbox out, statuses, media."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select, update

from models.db import Database
from models.schema.base import utcnow
from models.schema.channels import Attachment, OutboxItem
from models.schema.contacts import Contact, ContactIdentity
from models.schema.conversations import Conversation, Message
from models.settings import Settings
from tests.support.actors import Agent, make_user
from tests.support.channels import (
    ACCOUNT_SID,
    CUSTOMER,
    NUMBER,
    PUBLIC,
    messages,
    rt,
    sms,
    twilio_post,
    twilio_signature,
)
from tests.support.fakes import FakeTwilio
from tests.support.storage import BACKENDS, storage_settings

EMPTY_TWIML = b'<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


@pytest.fixture
def settings(request: pytest.FixtureRequest, settings: Settings) -> Settings:
    """The instance folder, or S3-compatible storage for the tests parametrized with `BACKENDS`."""
    return storage_settings(request, settings)


def _count(db: Database, model: type) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def test_signed_sms_is_stored_acked_and_answered_through_the_rest_api(capp: Flask, cdb: Database,
                                                                       fake_twilio: FakeTwilio) -> None:
    r = twilio_post(capp.test_client(), sms("SM" + "a" * 32, "hi there"))
    assert r.status_code == 200 and r.data == EMPTY_TWIML and r.mimetype == "text/xml"
    stored = messages(cdb)
    assert [(m.sender_type, m.channel, m.text) for m in stored] == [
        ("contact", "sms", "hi there"), ("bot", "sms", "Hello! How can I help?")]
    # the bot's reply went out through Twilio's REST API, from our number to the customer
    (sent,) = fake_twilio.sends()
    assert sent.first("To") == CUSTOMER and sent.first("From") == NUMBER
    assert sent.first("Body") == "Hello! How can I help?"
    assert sent.first("StatusCallback") == f"{PUBLIC}/webhooks/twilio/status?ref=o1"
    reply = stored[1]
    assert reply.delivery_status == "sent" and reply.provider_message_id == fake_twilio.messages[0]["sid"]


def test_missing_or_wrong_signature_is_refused_and_nothing_stored(capp: Flask, cdb: Database) -> None:
    client = capp.test_client()
    params = sms("SM" + "b" * 32, "hi")
    assert twilio_post(client, params, signature="").status_code == 403
    assert twilio_post(client, params, token="not-the-token").status_code == 403
    tampered = twilio_signature(f"{PUBLIC}/webhooks/twilio", params)
    assert twilio_post(client, {**params, "Body": "tampered"}, signature=tampered).status_code == 403
    assert _count(cdb, Message) == 0 and _count(cdb, Contact) == 0


def test_signature_holds_behind_a_tls_terminating_proxy(capp: Flask, cdb: Database) -> None:
    """The app sees http://localhost/…, Twilio signed https://parley.example.com/…: PARLEY_PUBLIC_URL decides."""
    client = capp.test_client()
    params = sms("SM" + "c" * 32, "hi")
    internal = twilio_signature("http://localhost/webhooks/twilio", params)
    assert twilio_post(client, params, signature=internal).status_code == 403
    assert twilio_post(client, params, signed_url=f"{PUBLIC}/webhooks/twilio").status_code == 200
    # the query string is part of what Twilio signs
    r = twilio_post(client, sms("SM" + "d" * 32, "hi"), path="/webhooks/twilio?x=1")
    assert r.status_code == 200
    assert _count(cdb, Message) == 4


def test_malformed_payload_is_400_and_nothing_stored(capp: Flask, cdb: Database) -> None:
    client = capp.test_client()
    for params in ({"AccountSid": ACCOUNT_SID, "Body": "no sid"},
                   {k: v for k, v in sms("SM" + "e" * 32, "x").items() if k != "From"},
                   sms("SM" + "f" * 32, "x", NumMedia="lots"),
                   sms("SM" + "0" * 32, "x", NumMedia="1"),  # MediaUrl0 missing
                   sms("SM" + "1" * 32, "x", From="not a number at all, really")):
        assert twilio_post(client, params).status_code == 400, params
    assert _count(cdb, Message) == 0 and _count(cdb, Contact) == 0


def test_unknown_parameters_are_accepted(capp: Flask, cdb: Database) -> None:
    params = sms("SM" + "2" * 32, "hi", SomethingNew="yes", FromCity="SAN FRANCISCO", Latitude="1.0")
    assert twilio_post(capp.test_client(), params).status_code == 200
    assert _count(cdb, Message) == 2


def test_whatsapp_through_twilio_names_the_contact_and_normalises_numbers(capp: Flask, cdb: Database,
                                                                          fake_twilio: FakeTwilio) -> None:
    params = sms("SM" + "3" * 32, "hello 🙂", From="whatsapp:+1 415 555 0123", To=f"whatsapp:{NUMBER}",
                 ProfileName="Kerry 🌻", WaId="14155550123")
    assert twilio_post(capp.test_client(), params).status_code == 200
    with cdb.session() as s:
        contact = s.scalars(select(Contact)).one()
        assert contact.name == "Kerry 🌻" and contact.phone == CUSTOMER
        assert [(i.channel, i.external_id) for i in s.scalars(select(ContactIdentity))] == [("whatsapp", CUSTOMER)]
        conv = s.scalars(select(Conversation)).one()
        assert conv.channel == "whatsapp"
    assert messages(cdb)[0].text == "hello 🙂"
    (sent,) = fake_twilio.sends()
    assert sent.first("To") == f"whatsapp:{CUSTOMER}" and sent.first("From") == f"whatsapp:{NUMBER}"


def test_the_same_number_on_sms_and_whatsapp_is_one_contact(capp: Flask, cdb: Database) -> None:
    client = capp.test_client()
    twilio_post(client, sms("SM" + "4" * 32, "hi"))
    twilio_post(client, sms("SM" + "5" * 32, "hi again", From=f"whatsapp:{CUSTOMER}", To=f"whatsapp:{NUMBER}"))
    with cdb.session() as s:
        assert _count(cdb, Contact) == 1
        conv = s.scalars(select(Conversation)).one()  # the conversation continues across channels
        assert [m.channel for m in s.scalars(select(Message).where(Message.conversation_id == conv.id)
                                             .order_by(Message.id))] == ["sms", "sms", "whatsapp", "whatsapp"]


def test_duplicate_storm_is_stored_once_with_one_bot_reply(capp: Flask, cdb: Database,
                                                           fake_twilio: FakeTwilio) -> None:
    """One MessageSid posted three times at once (a provider retry racing the original)."""
    params = sms("SM" + "6" * 32, "hi")
    barrier = threading.Barrier(3)
    statuses: list[int] = []

    def post() -> None:
        client = capp.test_client()
        barrier.wait()
        statuses.append(twilio_post(client, params).status_code)

    threads = [threading.Thread(target=post) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert statuses == [200, 200, 200]
    assert [(m.sender_type, m.text) for m in messages(cdb)] == [("contact", "hi"), ("bot", "Hello! How can I help?")]
    assert len(fake_twilio.sends()) == 1
    assert _count(cdb, Contact) == 1 and _count(cdb, Conversation) == 1


def test_a_resend_storm_in_a_conversation_under_way_is_stored_once_with_one_bot_reply(
        capp: Flask, cdb: Database, fake_twilio: FakeTwilio) -> None:
    """The steady state (a known customer, a conversation open) stores without looking for the
    provider's id first (models/conversations/webchat_ingest.py): one MessageSid posted three times at
    once, and once more later, is still one message and one bot reply, every post acknowledged."""
    client = capp.test_client()
    assert twilio_post(client, sms("SM" + "c" * 32, "hi")).status_code == 200
    params = sms("SM" + "d" * 32, "what are your opening hours")
    barrier = threading.Barrier(3)
    statuses: list[int] = []

    def post() -> None:
        barrier.wait()
        statuses.append(twilio_post(capp.test_client(), params).status_code)

    threads = [threading.Thread(target=post) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert twilio_post(client, params).status_code == 200  # a retry after the answer
    assert statuses == [200, 200, 200]
    texts = [(m.sender_type, m.text) for m in messages(cdb)]
    assert texts.count(("contact", "what are your opening hours")) == 1
    assert [t for t in texts if t[0] == "bot"] == [("bot", "Hello! How can I help?"), texts[-1]]
    assert len(fake_twilio.sends()) == 2
    assert _count(cdb, Contact) == 1 and _count(cdb, Conversation) == 1


def test_a_profile_name_renames_a_contact_still_named_after_its_number(capp: Flask, cdb: Database) -> None:
    """A conversation under way, the contact named after its number (its first SMS had no name): a
    WhatsApp message with a profile name renames it, as on a first message."""
    client = capp.test_client()
    assert twilio_post(client, sms("SM" + "e" * 32, "hi", From=f"whatsapp:{CUSTOMER}",
                                   To=f"whatsapp:{NUMBER}")).status_code == 200
    with cdb.session() as s:
        assert s.scalars(select(Contact)).one().name == CUSTOMER
    assert twilio_post(client, sms("SM" + "f" * 32, "it's Kerry", From=f"whatsapp:{CUSTOMER}",
                                   To=f"whatsapp:{NUMBER}", ProfileName="Kerry")).status_code == 200
    with cdb.session() as s:
        assert s.scalars(select(Contact)).one().name == "Kerry"
    assert [m.text for m in messages(cdb) if m.sender_type == "contact"] == ["hi", "it's Kerry"]


def test_a_blocked_contact_is_acknowledged_and_ignored(capp: Flask, cdb: Database) -> None:
    client = capp.test_client()
    twilio_post(client, sms("SM" + "7" * 32, "hi"))
    with cdb.transaction() as s:
        s.scalars(select(Contact)).one().blocked_at = utcnow()
    n = _count(cdb, Message)
    assert twilio_post(client, sms("SM" + "8" * 32, "let me in")).status_code == 200
    assert _count(cdb, Message) == n


def _status(client: Any, sid: str, status: str, ref: str | None = None, **extra: str) -> int:
    params = {"MessageSid": sid, "MessageStatus": status, "AccountSid": ACCOUNT_SID, "From": NUMBER,
              "To": CUSTOMER, **extra}
    path = "/webhooks/twilio/status" + (f"?ref={ref}" if ref else "")
    return int(twilio_post(client, params, path=path).status_code)


def test_status_callbacks_only_move_forward_whatever_their_order(capp: Flask, cdb: Database,
                                                                  fake_twilio: FakeTwilio) -> None:
    client = capp.test_client()
    twilio_post(client, sms("SM" + "9" * 32, "hi"))
    sid = fake_twilio.messages[0]["sid"]

    def status() -> tuple[str, str | None]:
        reply = messages(cdb)[1]
        return reply.delivery_status, reply.error_code

    assert _status(client, sid, "delivered") == 200
    assert status() == ("delivered", None)
    for late in ("sent", "queued", "sending", "undelivered"):
        assert _status(client, sid, late, ErrorCode="30003") == 200
        assert status() == ("delivered", None)
    assert _status(client, sid, "read") == 200
    assert status() == ("read", None)
    assert _status(client, sid, "delivered") == 200
    assert status() == ("read", None)
    # unknown message ids are acknowledged (Twilio must not retry them forever)
    assert _status(client, "SM" + "f" * 32, "delivered") == 200
    # bad signature / malformed
    assert twilio_post(client, {"MessageSid": sid, "MessageStatus": "read"}, path="/webhooks/twilio/status",
                       signature="nope").status_code == 403
    assert _status(client, sid, "partially_delivered") == 200  # a word we do not track: acknowledged
    assert status() == ("read", None)
    assert _status(client, sid, "") == 400


def test_a_failure_report_shows_its_error_code_until_delivery_proves_otherwise(capp: Flask, cdb: Database,
                                                                               fake_twilio: FakeTwilio) -> None:
    make_user(cdb, "ada@example.com")
    ada = Agent(capp, "ada@example.com")
    client = capp.test_client()
    twilio_post(client, sms("SM" + "a1" * 16, "hi"))
    sid = fake_twilio.messages[0]["sid"]
    _status(client, sid, "undelivered", ErrorCode="30003", ErrorMessage="Unreachable destination handset")
    conv_id = ada.get("/conversations?view=bot").get_json()["conversations"][0]["id"]
    bot = ada.get(f"/conversations/{conv_id}/messages").get_json()["messages"][1]
    assert bot["delivery_status"] == "failed" and bot["error"]["code"] == "30003"
    _status(client, sid, "delivered")
    bot = ada.get(f"/conversations/{conv_id}/messages").get_json()["messages"][1]
    assert bot["delivery_status"] == "delivered"


def test_status_callback_racing_the_send_finds_the_message_by_reference(capp: Flask, cdb: Database) -> None:
    """Twilio may call back before our worker has recorded the SID: `ref` names our outbox row."""
    client = capp.test_client()
    twilio_post(client, sms("SM" + "b1" * 16, "hi"))
    with cdb.transaction() as s:
        reply = s.scalars(select(Message).where(Message.sender_type == "bot")).one()
        reply.provider_message_id, reply.delivery_status = None, "queued"
    assert _status(client, "SM" + "c1" * 16, "sent", ref="o1") == 200
    reply = messages(cdb)[1]
    assert reply.delivery_status == "sent" and reply.provider_message_id == "SM" + "c1" * 16


def _agent_on_sms_conversation(capp: Flask, cdb: Database) -> tuple[Agent, str]:
    make_user(cdb, "ada@example.com")
    ada = Agent(capp, "ada@example.com")
    twilio_post(capp.test_client(), sms("SM" + "d1" * 16, "I want a person"))
    conv_id = ada.get("/conversations?view=team").get_json()["conversations"][0]["id"]
    return ada, conv_id


def test_retry_after_a_500_and_never_after_a_400(capp: Flask, cdb: Database, fake_twilio: FakeTwilio) -> None:
    ada, conv_id = _agent_on_sms_conversation(capp, cdb)
    before = len(fake_twilio.sends())
    fake_twilio.fail_next(500, {"code": 20500, "message": "Internal Server Error", "status": 500})
    r = ada.post(f"/conversations/{conv_id}/messages", {"text": "Hello from Ada 👋"})
    assert r.status_code == 201 and r.get_json()["channel"] == "sms"
    msg_id = r.get_json()["id"]
    with cdb.session() as s:
        item = s.scalars(select(OutboxItem).where(OutboxItem.message_id == msg_id)).one()
        assert (item.state, item.attempts, item.error_code) == ("pending", 1, "20500")
    rt(capp).worker.run_once()  # the backoff is 0 in tests
    assert len(fake_twilio.sends()) == before + 2
    assert fake_twilio.sends()[-1].first("Body") == "Hello from Ada 👋"
    msgs = ada.get(f"/conversations/{conv_id}/messages").get_json()["messages"]
    assert msgs[-1]["delivery_status"] == "sent" and msgs[-1]["error"] is None

    # a 4xx is final: no retry, the error code is shown with a retry action
    r = ada.post(f"/conversations/{conv_id}/messages", {"text": "second"})
    with cdb.transaction() as s:  # make the customer's number one Twilio refuses
        for ident in s.scalars(select(ContactIdentity)):
            ident.external_id = "+15005550001"
        s.execute(update(OutboxItem).values(to_address="+15005550001")
                  .where(OutboxItem.message_id == r.get_json()["id"] + 1))
    n = len(fake_twilio.sends())
    r = ada.post(f"/conversations/{conv_id}/messages", {"text": "third"})
    failed_id = r.get_json()["id"]
    rt(capp).worker.run_once()
    assert len(fake_twilio.sends()) == n + 1
    failed = next(m for m in ada.get(f"/conversations/{conv_id}/messages").get_json()["messages"]
                  if m["id"] == failed_id)
    assert failed["delivery_status"] == "failed" and failed["error"]["code"] == "21211"
    with cdb.session() as s:
        assert s.scalars(select(OutboxItem).where(OutboxItem.message_id == failed_id)).one().attempts == 1

    # the agent fixes the number and retries
    with cdb.transaction() as s:
        for ident in s.scalars(select(ContactIdentity)):
            ident.external_id = CUSTOMER
        s.execute(update(OutboxItem).values(to_address=CUSTOMER)
                  .where(OutboxItem.message_id == failed_id))
    r = ada.post(f"/messages/{failed_id}/retry")
    assert r.status_code == 200
    assert r.get_json()["delivery_status"] == "sent"
    assert fake_twilio.sends()[-1].first("Body") == "third"
    assert ada.post(f"/messages/{failed_id}/retry").status_code == 422  # only failed messages


def test_retries_give_up_after_the_configured_attempts(capp: Flask, cdb: Database, fake_twilio: FakeTwilio) -> None:
    ada, conv_id = _agent_on_sms_conversation(capp, cdb)
    attempts = rt(capp).settings.outbox_max_attempts
    fake_twilio.fail_next(503, times=attempts)
    msg_id = ada.post(f"/conversations/{conv_id}/messages", {"text": "are you there?"}).get_json()["id"]
    for _ in range(attempts):
        rt(capp).worker.run_once()
    with cdb.session() as s:
        item = s.scalars(select(OutboxItem).where(OutboxItem.message_id == msg_id)).one()
        assert (item.state, item.attempts) == ("failed", attempts)
        assert s.get(Message, msg_id).delivery_status == "failed"  # type: ignore[union-attr]


@pytest.mark.parametrize("settings", BACKENDS, indirect=True)
def test_inbound_media_allowed_and_refused(capp: Flask, cdb: Database, fake_twilio: FakeTwilio) -> None:
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    url_png = fake_twilio.add_media("ME1", png, "image/png")
    url_html = fake_twilio.add_media("ME2", b"<!doctype html><script>alert(1)</script>", "image/png")
    params = sms("SM" + "e1" * 16, "", NumMedia="2", MediaUrl0=url_png, MediaContentType0="image/png",
                 MediaUrl1=url_html, MediaContentType1="image/png")
    assert twilio_post(capp.test_client(), params).status_code == 200
    with cdb.session() as s:
        atts = list(s.scalars(select(Attachment).order_by(Attachment.id)))
    assert [(a.state, a.content_type) for a in atts] == [("ready", "image/png"), ("refused", None)]
    assert "not allowed" in (atts[1].error or "")
    # the media were fetched with the account's credentials
    media_gets = [r for r in fake_twilio.requests if "/Media/" in r.path]
    assert len(media_gets) == 2 and all(r.headers.get("Authorization", "").startswith("Basic ") for r in media_gets)

    make_user(cdb, "ada@example.com")
    make_user(cdb, "bob@example.com", team="Elsewhere")
    ada, bob = Agent(capp, "ada@example.com"), Agent(capp, "bob@example.com")
    conv_id = ada.get("/conversations?view=bot").get_json()["conversations"][0]["id"]
    first = ada.get(f"/conversations/{conv_id}/messages").get_json()["messages"][0]
    files = first["attachments"]
    assert [f["state"] for f in files] == ["ready", "refused"] and files[1]["url"] is None
    r = ada.client.get(files[0]["url"])
    assert r.status_code == 200 and r.data == png and r.mimetype == "image/png"
    assert "sandbox" in r.headers["Content-Security-Policy"]
    assert bob.client.get(files[0]["url"]).status_code == 404  # another team's conversation
    assert capp.test_client().get(files[0]["url"]).status_code == 401


def test_a_bot_reply_that_could_not_be_queued_is_shown_failed_and_can_be_retried(
        capp: Flask, cdb: Database, fake_twilio: FakeTwilio) -> None:
    from models.schema.channels import ChannelConfig

    twilio_post(capp.test_client(), sms("SM" + "f1" * 16, "hi"))
    make_user(cdb, "root@example.com", role="admin")
    admin = Agent(capp, "root@example.com")
    twilio_id = next(c["id"] for c in admin.get("/channels").get_json()["channels"] if c["kind"] == "twilio")
    with cdb.transaction() as s:  # the account is switched off while a message comes in
        s.execute(update(ChannelConfig).where(ChannelConfig.id == twilio_id).values(enabled=False))
    with cdb.transaction() as s:
        from models.conversations.messages import do_send_bot_reply
        conv = s.scalars(select(Conversation)).one()
        reply_id = do_send_bot_reply(s, conv, "still there?", intent=None, confidence=None, decision="answer",
                                     reason=None).id
    conv_id = admin.get("/conversations?view=bot").get_json()["conversations"][0]["id"]
    reply = next(m for m in admin.get(f"/conversations/{conv_id}/messages").get_json()["messages"]
                 if m["id"] == reply_id)
    assert reply["delivery_status"] == "failed" and reply["error"]["code"] == "no_channel"
    assert admin.post(f"/messages/{reply_id}/retry").status_code == 422  # still no channel: a clear refusal
    admin.client.patch(f"/api/v1/channels/{twilio_id}", json={"enabled": True}, headers={"X-CSRF-Token": admin.csrf})
    r = admin.post(f"/messages/{reply_id}/retry")
    assert r.status_code == 200 and r.get_json()["delivery_status"] == "sent"
    assert fake_twilio.sends()[-1].first("Body") == "still there?"
