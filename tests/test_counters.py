"""Counters' semantics: what clears unreplied and what does not; unread is per user."""

from __future__ import annotations

from flask import Flask

from models.db import Database
from tests.support.actors import Agent, Customer, make_user


def _handed_off(app: Flask, customer_text: str = "a person please") -> tuple[Customer, str]:
    customer = Customer(app)
    conv_id = customer.say(customer_text)["conversation_id"]
    return customer, conv_id


def test_private_note_and_bot_reply_do_not_clear_unreplied(app: Flask, db: Database) -> None:
    make_user(db, "ada@example.com")
    ada = Agent(app, "ada@example.com")
    customer, conv_id = _handed_off(app)
    assert ada.counters()["unreplied"] == 1  # the bot's handoff message did not answer it
    assert ada.post(f"/conversations/{conv_id}/messages", {"text": "check the order", "private": True}
                    ).status_code == 201
    assert ada.counters()["unreplied"] == 1
    assert customer.replies("agent") == []  # a private note never reaches the customer
    customer.say("still there?")
    assert ada.counters()["unreplied"] == 2
    ada.post(f"/conversations/{conv_id}/messages", {"text": "Yes, here!"})
    assert ada.counters()["unreplied"] == 0
    customer.say("thanks, one more thing")
    assert ada.counters()["unreplied"] == 1  # counts messages after the last human answer


def test_unread_is_per_user_and_cleared_by_reading(app: Flask, db: Database) -> None:
    make_user(db, "ada@example.com")
    make_user(db, "bob@example.com")
    ada, bob = Agent(app, "ada@example.com"), Agent(app, "bob@example.com")
    _, conv_id = _handed_off(app)
    assert ada.counters()["unread"] == bob.counters()["unread"] == 1
    assert ada.post(f"/conversations/{conv_id}/read").status_code == 204
    assert ada.counters()["unread"] == 0
    assert bob.counters()["unread"] == 1
    listed = bob.get("/conversations?view=team").get_json()["conversations"][0]
    assert listed["unread"] == 1 and listed["unreplied"] == 1


def test_counters_match_the_lists(app: Flask, db: Database) -> None:
    """Tiles and lists come from the same state: they never disagree."""
    make_user(db, "ada@example.com")
    ada = Agent(app, "ada@example.com")
    me = ada.get("/me").get_json()["id"]
    convs = [_handed_off(app)[1] for _ in range(3)]
    ada.post(f"/conversations/{convs[0]}/assign", {"user_ids": [me]})
    c = ada.counters()
    team = ada.get("/conversations?view=team").get_json()["conversations"]
    mine = ada.get("/conversations?view=mine").get_json()["conversations"]
    assert c["unassigned"] == sum(1 for x in team if not x["assignees"]) == 2
    assert c["assigned_to_me"] == len(mine) == 1
    assert c["unreplied"] == sum(x["unreplied"] for x in team) == 3
    assert c["my_unreplied"] == sum(x["unreplied"] for x in mine) == 1


def test_closed_conversations_leave_the_counters(app: Flask, db: Database) -> None:
    make_user(db, "ada@example.com")
    ada = Agent(app, "ada@example.com")
    customer, conv_id = _handed_off(app)
    assert ada.post(f"/conversations/{conv_id}/close").status_code == 200
    assert ada.counters() == {"unreplied": 0, "my_unreplied": 0, "unassigned": 0, "assigned_to_me": 0,
                              "unread": 0}
    closed = ada.get("/conversations?view=team&status=closed").get_json()["conversations"]
    assert [c["id"] for c in closed] == [conv_id] and closed[0]["phase"] == "ended"
    # the customer's next message starts a new conversation; the closed one is not reused
    new_id = customer.say("hello again")["conversation_id"]
    assert new_id != conv_id
    # reopening the old one is refused while the customer has another open conversation
    r = ada.post(f"/conversations/{conv_id}/reopen")
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "has_open_conversation"


def test_counters_pushed_live_to_the_agent(app: Flask, db: Database) -> None:
    make_user(db, "ada@example.com")
    ada = Agent(app, "ada@example.com")
    ada.socket.get_received("/console")
    _handed_off(app)
    pushed = [p["args"][0] if isinstance(p["args"], list) else p["args"]
              for p in ada.socket.get_received("/console") if p["name"] == "counters"]
    assert pushed and pushed[-1]["unreplied"] == 1 and pushed[-1]["unassigned"] == 1
