"""The `http` bot engine: each turn goes to the operator's own bot; its replies go out, its handoff goes to
people; a timeout or a bad answer is a `bot_error` handoff, as for every engine."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from bot.engines import build_engines
from bot.http_engine import HttpBotEngine, HttpBotError
from bot.pipeline import BOT_ERROR_REPLY
from bot.types import Decision, HandoffReason, TurnContext
from connectors.outbound import OutboundGuard
from models.db import Database
from models.settings import Settings
from tests.support.actors import Agent, Customer, make_user
from tests.support.engines import IntentStub
from tests.support.fakes.hooks import FakeBot

SECRET = "bot-secret"
LOOPBACK = OutboundGuard(allow_nets=(ipaddress.ip_network("127.0.0.1/32"),))


@pytest.fixture(scope="module")
def fake_bot() -> Iterator[FakeBot]:
    with FakeBot(secret=SECRET) as bot:
        yield bot


@pytest.fixture
def engines(fake_bot: FakeBot) -> list[Any]:
    """Stages: a deterministic intent stage first, then the operator's bot (`embedded,http`)."""
    return [IntentStub(), HttpBotEngine(fake_bot.url + "/turn", secret=SECRET, timeout=2.5, guard=LOOPBACK)]


def engine(fake_bot: FakeBot, **kw: Any) -> HttpBotEngine:
    return HttpBotEngine(fake_bot.url + "/turn", **{"secret": SECRET, "timeout": 2.5, "guard": LOOPBACK, **kw})


def test_the_bot_answers_with_the_conversation_context(fake_bot: FakeBot) -> None:
    turn = engine(fake_bot).turn("where is my order?", TurnContext("c_1", 1, (("contact", "hello"),)))
    assert turn.decision is Decision.ANSWER and turn.replies == ("You said: where is my order?",)
    sent = fake_bot.sends()[-1].json()
    assert sent == {"conversation_id": "c_1", "message": {"text": "where is my order?"},
                    "history": [{"sender_type": "contact", "text": "hello"}], "consecutive_fallbacks": 1,
                    "attributes": {}, "page_url": None}


def test_the_bot_gets_the_sites_attributes_and_page(fake_bot: FakeBot) -> None:
    """The widget SDK's setAttributes and the page the chat started on (docs/widget.md)."""
    engine(fake_bot).turn("hi", TurnContext("c_1", attributes={"plan": "pro", "seats": 3},
                                            page_url="https://shop.example.com/pricing"))
    sent = fake_bot.sends()[-1].json()
    assert sent["attributes"] == {"plan": "pro", "seats": 3}
    assert sent["page_url"] == "https://shop.example.com/pricing"


def test_the_bot_hands_off_with_its_reason_and_summary(fake_bot: FakeBot) -> None:
    turn = engine(fake_bot).turn("a person please", TurnContext("c_1"))
    assert turn.decision is Decision.HANDOFF and turn.reason is HandoffReason.CUSTOMER_ASKED
    assert turn.replies == ("Let me get a colleague.",) and turn.summary == "Wants a person."
    own = engine(fake_bot).turn("refund", TurnContext("c_1"))  # a reason of its own: a policy handoff
    assert own.reason is HandoffReason.POLICY and "refund_policy" in own.summary and own.replies


def test_the_bot_can_answer_with_buttons_and_an_image(fake_bot: FakeBot) -> None:
    turn = engine(fake_bot).turn("menu", TurnContext("c_1"))
    assert turn.replies == ("What would you like?", "Or just type.")
    assert turn.rich_of(0).to_json() == {"image": "https://cdn.example.com/m.png", "buttons": [
        {"title": "Track order", "payload": "/track"}, {"title": "Talk to a person", "payload": "Talk to a person"}]}
    assert not turn.rich_of(1)


def test_buttons_reach_the_customer_and_a_numbered_answer_reaches_the_bot_as_its_payload(
        app: Flask, db: Database, fake_bot: FakeBot) -> None:
    customer = Customer(app)
    customer.say("show me the menu")
    shown = [m for m in customer.events("message") if m["sender_type"] == "bot"]
    assert [b["title"] for b in shown[-2]["rich"]["buttons"]] == ["Track order", "Talk to a person"]
    customer.say("1")
    assert fake_bot.sends()[-1].json()["message"]["text"] == "/track"


@pytest.mark.parametrize(("text", "why"), [("slow", "did not answer"), ("junk", "not JSON"),
                                           ("shape", "'replies'"), ("broken", "HTTP 500"),
                                           ("sneaky", "http\\(s\\) URL")])
def test_a_timeout_or_a_bad_answer_raises(fake_bot: FakeBot, text: str, why: str) -> None:
    with pytest.raises(HttpBotError, match=why):
        engine(fake_bot).turn(text, TurnContext("c_1"))


def test_an_unsigned_request_is_refused_by_a_bot_that_checks(fake_bot: FakeBot) -> None:
    with pytest.raises(HttpBotError, match="HTTP 401"):
        engine(fake_bot, secret=None).turn("hello", TurnContext("c_1"))
    with pytest.raises(HttpBotError, match="private or local"):  # the guard: loopback needs PARLEY_OUTBOUND_ALLOW
        engine(fake_bot, guard=OutboundGuard()).turn("hello", TurnContext("c_1"))


def test_in_stages_the_http_bot_answers_what_the_intent_stage_cannot(app: Flask, db: Database) -> None:
    customer = Customer(app)
    customer.say("hi")
    customer.say("do you ship to Mars?")
    assert customer.replies("bot") == ["Hello! How can I help?", "You said: do you ship to Mars?"]


@pytest.mark.parametrize("text", ["that is slow", "junk please"])
def test_a_timeout_or_bad_answer_in_a_conversation_is_a_bot_error_handoff(app: Flask, db: Database,
                                                                           text: str) -> None:
    make_user(db, "ada@example.com")
    customer = Customer(app)
    ack = customer.say(text)
    assert customer.replies("bot") == [BOT_ERROR_REPLY]
    conv = Agent(app, "ada@example.com").get(f"/conversations/{ack['conversation_id']}").get_json()
    assert conv["owner"] == "human" and conv["handoff"]["reason"] == "bot_error"
    assert conv["handoff"]["engine"] == "http"


def test_the_http_bot_hands_off_in_a_conversation(app: Flask, db: Database) -> None:
    make_user(db, "ada@example.com")
    customer = Customer(app)
    ack = customer.say("refund")
    conv = Agent(app, "ada@example.com").get(f"/conversations/{ack['conversation_id']}").get_json()
    assert conv["owner"] == "human" and conv["handoff"]["reason"] == "policy"
    assert "refund_policy" in conv["handoff"]["summary"]


def test_parley_bot_engines_http_needs_its_url(tmp_path: Path) -> None:
    base = {"PARLEY_INSTANCE": str(tmp_path), "PARLEY_SECRET_KEY": "k", "PARLEY_BOT_ENGINES": "http"}
    with pytest.raises(ValueError, match="PARLEY_HTTP_BOT_URL"):
        build_engines(Settings.from_env(base))
    with pytest.raises(ValueError, match="PARLEY_HTTP_BOT_URL"):
        Settings.from_env({**base, "PARLEY_HTTP_BOT_URL": "ftp://bot"})
    built = build_engines(Settings.from_env({**base, "PARLEY_HTTP_BOT_URL": "https://bot.example.com/turn",
                                             "PARLEY_HTTP_BOT_TIMEOUT": "3"}))
    assert [e.name for e in built] == ["http"] and isinstance(built[0], HttpBotEngine)
    assert built[0].timeout == 3.0 and built[0].secret is None
