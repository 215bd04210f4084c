"""Issue 14: broadcasts. One message to a tag or to picked contacts, each in their own conversation
through the outbox; blocked, opted-out (SMS STOP) and unreachable contacts skipped and counted; the
delivery status of each recipient; replies land in the recipient's conversation."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from models.db import Database
from models.schema.base import utcnow
from models.schema.broadcasts import ContactTag
from models.schema.channels import OutboxItem
from models.schema.contacts import Contact, ContactIdentity
from models.schema.conversations import Conversation, Message
from models.settings import Settings
from tests.support.actors import Agent, make_user
from tests.support.channels import ACCOUNT_SID, NUMBER, make_channel_app, rt, sms, twilio_post
from tests.support.fakes import FakeGraph, FakeTwilio


@pytest.fixture
def bapp(settings: Settings, engines: list[Any], channel_env: dict[str, str]) -> Iterator[Flask]:
    app = make_channel_app(settings.with_(broadcast_rate=0.0), engines, channel_env)
    yield app
    app.extensions["parley"].db.dispose()


@pytest.fixture
def bdb(bapp: Flask) -> Database:
    database: Database = bapp.extensions["parley"].db
    return database


@pytest.fixture
def sue(bapp: Flask, bdb: Database) -> Agent:
    make_user(bdb, "sue@example.com", role="supervisor")
    return Agent(bapp, "sue@example.com")


def number(i: int) -> str:
    return f"+1415555{i:04d}"


def make_contacts(db: Database, first: int, n: int, *, tag: str | None = "spring sale",
                  channels: tuple[str, ...] = ("sms",)) -> list[int]:
    with db.transaction() as s:
        made = []
        for i in range(first, first + n):
            c = Contact(name=f"Customer {i}", phone=number(i))
            c.identities.extend(ContactIdentity(channel=ch, external_id=number(i)) for ch in channels)
            s.add(c)
            s.flush()
            if tag:
                s.add(ContactTag(contact_id=c.id, tag=tag))
            made.append(c.id)
        return made


def tag_contact(db: Database, contact_id: int, tag: str = "spring sale") -> None:
    with db.transaction() as s:
        s.add(ContactTag(contact_id=contact_id, tag=tag))


def contact_of(db: Database, address: str) -> int:
    with db.session() as s:
        found = s.scalar(select(ContactIdentity.contact_id).where(ContactIdentity.external_id == address))
        assert found is not None
        return found


def test_a_tag_of_50_sends_50_and_skips_the_blocked_and_the_opted_out(
        bapp: Flask, bdb: Database, sue: Agent, fake_twilio: FakeTwilio) -> None:
    client = bapp.test_client()
    reachable = make_contacts(bdb, 0, 50)
    blocked = make_contacts(bdb, 100, 2)
    with bdb.transaction() as s:
        for cid in blocked:
            c = s.get(Contact, cid)
            assert c is not None
            c.blocked_at = utcnow()
    # three customers text STOP (Twilio's keywords, any case); one of them changes their mind
    for i, word in enumerate(["STOP", "unsubscribe", "Stop", "stop"]):
        assert twilio_post(client, sms(f"SM{i:032d}", word, sender=number(200 + i))).status_code == 200
    assert twilio_post(client, sms("SM" + "9" * 32, "START", sender=number(203))).status_code == 200
    for i in range(4):
        tag_contact(bdb, contact_of(bdb, number(200 + i)))
    with bdb.transaction() as s:  # one without any number: an email-only contact
        c = Contact(name="Mail only", email="m@example.com")
        s.add(c)
        s.flush()
        s.add(ContactTag(contact_id=c.id, tag="spring sale"))
    # one reachable customer already talks to us: the broadcast joins that conversation
    assert twilio_post(client, sms("SM" + "8" * 32, "hello there", sender=number(7))).status_code == 200
    with bdb.session() as s:
        convs_before = s.scalar(select(func.count()).select_from(Conversation))
        open_of_7 = s.scalar(select(Conversation.id).where(Conversation.contact_id == reachable[7]))
    sent_before = len(fake_twilio.sends())

    r = sue.post("/broadcasts", {"tag": "Spring Sale", "channel": "sms", "text": "Spring sale: 20% off this week"})
    assert r.status_code == 202, r.get_json()
    b = r.get_json()
    counts = b["counts"]
    assert counts["queued"] + counts["sent"] == 51  # the outbox may have sent some already (inline jobs)
    assert {k: v for k, v in counts.items() if k not in ("queued", "sent")} == {
        "recipients": 57, "pending": 0, "delivered": 0, "read": 0, "failed": 0, "skipped_blocked": 2,
        "skipped_opted_out": 3, "skipped_no_address": 1}
    with bdb.session() as s:
        # 50 + the customer who texted START again; two of them (7, and 203 since START) had one open
        assert s.scalar(select(func.count()).select_from(Conversation)) == (convs_before or 0) + 51 - 2
        assert (s.scalar(select(func.count()).select_from(OutboxItem)) or 0) >= 51
        joined = s.scalars(select(Message.conversation_id).where(Message.text.like("Spring sale%"))).all()
        assert len(joined) == 51 and len(set(joined)) == 51 and open_of_7 in joined
        new = s.scalar(select(Conversation).where(Conversation.contact_id == reachable[0]))
        assert new is not None and (new.status, new.owner, new.channel) == ("open", "bot", "sms")
    rt(bapp).worker.run_once()
    to = {x.first("To") for x in fake_twilio.sends()[sent_before:]}
    assert len(to) == 51 and number(0) in to and number(203) in to
    assert not to & {number(100), number(101), number(200), number(201), number(202)}

    got = sue.get(f"/broadcasts/{b['id']}?limit=1000").get_json()
    assert got["state"] == "done" and got["counts"]["sent"] == 51 and got["counts"]["queued"] == 0
    rows = {row["contact_id"]: row for row in got["recipients"]}
    assert rows[blocked[0]]["status"] == "skipped_blocked"
    assert rows[contact_of(bdb, number(200))]["status"] == "skipped_opted_out"
    # the provider reports one delivered: that recipient, and the summary, say so
    sid = next(m["sid"] for m in fake_twilio.messages if m["to"] == number(3))
    params = {"MessageSid": sid, "MessageStatus": "delivered", "AccountSid": ACCOUNT_SID, "From": NUMBER,
              "To": number(3)}
    assert twilio_post(client, params, path="/webhooks/twilio/status").status_code == 200
    got = sue.get(f"/broadcasts/{b['id']}?limit=1000").get_json()
    assert got["counts"]["delivered"] == 1 and got["counts"]["sent"] == 50
    assert {row["contact_id"]: row for row in got["recipients"]}[reachable[3]]["status"] == "delivered"
    # a reply routes like any customer message: into that recipient's conversation
    assert twilio_post(client, sms("SM" + "7" * 32, "Is it on shoes too?", sender=number(3))).status_code == 200
    with bdb.session() as s:
        reply = s.scalar(select(Message).where(Message.text == "Is it on shoes too?"))
        assert reply is not None
        conv = s.get(Conversation, reply.conversation_id)
        assert conv is not None and conv.public_id == rows[reachable[3]]["conversation_id"]
    assert [x["id"] for x in sue.get("/broadcasts").get_json()["broadcasts"]] == [b["id"]]


def test_whatsapp_takes_an_approved_template_only(bapp: Flask, bdb: Database, sue: Agent,
                                                  fake_graph: FakeGraph) -> None:
    ids = make_contacts(bdb, 300, 3, tag="vip", channels=("sms", "whatsapp"))
    r = sue.post("/broadcasts", {"contact_ids": ids, "channel": "whatsapp", "text": "Hello!"})
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "template_required"
    r = sue.post("/broadcasts", {"tag": "vip", "channel": "whatsapp", "template": {"name": "nope"}})
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "no_template"
    r = sue.post("/broadcasts", {"tag": "vip", "channel": "whatsapp",
                                 "template": {"name": "order_update", "params": ["friend"]}})
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "variables"
    with bdb.session() as s:
        assert s.scalar(select(func.count()).select_from(Conversation)) == 0  # nothing half-made
    r = sue.post("/broadcasts", {"tag": "vip", "channel": "whatsapp",
                                 "template": {"name": "order_update", "params": ["friend", "A-1"]}})
    assert r.status_code == 202, r.get_json()
    counts = r.get_json()["counts"]
    assert counts["queued"] + counts["sent"] == 3 and r.get_json()["template"] == "order_update"
    rt(bapp).worker.run_once()
    sent = [x.json() for x in fake_graph.sends()]
    assert r.get_json()["text"] == "Hi friend, your order A-1 has shipped."  # what each conversation shows
    assert len(sent) == 3 and all(x["type"] == "template" for x in sent)
    assert {x["to"] for x in sent} == {number(i).lstrip("+") for i in range(300, 303)}


def test_who_may_broadcast_and_bad_requests(bapp: Flask, bdb: Database, sue: Agent) -> None:
    ids = make_contacts(bdb, 400, 2)
    make_user(bdb, "ada@example.com")
    ada = Agent(bapp, "ada@example.com")
    r = ada.post("/broadcasts", {"contact_ids": ids, "channel": "sms", "text": "hi"})
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "broadcast_role"
    assert ada.get("/broadcasts").status_code == 403
    for body, code in [({"channel": "sms", "text": "hi"}, "recipients"),
                       ({"tag": "x", "contact_ids": ids, "channel": "sms", "text": "hi"}, "recipients"),
                       ({"contact_ids": ids, "channel": "sms"}, "text_and_template"),
                       ({"tag": "nobody has it", "channel": "sms", "text": "hi"}, "no_recipients"),
                       ({"contact_ids": [999999], "channel": "sms", "text": "hi"}, "no_recipients"),
                       ({"contact_ids": ids, "channel": "sms", "template": {"name": "order_update"}},
                        "template_not_whatsapp")]:
        r = sue.post("/broadcasts", body)
        assert r.status_code == 400 and r.get_json()["error"]["code"] == code, (body, r.get_json())
    assert sue.post("/broadcasts", {"contact_ids": ids, "channel": "fax", "text": "hi"}).status_code == 400
    assert sue.get("/broadcasts/12345").status_code == 404


def test_sends_are_paced_through_the_outbox(settings: Settings, engines: list[Any], channel_env: dict[str, str],
                                            fake_twilio: FakeTwilio) -> None:
    app = make_channel_app(settings.with_(broadcast_rate=5.0), engines, channel_env)
    db: Database = app.extensions["parley"].db
    try:
        make_user(db, "sue@example.com", role="supervisor")
        sue = Agent(app, "sue@example.com")
        ids = make_contacts(db, 500, 10)
        assert sue.post("/broadcasts", {"contact_ids": ids, "channel": "sms", "text": "hi"}).status_code == 202
        with db.session() as s:
            times = list(s.scalars(select(OutboxItem.next_attempt_at).order_by(OutboxItem.id)))
        span = (max(times) - min(times)).total_seconds()
        assert 1.6 <= span <= 2.5  # 10 messages at 5 a second
        rt(app).worker.run_once()
        # Only what was due went, each no earlier than its time (a loaded machine may reach the later ones
        # before the worker stops looking: that is on time too, not a burst ahead of the schedule).
        with db.session() as s:
            claimed = s.execute(select(OutboxItem.next_attempt_at, OutboxItem.attempt_started_at)
                                .where(OutboxItem.attempt_started_at.is_not(None))).all()
        assert 1 <= len(fake_twilio.sends()) == len(claimed)
        assert all(started >= due for due, started in claimed)
    finally:
        db.dispose()


class DroppedOnce:
    """Background work whose first job is lost (its process died), then runs inline."""

    def __init__(self) -> None:
        self.dropped = 0

    def submit(self, fn: Any, *args: Any) -> None:
        if fn.__name__ == "process_broadcast" and not self.dropped:
            self.dropped += 1
            return
        fn(*args)

    def shutdown(self, wait: bool = True) -> None:
        return None


def test_a_broadcast_cut_short_is_resumed_without_sending_twice(settings: Settings, engines: list[Any],
                                                                 channel_env: dict[str, str],
                                                                 fake_twilio: FakeTwilio) -> None:
    app = make_channel_app(settings.with_(broadcast_rate=0.0), engines, channel_env, jobs=DroppedOnce())
    db: Database = app.extensions["parley"].db
    try:
        make_user(db, "sue@example.com", role="supervisor")
        sue = Agent(app, "sue@example.com")
        ids = make_contacts(db, 600, 4)
        r = sue.post("/broadcasts", {"contact_ids": ids, "channel": "sms", "text": "resumed"})
        assert r.status_code == 202 and r.get_json()["counts"]["pending"] == 4
        assert r.get_json()["state"] == "sending"
        b = r.get_json()["id"]
        again = sue.post(f"/broadcasts/{b}/resume")
        assert again.status_code == 202 and again.get_json()["counts"]["pending"] == 0
        assert sue.post(f"/broadcasts/{b}/resume").get_json()["state"] == "done"  # twice: nothing more
        rt(app).worker.run_once()
        assert sorted(x.first("To") or "" for x in fake_twilio.sends() if x.first("Body") == "resumed") == [
            number(i) for i in range(600, 604)]
    finally:
        db.dispose()


def test_the_bot_says_nothing_to_an_sms_stop_and_answers_again_after_start(
        bapp: Flask, bdb: Database, fake_twilio: FakeTwilio) -> None:
    client = bapp.test_client()
    customer = number(300)

    def bot_texts() -> list[str]:
        with bdb.session() as s:
            return list(s.scalars(select(Message.text).where(Message.sender_type == "bot").order_by(Message.id)))

    assert twilio_post(client, sms("SM" + "1" * 32, "hello", sender=customer)).status_code == 200
    answered = len(bot_texts())
    assert answered >= 1  # the bot answers an ordinary message
    assert twilio_post(client, sms("SM" + "2" * 32, "Stop", sender=customer)).status_code == 200
    assert len(bot_texts()) == answered  # Twilio confirms a STOP itself and would refuse our reply
    with bdb.session() as s:  # the agents still see it in the conversation
        assert s.scalar(select(func.count()).select_from(Message).where(Message.text == "Stop")) == 1
    assert twilio_post(client, sms("SM" + "3" * 32, "START", sender=customer)).status_code == 200
    assert twilio_post(client, sms("SM" + "4" * 32, "hello again", sender=customer)).status_code == 200
    assert len(bot_texts()) > answered  # back in: answered again
