"""The hot path's database budget, counted (never timed): one customer webchat message answered by the
bot, and one agent reply. Everything the process does for it is counted — the socket handler's
transaction, the bot's turn (claim, look, store, release) and the realtime pushes (the message, the
coalesced conversation summary, the counters) — because under load the CPU per message is the limit
(bench/README.md). A change that adds a statement per message fails here; raise a budget only with a
reason written beside it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from models.db import Database
from tests.support.actors import Agent, Customer, make_user
from tests.support.channels import messages, rt, sms, twilio_post
from tests.support.fakes import FakeTwilio
from tests.support.statements import counting, hold_caches


@pytest.fixture(autouse=True)
def _steady_state(monkeypatch: pytest.MonkeyPatch) -> None:
    hold_caches(monkeypatch)  # a cache's periodic re-read is not a per-message cost (tests/support/statements.py)


# One webchat message → the bot's reply, a conversation already under way (the steady state); 41 before
# issue 17. The socket handler: the contact and its open conversation (1), the message (1), the
# conversation's activity with the bot's claim returning the conversation (1), the next message with its
# history (1) — the turn's first look rides in the message's transaction (console/sockets.py). The
# answer: one conditional UPDATE renewing the lease and moving the cursor, returning the conversation
# (1), the reply (1) (models/conversations/bot_answers.py); release and look again under its lock (2),
# after the reply was pushed so that replies reach browsers in order. Pushes: each message (2) and one
# summary for the message and its answer (1; the message's waits for the turn, console/realtime/listener.py).
MESSAGE_TO_REPLY = 11
# Its commits: the customer's message with the claim, the answer, the release (4 before the claim rode
# in the message's transaction).
MESSAGE_TO_REPLY_COMMITS = 3
# One agent reply in a conversation they are assigned to, another agent watching the team (39 before
# issue 17; the counters of every agent who can see the team are now counted together, in 2 queries;
# the message push reads its author in its own query).
AGENT_REPLY = 19


def test_a_customer_message_answered_by_the_bot(app: Flask, db: Database) -> None:
    make_user(db, "ada@example.com")
    Agent(app, "ada@example.com").socket.get_received("/console")  # someone is watching the console
    customer = Customer(app)
    customer.say("hi")  # the conversation exists: what follows is the steady state
    with counting(db.engine) as statements:
        ack = customer.say({"text": "what are your opening hours", "client_id": "c0ffee-0001"})  # as the widget
    assert ack["ok"] is True
    assert customer.replies("bot")[-1] != "Hello! How can I help?"
    print(f"\n{statements.count} statements, {statements.commits} commits:\n{statements.report()}")
    assert statements.count <= MESSAGE_TO_REPLY, statements.report()
    assert statements.commits <= MESSAGE_TO_REPLY_COMMITS


def test_an_agent_reply(app: Flask, db: Database) -> None:
    make_user(db, "ada@example.com")
    make_user(db, "bob@example.com")
    ada, bob = Agent(app, "ada@example.com"), Agent(app, "bob@example.com")
    bob.socket.get_received("/console")
    customer = Customer(app)
    conv_id = customer.say("a person please")["conversation_id"]
    me = ada.get("/me").get_json()
    assert ada.post(f"/conversations/{conv_id}/assign", {"user_ids": [me["id"]]}).status_code == 200
    ada.socket.get_received("/console")
    with counting(db.engine) as statements:
        r = ada.post(f"/conversations/{conv_id}/messages", {"text": "Hi, I'm Ada."})
    assert r.status_code == 201
    assert customer.replies("agent") == ["Hi, I'm Ada."]
    print(f"\n{statements.count} statements:\n{statements.report()}")
    assert statements.count <= AGENT_REPLY, statements.report()


# A provider's message (SMS/WhatsApp webhook) stored, before the acknowledgement: the contact and its
# open conversation as columns (1), the message — no look for the provider's id first: a resend fails on
# the unique key and its retry looks — and the conversation's activity (2), the Core path shared with
# webchat (models/conversations/webchat_ingest.py); then its pushes, the message and the summary (2).
# 17 before issue 17, 6 before the Core path.
PROVIDER_MESSAGE = 5


def test_a_provider_message_stored(db: Database) -> None:
    from models.conversations.inbound import ingest_provider_message

    def store(n: int) -> None:
        stored = ingest_provider_message(db, channel="sms", provider_message_id=f"SM{n}", sender="+15550100",
                                         sender_name=None, text=f"hello {n}", via_channel_id=None)
        assert stored.created

    store(1)  # the contact and the conversation exist: what follows is the steady state
    with counting(db.engine) as statements:
        store(2)
    assert statements.count <= PROVIDER_MESSAGE, statements.report()


# A signed Twilio webhook, before its acknowledgement: only the message stored (the contact and its open
# conversation, the message and the conversation's activity: 3, in Core; the channel's account is
# cached). Its pushes and the bot's wake-up come after the acknowledgement, in that order, on the channel
# runtime's `after_ack` thread (console/webhooks.py): 6 and the pushes before issue 17, 4 before the
# Core path (the duplicate check went: a resend fails on the unique key, below).
WEBHOOK_BEFORE_ACK = 3


class HeldJobs:
    """A queue whose thread has not run yet: what a webhook handed over, in order, until `run`."""

    def __init__(self) -> None:
        self.held: list[tuple[Callable[..., Any], tuple[Any, ...]]] = []

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        self.held.append((fn, args))

    def run(self) -> None:
        while self.held:
            fn, args = self.held.pop(0)
            fn(*args)

    def shutdown(self, wait: bool = True) -> None:
        return None


def test_a_signed_webhook_before_its_acknowledgement(capp: Flask, cdb: Database, fake_twilio: FakeTwilio) -> None:
    make_user(cdb, "ada@example.com")
    ada = Agent(capp, "ada@example.com")
    ada.socket.get_received("/console")
    after_ack = HeldJobs()
    rt(capp).after_ack = after_ack
    client = capp.test_client()
    assert twilio_post(client, sms("SM" + "a" * 32, "hi")).status_code == 200  # the conversation exists
    after_ack.run()
    ada.socket.get_received("/console")
    with counting(cdb.engine) as statements:
        r = twilio_post(client, sms("SM" + "b" * 32, "what are your opening hours"))
    assert r.status_code == 200
    print(f"\n{statements.count} statements:\n{statements.report()}")
    assert statements.count <= WEBHOOK_BEFORE_ACK, statements.report()
    # acknowledged and committed; nothing pushed and the bot not woken yet: the pushes first, then the bot
    assert [m.text for m in messages(cdb)][-1] == "what are your opening hours"
    assert not [e for e in ada.socket.get_received("/console") if e["name"] == "message"]
    assert [fn.__name__ for fn, _ in after_ack.held] == ["_publish", "process_conversation"]
    after_ack.run()
    pushed = [(e["args"][0] if isinstance(e["args"], list) else e["args"])["text"]
              for e in ada.socket.get_received("/console") if e["name"] == "message"]
    reply = messages(cdb)[-1]
    assert reply.sender_type == "bot"
    # the message, then the bot's reply (again with its delivery tick)
    assert pushed[0] == "what are your opening hours" and set(pushed[1:]) == {reply.text}


# A provider's resend of a message stored already (same MessageSid), a conversation under way: the Core
# path's insert fails on the unique `(channel, provider_message_id)` and rolls back (3: the look, the
# insert: 2), then the ORM path looks (the contact and its open conversation, the provider's id: 2; the
# conversation is in its session already), and stores nothing, wakes nobody.
WEBHOOK_RESEND = 4


def test_a_resend_of_a_stored_message_is_stored_once(capp: Flask, cdb: Database, fake_twilio: FakeTwilio) -> None:
    after_ack = HeldJobs()
    rt(capp).after_ack = after_ack
    client = capp.test_client()
    assert twilio_post(client, sms("SM" + "a" * 32, "hi")).status_code == 200
    assert twilio_post(client, sms("SM" + "b" * 32, "where is my order")).status_code == 200
    after_ack.run()
    with counting(cdb.engine) as statements:
        r = twilio_post(client, sms("SM" + "b" * 32, "where is my order"))
    assert r.status_code == 200
    assert [(m.sender_type, m.text) for m in messages(cdb) if m.sender_type == "contact"] == [
        ("contact", "hi"), ("contact", "where is my order")]
    assert after_ack.held == []  # nothing pushed, the bot not woken again
    print(f"\n{statements.count} statements:\n{statements.report()}")
    assert statements.count <= WEBHOOK_RESEND, statements.report()
    assert statements.commits == 1  # the ORM path's look, which wrote nothing; the failed insert rolled back


# The first message from a number nobody knows, before its acknowledgement: the contact and its open
# conversation (1); the number on the other phone channel, then as a contact's phone (2); the contact and
# its identity (2); the number's inbox (1); the conversation and the message (2). A contact created in
# this transaction has no open conversation and no presets to look for, and its message is looked for
# only on a retry (the unique provider id). 12 before issue 17 (the contact was looked up twice), 11
# before those three went.
FIRST_WEBHOOK_BEFORE_ACK = 8


def test_the_first_webhook_from_a_new_number(capp: Flask, cdb: Database, fake_twilio: FakeTwilio) -> None:
    rt(capp).after_ack = HeldJobs()
    client = capp.test_client()
    assert twilio_post(client, sms("SM" + "a" * 32, "hi", sender="+14155550100")).status_code == 200
    with counting(cdb.engine) as statements:
        r = twilio_post(client, sms("SM" + "b" * 32, "hi", sender="+14155550199"))
    assert r.status_code == 200
    assert [m.text for m in messages(cdb)] == ["hi", "hi"]
    print(f"\n{statements.count} statements:\n{statements.report()}")
    assert statements.count <= FIRST_WEBHOOK_BEFORE_ACK, statements.report()
