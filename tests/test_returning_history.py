"""Issue 14: a returning customer's history. The agent sees the contact's earlier conversations above the
new one (those they may see); the webchat shows the customer their own earlier messages, read-only: only
theirs, the bot's and the agents' replies on webchat, never private notes, never another contact's."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select

from models.db import Database
from models.schema.conversations import Conversation
from tests.support.actors import Agent, Customer, make_user


def _first_visit(app: Flask, sue: Agent) -> tuple[Customer, str]:
    kim = Customer(app)
    kim.say("my parcel <b>42</b> is late, I want a person")
    conv_id = kim.first("message")["conversation_id"]
    assert sue.post(f"/conversations/{conv_id}/messages", {"text": "Sorry Kim, it ships today."}).status_code == 201
    assert sue.post(f"/conversations/{conv_id}/messages",
                    {"text": "NOTE: customer was rude", "private": True}).status_code == 201
    assert sue.post(f"/conversations/{conv_id}/close").status_code == 200
    return kim, conv_id


def test_the_agent_sees_earlier_conversations_they_may_see(app: Flask, db: Database) -> None:
    make_user(db, "sue@example.com", role="supervisor")
    sue = Agent(app, "sue@example.com")
    kim, first = _first_visit(app, sue)
    kim.sock.disconnect(namespace="/webchat")
    back = Customer(app, kim.token)
    back.say("me again, I want a person")
    second = next(m for m in back.events("message") if m["conversation_id"] != first)["conversation_id"]
    hist = sue.get(f"/conversations/{second}/history")
    assert hist.status_code == 200, hist.get_json()
    earlier = hist.get_json()["earlier"]
    assert [e["id"] for e in earlier] == [first]
    assert earlier[0]["status"] == "closed" and earlier[0]["notes"] == 1 and earlier[0]["messages"] >= 4
    assert sue.get(f"/conversations/{first}/history").get_json()["earlier"] == []  # nothing before the first
    # expanding it is the conversation's own messages endpoint
    texts = [m["text"] for m in sue.get(f"/conversations/{first}/messages").get_json()["messages"]]
    assert "Sorry Kim, it ships today." in texts
    # an agent of another team sees neither the conversation nor its history
    make_user(db, "sam@example.com", team="Sales")
    sam = Agent(app, "sam@example.com")
    assert sam.get(f"/conversations/{second}/history").status_code == 404
    # an earlier conversation restricted to others is left out of the list
    make_user(db, "ann@example.com", role="supervisor")
    with db.transaction() as s:
        conv = s.scalars(select(Conversation).where(Conversation.public_id == first)).one()
        conv.restricted = True
    ann = Agent(app, "ann@example.com")
    assert ann.get(f"/conversations/{second}/history").get_json()["earlier"] == []


def test_the_webchat_shows_only_the_customers_own_earlier_messages(app: Flask, db: Database) -> None:
    make_user(db, "sue@example.com", role="supervisor")
    sue = Agent(app, "sue@example.com")
    kim, first = _first_visit(app, sue)
    assert kim.events("earlier") == []  # a first visit has nothing earlier
    kim.sock.disconnect(namespace="/webchat")
    back = Customer(app, kim.token)
    shown = back.first("earlier")["conversations"]
    assert [c["conversation_id"] for c in shown] == [first]
    texts = [m["text"] for m in shown[0]["messages"]]
    assert texts[0] == "my parcel <b>42</b> is late, I want a person"  # as written: the widget sets textContent
    assert "Sorry Kim, it ships today." in texts
    assert "NOTE: customer was rude" not in texts  # never a private note
    assert {m["sender_type"] for m in shown[0]["messages"]} <= {"contact", "bot", "agent"}
    # another browser (another contact) is shown nothing of Kim's
    lee = Customer(app)
    lee.say("hello")
    lee.sock.disconnect(namespace="/webchat")
    lee_back = Customer(app, lee.token)
    assert lee_back.events("earlier") == []
    # a forged token is a new visitor: nothing earlier either
    stranger = Customer(app, kim.token + "x")
    assert stranger.events("earlier") == []
