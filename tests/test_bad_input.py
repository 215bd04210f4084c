"""Bad input gets a clear error with the right status, and nothing is half-written."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from sqlalchemy import func, select

from models.db import Database
from models.schema.base import utcnow
from models.schema.contacts import Contact
from models.schema.conversations import Conversation, Message
from tests.support.actors import Agent, Customer, make_user


def _count(db: Database, model: type) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


@pytest.mark.parametrize(("payload", "code"), [
    ("", "empty"), ("   \n ", "empty"), ("x" * 4097, "too_long"), ({"text": 42}, "invalid"),
    ({"nope": "x"}, "invalid"),
])
def test_webchat_refuses_bad_messages(app: Flask, db: Database, payload: object, code: str) -> None:
    customer = Customer(app)
    ack = customer.say(payload)
    assert ack["ok"] is False and ack["error"]["code"] == code
    assert customer.events("error")[-1]["code"] == code
    assert _count(db, Message) == 0 and _count(db, Conversation) == 0 and _count(db, Contact) == 0


def test_webchat_accepts_exactly_the_limit(app: Flask) -> None:
    assert Customer(app).say("y" * 4096)["ok"] is True


def test_forged_visitor_token_gets_a_new_identity(app: Flask) -> None:
    victim = Customer(app)
    victim_conv = victim.say("my address is 1 Secret Lane")["conversation_id"]
    forged = victim.token[:-4] + ("AAAA" if not victim.token.endswith("AAAA") else "BBBB")
    attacker = Customer(app, token=forged)
    assert attacker.first("error")["code"] == "bad_token"
    assert attacker.first("session")["token"] != victim.token
    assert attacker.first("history")["messages"] == []
    assert attacker.say("hi")["conversation_id"] != victim_conv


def test_unicode_and_emoji_pass_through(app: Flask, db: Database) -> None:
    make_user(db, "ada@example.com")
    ada = Agent(app, "ada@example.com")
    customer = Customer(app)
    conv_id = customer.say("a person 🙂 — ça va? 你好")["conversation_id"]
    msgs = ada.get(f"/conversations/{conv_id}/messages").get_json()["messages"]
    assert msgs[0]["text"] == "a person 🙂 — ça va? 你好"


def test_rest_bad_input(app: Flask, db: Database) -> None:
    make_user(db, "ada@example.com")
    ada = Agent(app, "ada@example.com")
    conv_id = Customer(app).say("a human please")["conversation_id"]
    before = _count(db, Message)
    cases = [
        (ada.post(f"/conversations/{conv_id}/messages", {"text": ""}), 400, "empty"),
        (ada.post(f"/conversations/{conv_id}/messages", {"text": "x" * 4097}), 413, "too_long"),
        (ada.post(f"/conversations/{conv_id}/messages", {"text": "x", "private": "yes"}), 400, "invalid"),
        (ada.client.post(f"/api/v1/conversations/{conv_id}/messages", data="not json",
                         headers={"X-CSRF-Token": ada.csrf, "Content-Type": "application/json"}),
         400, "bad_json"),
        (ada.post("/conversations/c_doesnotexist/messages", {"text": "x"}), 404, "not_found"),
        (ada.get("/conversations?view=everything"), 400, "invalid"),
        (ada.get("/conversations?status=maybe"), 400, "invalid"),
        (ada.post(f"/conversations/{conv_id}/reopen"), 422, "invalid_state"),
        (ada.get("/no-such-endpoint"), 404, "not_found"),
    ]
    for response, status, code in cases:
        assert response.status_code == status, (response.status_code, response.get_json())
        assert response.get_json()["error"]["code"] == code
    assert _count(db, Message) == before


def test_reply_to_a_closed_conversation_is_refused(app: Flask, db: Database) -> None:
    make_user(db, "ada@example.com")
    ada = Agent(app, "ada@example.com")
    conv_id = Customer(app).say("a human please")["conversation_id"]
    ada.post(f"/conversations/{conv_id}/close")
    r = ada.post(f"/conversations/{conv_id}/messages", {"text": "hello?"})
    assert r.status_code == 422
    assert ada.post(f"/conversations/{conv_id}/close").status_code == 422


def test_blocked_contact_is_refused(app: Flask, db: Database) -> None:
    customer = Customer(app)
    customer.say("hi")
    with db.transaction() as s:
        s.scalars(select(Contact)).one().blocked_at = utcnow()
    n = _count(db, Message)
    ack = customer.say("let me in")
    assert ack["ok"] is False and ack["error"]["code"] == "blocked"
    assert _count(db, Message) == n


def test_customer_text_is_escaped_in_pages(app: Flask, db: Database) -> None:
    make_user(db, "ada@example.com")
    ada = Agent(app, "ada@example.com")
    page = ada.client.get("/")
    assert page.status_code == 200
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    r = app.test_client().post("/login?next=/", data={"email": "<script>alert(1)</script>", "password": "x",
                                                      "csrf_token": "bad"})
    assert b"<script>alert(1)</script>" not in r.data and b"&lt;script&gt;" in r.data


def test_openapi_describes_every_route(app: Flask) -> None:
    spec = app.test_client().get("/api/v1/openapi.json").get_json()
    def shape(path: str) -> str:  # "/x/{id}" and "/x/<int:channel_id>" both become "/x/{}"
        return re.sub(r"<[^>]*>|\{[^}]*\}", "{}", path)

    documented = {(shape("/api/v1" + path), m.upper())
                  for path, ops in spec["paths"].items() for m in ops}
    routes = {(shape(r.rule), m) for r in app.url_map.iter_rules() if r.rule.startswith("/api/v1/")
              and r.rule != "/api/v1/openapi.json" for m in r.methods - {"HEAD", "OPTIONS"}}
    assert routes == documented
