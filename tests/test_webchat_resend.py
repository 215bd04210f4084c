"""A widget that resends a message whose acknowledgement was lost gets it stored once, answered once."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import func, select

from models.db import Database
from models.schema.conversations import Message
from tests.support.actors import Customer


def test_the_same_client_id_twice_is_one_message_and_one_answer(app: Flask, db: Database) -> None:
    customer = Customer(app)
    first = customer.say({"text": "hi", "client_id": "msg-0001-abcd"})
    again = customer.say({"text": "hi", "client_id": "msg-0001-abcd"})
    assert first["ok"] and again["ok"]
    assert again["id"] == first["id"] and again["conversation_id"] == first["conversation_id"]
    with db.session() as s:
        texts = s.scalars(select(Message.sender_type).order_by(Message.id)).all()
    assert texts == ["contact", "bot"]  # one message, one bot answer


def test_client_ids_belong_to_their_visitor(app: Flask, db: Database) -> None:
    ada, bob = Customer(app), Customer(app)
    a = ada.say({"text": "hi", "client_id": "same-id-123"})
    b = bob.say({"text": "hi", "client_id": "same-id-123"})
    assert a["ok"] and b["ok"] and a["id"] != b["id"] and a["conversation_id"] != b["conversation_id"]


def test_a_malformed_client_id_is_refused_and_nothing_is_stored(app: Flask, db: Database) -> None:
    customer = Customer(app)
    for bad in ({"x": 1}, "short", "has spaces in it", "a" * 65, 12345678):
        ack = customer.say({"text": "hi", "client_id": bad})
        assert ack["ok"] is False and ack["error"]["code"] == "invalid"
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Message)) == 0
    assert customer.say({"text": "hi"})["ok"]  # without an id the widget still works (older widgets)
