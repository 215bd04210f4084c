"""The acceptance story of the foundation: a customer chats with the bot, asks for a person, an agent
takes over and answers; counters follow."""

from __future__ import annotations

from flask import Flask

from models.db import Database
from tests.support.actors import Agent, Customer, make_user


def test_bot_answers_first(app: Flask) -> None:
    customer = Customer(app)
    ack = customer.say("hi")
    assert ack["ok"] is True and ack["conversation_id"].startswith("c_")
    assert customer.replies("bot") == ["Hello! How can I help?"]
    # the bot shows it is working while it thinks, and stops
    assert [t["typing"] for t in customer.events("typing")] == [True, False]


def test_handoff_then_agent_answers_and_counters_drop(app: Flask, db: Database) -> None:
    make_user(db, "ada@example.com")
    ada = Agent(app, "ada@example.com")
    ada.socket.get_received("/console")
    customer = Customer(app)
    customer.say("hi")
    assert ada.get("/conversations?view=team").get_json()["conversations"] == []  # the bot has it

    ack = customer.say("I want to talk to a person")
    conv_id = ack["conversation_id"]
    team = ada.get("/conversations?view=team").get_json()["conversations"]
    assert [c["id"] for c in team] == [conv_id]
    conv = team[0]
    assert conv["owner"] == "human" and conv["phase"] == "waiting"
    assert conv["handoff"]["reason"] == "customer_asked"
    assert conv["handoff"]["intent"] == "human_handoff"
    # both customer messages are unanswered by a human (a bot reply does not count)
    assert conv["unreplied"] == 2
    assert ada.counters() == {"unreplied": 2, "my_unreplied": 0, "unassigned": 1, "assigned_to_me": 0,
                              "unread": 2}

    # the agent hears it live
    events = {p["name"] for p in ada.socket.get_received("/console")}
    assert {"conversation", "message", "counters"} <= events

    me = ada.get("/me").get_json()
    assert ada.post(f"/conversations/{conv_id}/assign", {"user_ids": [me["id"]]}).status_code == 200
    assert ada.counters()["my_unreplied"] == 2
    r = ada.post(f"/conversations/{conv_id}/messages", {"text": "Hi, I'm Ada. How can I help?"})
    assert r.status_code == 201
    assert customer.replies("agent") == ["Hi, I'm Ada. How can I help?"]
    assert ada.counters() == {"unreplied": 0, "my_unreplied": 0, "unassigned": 0, "assigned_to_me": 1,
                              "unread": 0}


def test_bot_is_silent_while_a_human_owns_the_conversation(app: Flask, db: Database) -> None:
    make_user(db, "ada@example.com")
    ada = Agent(app, "ada@example.com")
    customer = Customer(app)
    conv_id = customer.say("a human please")["conversation_id"]
    n_bot = len(customer.replies("bot"))
    customer.say("hello? anyone?")
    assert len(customer.replies("bot")) == n_bot
    assert ada.get(f"/conversations/{conv_id}").get_json()["unreplied"] == 2

    # returned to the bot, it answers again
    assert ada.post(f"/conversations/{conv_id}/return-to-bot").status_code == 200
    customer.say("hello")
    assert customer.replies("bot")[-1] == "Hello! How can I help?"


def test_reload_resumes_the_conversation_with_its_history(app: Flask) -> None:
    customer = Customer(app)
    conv_id = customer.say("hi")["conversation_id"]
    again = Customer(app, token=customer.token)
    assert again.first("session")["conversation_id"] == conv_id
    history = again.first("history")["messages"]
    assert [(m["sender_type"], m["text"]) for m in history] == [
        ("contact", "hi"), ("bot", "Hello! How can I help?")]


def test_engine_failure_hands_off_with_bot_error(app: Flask, db: Database) -> None:
    make_user(db, "ada@example.com")
    ada = Agent(app, "ada@example.com")
    customer = Customer(app)
    conv_id = customer.say("please explode")["conversation_id"]
    assert "connecting you with a member of our team" in customer.replies("bot")[-1]
    conv = ada.get(f"/conversations/{conv_id}").get_json()
    assert conv["owner"] == "human" and conv["handoff"]["reason"] == "bot_error"
