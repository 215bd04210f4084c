"""What the live pushes carry is what the REST API says: the `conversation` summary and the `message`
are read for the pushes in their own queries, as columns (console/realtime/summaries.py, payloads.py),
and must not drift from the API's shapes."""

from __future__ import annotations

from typing import Any

from flask import Flask

from models.db import Database
from tests.support.actors import Agent, Customer, event_payload, make_user


def _pushed(agent: Agent, name: str) -> list[Any]:
    return [event_payload(p) for p in agent.socket.get_received("/console") if p["name"] == name]


def test_the_pushed_summary_and_message_are_the_apis(app: Flask, db: Database) -> None:
    make_user(db, "ada@example.com", role="admin")
    make_user(db, "bob@example.com")
    ada, bob = Agent(app, "ada@example.com"), Agent(app, "bob@example.com")
    ada.socket.get_received("/console")
    bob.socket.get_received("/console")
    customer = Customer(app)
    customer.say("hi")
    conv_id = customer.say("a person please")["conversation_id"]  # handed off: a packet, unreplied
    ids = [ada.get("/me").get_json()["id"], bob.get("/me").get_json()["id"]]
    assert ada.post(f"/conversations/{conv_id}/assign", {"user_ids": ids}).status_code == 200
    assert ada.post(f"/conversations/{conv_id}/messages", {"text": "a note", "private": True}).status_code == 201
    customer.say("still there?")

    summaries = [s for s in _pushed(ada, "conversation") if s["id"] == conv_id]
    listed = [c for c in ada.get("/conversations?status=open").get_json()["conversations"] if c["id"] == conv_id]
    assert len(listed) == 1
    expected = {k: v for k, v in listed[0].items() if k not in ("inbox", "unread")}
    assert summaries[-1] == expected
    assert [a["id"] for a in expected["assignees"]] == ids  # two assignees, in assignment order
    assert expected["handoff"] is not None and expected["unreplied"] == 3
    assert expected["last_message"]["text"] == "still there?"

    pushed = {m["id"]: m for m in _pushed(bob, "message")}
    stored = ada.get(f"/conversations/{conv_id}/messages").get_json()["messages"]
    note = next(m for m in stored if m["private"])
    assert note["author"]["id"] == ids[0]
    assert pushed[note["id"]] == note
    assert pushed[stored[-1]["id"]] == stored[-1]  # the customer's
