"""The hot path's database budget, counted (never timed): one customer webchat message answered by the
bot, and one agent reply. Everything the process does for it is counted — the socket handler's
transaction, the bot's turn (claim, look, store, release) and the realtime pushes (the message, the
coalesced conversation summary, the counters) — because under load the CPU per message is the limit
(bench/README.md). A change that adds a statement per message fails here; raise a budget only with a
reason written beside it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from models.db import Database
from tests.support.actors import Agent, Customer, event_payload, make_user
from tests.support.channels import messages, rt, sms, twilio_post
from tests.support.fakes import FakeTwilio
from tests.support.statements import counting, hold_caches


@pytest.fixture(autouse=True)
def _steady_state(monkeypatch: pytest.MonkeyPatch) -> None:
    hold_caches(monkeypatch)  # a cache's periodic re-read is not a per-message cost (tests/support/statements.py)


# One webchat message → the bot's reply, a conversation already under way (the steady state); 41 before
# issue 17, 11 before the answer rode in the message's transaction. The socket handler's one transaction:
# the contact and its open conversation (1), the message (1), the conversation's activity with the bot's
# claim returning the conversation (1), the next message with its history (1), then — the embedded engine
# answering in milliseconds — one conditional UPDATE moving the cursor and giving the claim back (1) and
# the reply (1) (bot/pipeline.py `answer_in`, models/conversations/bot_answers.py). Pushes, before the
# next writer commits so that replies reach browsers in order: each message as its event carries it (0:
# `MessageCreated.stored`, 2 read-backs before) and one summary for the message and its answer (1; the
# message's waits for the turn, console/realtime/listener.py).
MESSAGE_TO_REPLY = 7
# Its commits: one, the message, the answer and the release together (4 before the claim rode in the
# message's transaction, 3 before the answer did).
MESSAGE_TO_REPLY_COMMITS = 1
# PostgreSQL: no write lock to push under before the next writer commits, so the turn runs after the
# message's commit (claim, answer, release and look again: 2 statements and 2 commits more).
PG_MESSAGE_TO_REPLY, PG_MESSAGE_TO_REPLY_COMMITS = 9, 3
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
    budget, commits = ((MESSAGE_TO_REPLY, MESSAGE_TO_REPLY_COMMITS) if db.is_sqlite
                       else (PG_MESSAGE_TO_REPLY, PG_MESSAGE_TO_REPLY_COMMITS))
    assert statements.count <= budget, statements.report()
    assert statements.commits <= commits


# The same message with no console open in the process (`parley run` while no agent watches; no message
# queue, so no other process's console could hear it): the consoles' pushes are not encoded and the
# conversation summary is not read (a console that opens loads its lists itself). One statement fewer.
NO_CONSOLE_MESSAGE_TO_REPLY = MESSAGE_TO_REPLY - 1


def test_a_customer_message_with_no_console_open(app: Flask, db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    import socketio.packet

    if app.extensions["parley"].settings.redis_url:
        pytest.skip("a message queue: every push may be heard by another process's consoles")
    encoded: list[tuple[str, Any]] = []  # (namespace, event name or the ack's payload) of each packet encoded
    encode = socketio.packet.Packet.encode

    def counted(pkt: Any) -> Any:
        encoded.append((pkt.namespace, pkt.data[0] if pkt.data else None))
        return encode(pkt)

    make_user(db, "ada@example.com")
    ada = Agent(app, "ada@example.com")
    ada.socket.get_received("/console")
    ada.socket.disconnect(namespace="/console")  # a console was open, and closed
    customer = Customer(app)
    customer.say("hi")  # the conversation exists: what follows is the steady state
    monkeypatch.setattr(socketio.packet.Packet, "encode", counted)
    with counting(db.engine) as statements:
        ack = customer.say("what are your opening hours")
    assert ack["ok"] is True and customer.replies("bot")[-1] != "Hello! How can I help?"
    # Nothing encoded for the consoles; on /webchat (SQLite: the answer in the message's transaction, no
    # typing) the test client's own packet, the reply (encoded by the server, then again by the test
    # client, which checks that it decodes) and the acknowledgement.
    assert [ns for ns, _ in encoded if ns != "/webchat"] == [], encoded
    if db.is_sqlite:
        assert [name if isinstance(name, str) else "ack" for _, name in encoded] == ["message"] * 3 + ["ack"], encoded
    budget = NO_CONSOLE_MESSAGE_TO_REPLY if db.is_sqlite else PG_MESSAGE_TO_REPLY - 1
    assert statements.count <= budget, statements.report()


def test_the_messages_pushed_without_a_read_back_are_the_stored_ones(app: Flask, db: Database) -> None:
    """The customer's message and the bot's answer go out as their events carry them
    (`MessageCreated.stored`): to the consoles exactly as the push would have read them back, and to the
    widget exactly as its history gives them after a reconnect."""
    from console.realtime.payloads import pushed_message

    make_user(db, "ada@example.com")
    ada = Agent(app, "ada@example.com")
    ada.socket.get_received("/console")
    customer = Customer(app)
    customer.say("hi")
    ada.socket.get_received("/console")
    customer.say("what are your opening hours")
    pushed = [event_payload(p) for p in ada.socket.get_received("/console") if p["name"] == "message"]
    assert [p["sender_type"] for p in pushed] == ["contact", "bot"]
    with db.session() as s:
        read = [json.loads(json.dumps(pushed_message(s, p["id"])[1])) for p in pushed]  # type: ignore[index]
    assert pushed == read
    listed = ada.get(f"/conversations/{pushed[0]['conversation_id']}/messages").get_json()["messages"]
    assert pushed == listed[-2:]
    again = Customer(app, token=customer.token)
    assert again.first("history")["messages"][-1] == customer.events("message")[-1]


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
# webchat (models/conversations/webchat_ingest.py); then its pushes: the message as its event carries it
# (0; read back before) and the summary (1). 17 before issue 17, 6 before the Core path, 5 before
# `MessageCreated.stored`.
PROVIDER_MESSAGE = 4


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


# The bot's turn on a customer's SMS, a conversation under way (after the webhook's acknowledgement, on
# the channel runtime's thread): the claim and the next message with its history (2, one commit); the
# answer — one conditional UPDATE moving the cursor and renewing the lease with the activity, the reply,
# the account the customer wrote to with their number (one look), the outbox row (4, one commit), as
# webchat's answer plus the outbox (models/conversations/bot_answers.py); the claim given back and a look
# for more (2, one commit); the pushes of the reply, read back, and of the summary (2). 13 before: the
# reply through the ORM (the lease renewed apart from the conversation's UPDATE; the customer's number,
# the account's id and the account's row in three looks).
SMS_TURN, SMS_TURN_COMMITS = 10, 3
# Of those, the reply's own: the message, its route and number, its outbox row (6 before).
SMS_REPLY = 3
# Then its delivery, one pass of the outbox worker (connectors/delivery.py): leases gone stale (1); the
# due rows claimed and returned (1); the row with its message, the account, the message's files (3); the
# provider's answer recorded — the row still ours, locked, with its message and conversation (1), their
# two UPDATEs (2); the delivery tick pushed (1); the sweeps for unconfirmed sends and pending media (2).
# 16 before: the claim was a look, the UPDATE and a look for the rows carrying the token; the row, its
# message and its conversation were read one by one, twice.
DELIVERY = 11


def test_the_bot_answers_an_sms_and_queues_its_reply(capp: Flask, cdb: Database, fake_twilio: FakeTwilio) -> None:
    from sqlalchemy import select

    from models.schema.channels import OutboxItem
    from tests.support.channels import CUSTOMER

    after_ack, deliveries = HeldJobs(), HeldJobs()
    rt(capp).after_ack = after_ack
    client = capp.test_client()
    assert twilio_post(client, sms("SM" + "a" * 32, "hi")).status_code == 200  # the conversation exists
    after_ack.run()
    assert len(fake_twilio.sends()) == 1
    rt(capp).worker._submit = deliveries.submit  # the delivery waits: only the turn is counted
    assert twilio_post(client, sms("SM" + "b" * 32, "what are your opening hours")).status_code == 200
    (publish, publish_args), (wake, (conversation_id,)) = after_ack.held
    assert wake.__name__ == "process_conversation"
    publish(*publish_args)
    with counting(cdb.engine) as statements:
        capp.extensions["parley"].pipeline.process(conversation_id)  # what the wake-up runs
    print(f"\n{statements.count} statements, {statements.commits} commits:\n{statements.report()}")
    reply = messages(cdb)[-1]
    assert (reply.sender_type, reply.channel, reply.delivery_status) == ("bot", "sms", "queued")
    with cdb.session() as s:  # queued once, to the customer's number, from the account they wrote to
        queued = [(i.to_address, i.channel_config_id, i.state) for i in s.scalars(
            select(OutboxItem).where(OutboxItem.message_id == reply.id))]
        first = s.scalars(select(OutboxItem).order_by(OutboxItem.id)).first()
    assert first is not None and queued == [(CUSTOMER, first.channel_config_id, "pending")]
    assert statements.count <= SMS_TURN, statements.report()
    assert statements.commits <= SMS_TURN_COMMITS
    reply_statements = [q for q in statements.seen if q.startswith(("INSERT INTO messages", "INSERT INTO outbox"))
                        or "channel_configs" in q or "contact_identities" in q]
    assert len(reply_statements) <= SMS_REPLY, statements.report()
    with counting(cdb.engine) as delivery:
        deliveries.run()  # then it goes out, once
    print(f"\ndelivery: {delivery.count} statements:\n{delivery.report()}")
    assert delivery.count <= DELIVERY, delivery.report()
    assert [r.first("Body") for r in fake_twilio.sends()][1:] == [reply.text]
    assert [m.delivery_status for m in messages(cdb)][-1] == "sent"


# The same message on the production roles (`parley web` + `parley worker`, played here in one process:
# the web role's wake-up is recorded instead of published through Redis, and the worker's turn is run
# as that wake-up runs it). The web's transaction: the contact and its open conversation (1), the
# message (1), the conversation's activity (1) — no claim: a worker takes it. The worker's turn: claim
# returning the conversation and the next message with its history (2), the answer (2), release and
# look again (2). Pushes: each message as its event carries it (0; 2 read-backs before) and one
# conversation summary (1): the worker's, after the answer — the web leaves the summary of a message the
# bot answers at once to the worker's turn, as `parley run` does (13 statements and two summaries before).
ROLES_MESSAGE_TO_REPLY = 10
# Its commits: the message, the claim, the answer, the release.
ROLES_COMMITS = 4
# On PostgreSQL, a BEGIN and a COMMIT per transaction beside the statements, and nothing around the
# pushes' reads (autocommit, `Database.read_session`): 29 before issue 17's production pass (a BEGIN and
# a ROLLBACK around each of the 4 push reads, and the web's summary read).
ROLES_ROUND_TRIPS_PG = ROLES_MESSAGE_TO_REPLY + 2 * ROLES_COMMITS
# What goes through the Socket.IO message queue (a Redis publish each): the customer's message to the
# consoles, typing on, the reply to the widget then to the consoles, the summary, typing off (7 before:
# the web's summary of the customer's message too).
ROLES_PUSHES = 6


def test_a_customer_message_on_the_production_roles(app: Flask, db: Database) -> None:
    from console.realtime.listener import RealtimeListener

    svc = app.extensions["parley"]
    woken: list[tuple[int, int, int]] = []  # (conversation, statements sent, pushes made) when woken
    pushes: list[tuple[str, str]] = []
    listener = next(x for x in db.bus._listeners if isinstance(x, RealtimeListener))
    emit = listener.emit

    def counted_emit(event: str, *args: Any, **kwargs: Any) -> Any:
        pushes.append((event, kwargs.get("namespace", "")))
        return emit(event, *args, **kwargs)

    listener.emit = counted_emit
    make_user(db, "ada@example.com")
    Agent(app, "ada@example.com").socket.get_received("/console")
    customer = Customer(app)
    svc.wake_bot = lambda conversation_id: woken.append((conversation_id, -1, -1))
    customer.say("hi")  # the conversation exists: what follows is the steady state
    svc.pipeline.process(woken[-1][0])
    pushes.clear()
    with counting(db.engine) as statements:
        svc.wake_bot = lambda conversation_id: woken.append((conversation_id, statements.count, len(pushes)))
        ack = customer.say({"text": "what are your opening hours", "client_id": "c0ffee-0002"})
        conversation_id, sent_when_woken, pushed_when_woken = woken[-1]
        assert customer.replies("bot")[-1] == "Hello! How can I help?"  # no turn in the web role
        svc.pipeline.process(conversation_id)  # the worker, woken
    assert ack["ok"] is True
    assert customer.replies("bot")[-1] != "Hello! How can I help?"
    print(f"\n{statements.count} statements, {statements.commits} commits, {statements.begins} begins, "
          f"{statements.rollbacks} rollbacks, pushes {pushes}:\n{statements.report()}")
    # The worker is woken as the message commits, before the consoles' pushes of it (their read, their
    # publish): only the handler's transaction went before.
    assert (sent_when_woken, pushed_when_woken) == (3, 0), statements.report()
    assert statements.count <= ROLES_MESSAGE_TO_REPLY, statements.report()
    assert statements.commits <= ROLES_COMMITS
    if not db.is_sqlite:
        assert statements.round_trips <= ROLES_ROUND_TRIPS_PG, statements.report()
        assert statements.rollbacks == 0  # the pushes read without a transaction
    assert len(pushes) <= ROLES_PUSHES, pushes
    # The reply reaches the widget before the consoles' copy of it.
    replies = [ns for event, ns in pushes if event == "message"][1:]
    assert replies == ["/webchat", "/console"], pushes
    # One summary, the worker's, once the answer is stored.
    assert [event for event, _ in pushes if event in ("message", "conversation")][-2:] == ["message", "conversation"]
    assert sum(event == "conversation" for event, _ in pushes) == 1, pushes


def test_on_the_production_roles_a_turn_that_stores_nothing_still_ends_with_the_summary(
        app: Flask, db: Database) -> None:
    """The web role leaves the summary of the customer's message to the worker's turn: a turn that
    stores nothing (the bot's answer has no words) still pushes it as it ends."""
    from bot.types import BotTurn, Decision

    svc = app.extensions["parley"]
    woken: list[int] = []
    make_user(db, "ada@example.com")
    ada = Agent(app, "ada@example.com")
    customer = Customer(app)
    svc.wake_bot = woken.append
    customer.say("hi")
    svc.pipeline.process(woken[-1])
    ada.socket.get_received("/console")
    customer.say("say nothing")
    pushed = [p["name"] for p in ada.socket.get_received("/console")]
    assert pushed == ["message"]  # the message at once; its summary waits for the turn
    quiet = BotTurn(Decision.ANSWER, (), "quiet", 0.9, engine="rules")
    engines = svc.pipeline.engines
    svc.pipeline.engines = [type("Quiet", (), {"name": "quiet", "answers_in_process": True,
                                                "turn": lambda self, text, context: quiet})()]
    try:
        svc.pipeline.process(woken[-1])
    finally:
        svc.pipeline.engines = engines
    pushed = [p["name"] for p in ada.socket.get_received("/console")]
    assert pushed == ["conversation"], pushed


# The same message when `parley web` answers it itself (`PARLEY_WEB_ANSWERS`, the engines answering in
# process): the handler's one transaction — the contact and its open conversation (1), the message (1),
# the activity taking the bot's claim (1), the next message with its history (1), the answer moving the
# cursor and renewing the claim (1), the reply (1); the pushes: each message as its event carries it (0:
# `MessageCreated.stored`, 2 read-backs before) and the one summary (1); then, once they are out, the
# claim given back and a last look behind its lock (2).
WEB_MESSAGE_TO_REPLY = 9
# Its commits: the message with its answer, and the release (4 when a worker answers).
WEB_COMMITS = 2
# PostgreSQL round trips: a BEGIN and a COMMIT per transaction (20 when a worker answers, 18 since the
# pushes carry their messages); the reply's path to the widget is the first transaction's 8.
WEB_ROUND_TRIPS_PG = WEB_MESSAGE_TO_REPLY + 2 * WEB_COMMITS
# Redis publishes: the customer's message to the consoles, the reply to the widget then to the consoles,
# the summary (6 when a worker answers: no typing frames, and no wake-up).
WEB_PUSHES = 4


def test_a_customer_message_answered_by_the_web_role(app: Flask, db: Database) -> None:
    from sqlalchemy import create_engine, select

    from console.realtime.listener import RealtimeListener
    from models.schema.conversations import Conversation

    svc = app.extensions["parley"]
    other = create_engine(db.engine.url)
    woken: list[int] = []
    pushes: list[tuple[str, str]] = []
    held_while_pushed: list[bool] = []  # the bot's claim, as another process would see it, at each push
    listener = next(x for x in db.bus._listeners if isinstance(x, RealtimeListener))
    emit = listener.emit

    def counted_emit(event: str, *args: Any, **kwargs: Any) -> Any:
        pushes.append((event, kwargs.get("namespace", "")))
        if event == "message":  # (on a connection of its own: not counted)
            with other.connect() as c:
                held_while_pushed.append(c.scalar(select(Conversation.bot_claim_token)) is not None)
        return emit(event, *args, **kwargs)

    make_user(db, "ada@example.com")
    Agent(app, "ada@example.com").socket.get_received("/console")
    customer = Customer(app)
    svc.wake_bot, svc.web_answers = woken.append, True  # the web role, answering (console/runtime/roles.py)
    customer.say("hi")  # the conversation starts (the ORM path): a worker answers that one
    assert len(woken) == 1
    svc.pipeline.process(woken.pop())
    listener.emit = counted_emit
    with counting(db.engine) as statements:
        ack = customer.say({"text": "what are your opening hours", "client_id": "c0ffee-0003"})
    listener.emit = emit
    other.dispose()
    assert ack["ok"] is True
    assert customer.replies("bot")[-2:] == ["Hello! How can I help?", "Your order ships in 3-5 days."]
    assert woken == []  # no worker was needed
    print(f"\n{statements.count} statements, {statements.commits} commits, pushes {pushes}:\n{statements.report()}")
    assert statements.count <= WEB_MESSAGE_TO_REPLY, statements.report()
    assert statements.commits <= WEB_COMMITS
    if not db.is_sqlite:
        assert statements.round_trips <= WEB_ROUND_TRIPS_PG, statements.report()
        assert statements.rollbacks == 0
    assert len(pushes) <= WEB_PUSHES, pushes
    # The customer's message, then the reply to the widget and to the consoles, and one summary after.
    assert pushes == [("message", "/console"), ("message", "/webchat"), ("message", "/console"),
                      ("conversation", "/console")], pushes
    # The claim is held until the pushes are out (no other process's reply can overtake them), then free.
    assert held_while_pushed == [True, True, True]
    with db.session() as s:
        assert s.scalar(select(Conversation.bot_claim_token)) is None
