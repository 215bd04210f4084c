"""A webchat customer's message in a conversation under way takes the Core path
(models/conversations/webchat_ingest.py); it must write what the ORM path writes: the activity, the
start of the unreplied wait while a human owns the conversation, and the live pushes that follow."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select

from models.db import Database
from models.schema.conversations import Conversation, Message, SenderType
from tests.support.actors import Agent, Customer, event_payload, make_user


def _conversation(db: Database, public_id: str) -> tuple[Conversation, Message]:
    with db.session() as s:
        conv = s.scalar(select(Conversation).where(Conversation.public_id == public_id))
        assert conv is not None
        last = s.scalar(select(Message).where(Message.conversation_id == conv.id,
                                              Message.sender_type == SenderType.CONTACT.value)
                        .order_by(Message.id.desc()).limit(1))
        assert last is not None
        return conv, last


def test_a_customer_message_to_a_human_starts_the_wait_once(app: Flask, db: Database) -> None:
    make_user(db, "ada@example.com")
    ada = Agent(app, "ada@example.com")
    customer = Customer(app)
    conv_id = customer.say("a person please")["conversation_id"]  # handed off: a human owns it
    assert ada.post(f"/conversations/{conv_id}/messages", {"text": "Hi, I'm Ada."}).status_code == 201
    conv, _ = _conversation(db, conv_id)
    assert conv.waiting_since is None  # answered

    ada.socket.get_received("/console")
    ack = customer.say({"text": "one more thing", "client_id": "k-000000001"})
    conv, msg = _conversation(db, conv_id)
    assert ack["id"] == msg.id and msg.text == "one more thing" and msg.provider_message_id is not None
    assert conv.waiting_since == msg.created_at == conv.last_activity_at
    pushed = {p["name"]: event_payload(p) for p in ada.socket.get_received("/console")}
    assert pushed["message"]["id"] == msg.id
    assert pushed["counters"]["unreplied"] == 1  # a human-owned conversation's counters move
    assert pushed["conversation"]["waiting_since"] == ack["created_at"]

    customer.say("and another")
    conv, msg = _conversation(db, conv_id)
    assert conv.last_activity_at == msg.created_at and conv.waiting_since != msg.created_at  # kept from the first
    assert ada.counters()["unreplied"] == 2


def test_a_bot_owned_conversation_has_no_wait(app: Flask, db: Database) -> None:
    customer = Customer(app)
    conv_id = customer.say("hi")["conversation_id"]
    customer.say("what are your opening hours")
    conv, msg = _conversation(db, conv_id)
    assert conv.waiting_since is None
    assert conv.last_activity_at >= msg.created_at  # the bot's reply came after
