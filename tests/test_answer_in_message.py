"""The bot's answer in the customer message's own transaction (bot/pipeline.py `BotPipeline.answer_in`,
console/sockets.py): with engines that answer in this process in milliseconds, on SQLite, one commit
stores the message, the answer and the claim's release, and the widget hears the answer without typing
frames around it. Slow engines keep the typing dots; a turn that fails there still leaves the message
stored, and answered by the turn after the commit. Counted, never timed."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from bot.types import BotTurn, TurnContext
from models.db import Database
from models.schema.conversations import Conversation, Message
from tests.support.actors import Customer
from tests.support.engines import RuleEngine, storing_the_answer_fails_once
from tests.support.statements import counting


class TakesItsTime(RuleEngine):
    """The same answers from an engine that may take seconds (a Rasa server, an LLM): no `answers_in_process`."""

    answers_in_process = False

    def turn(self, text: str, context: TurnContext) -> BotTurn:
        return super().turn(text, context)


class NotLoadedYet(RuleEngine):
    """Answers in process, but its model is not in memory yet (the first turn after a start or a retraining)."""

    def ready_for(self, context: TurnContext) -> bool:
        return False


def _frames_of(customer: Customer, text: str) -> list[str]:
    customer.events("message")  # what came before
    before = len(customer.received)
    assert customer.say(text)["ok"] is True
    customer.events("message")
    return [name for name, _ in customer.received[before:]]


def test_one_commit_and_no_typing_frames(app: Flask, db: Database) -> None:
    customer = Customer(app)
    customer.say("hi")  # the conversation exists: what follows is the steady state
    with counting(db.engine) as statements:
        frames = _frames_of(customer, "where is my order")
    if db.is_sqlite:
        assert statements.commits == 1, statements.report()
        assert frames == ["message"]  # the answer; the acknowledgement is the emit's callback
    else:  # the turn runs after the commit (console/sockets.py): typing dots around the answer
        assert frames == ["typing", "message", "typing"]
    assert customer.replies("bot")[-1] == "Your order ships in 3-5 days."
    with db.session() as s:
        conv = s.scalar(select(Conversation))
        assert conv is not None and conv.bot_claim_token is None and conv.bot_claim_until is None
        assert conv.bot_cursor == s.scalar(select(func.max(Message.id)).where(Message.sender_type == "contact"))


@pytest.mark.parametrize("engines", [[TakesItsTime()]])
def test_a_slow_engine_still_shows_the_typing_dots(app: Flask, db: Database, engines: list[Any]) -> None:
    customer = Customer(app)
    customer.say("hi")
    frames = _frames_of(customer, "where is my order")
    assert frames == ["typing", "message", "typing"]
    assert [p["typing"] for p in customer.events("typing")][-2:] == [True, False]
    assert customer.replies("bot")[-1] == "Your order ships in 3-5 days."


@pytest.mark.parametrize("engines", [[NotLoadedYet()]])
def test_a_model_still_to_load_is_loaded_after_the_commit(app: Flask, db: Database, engines: list[Any]) -> None:
    customer = Customer(app)
    customer.say("hi")
    with counting(db.engine) as statements:
        frames = _frames_of(customer, "where is my order")
    assert frames == ["typing", "message", "typing"]  # the turn ran after the commit, as a slow engine's
    assert statements.commits == 3
    assert customer.replies("bot")[-1] == "Your order ships in 3-5 days."


def test_a_turn_that_fails_in_the_message_s_transaction_leaves_the_message_stored(
        app: Flask, db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    if not db.is_sqlite:
        pytest.skip("SQLite only: PostgreSQL answers after the message's commit, as before")
    customer = Customer(app)
    customer.say("hi")
    calls = storing_the_answer_fails_once(monkeypatch)
    ack = customer.say({"text": "where is my order", "client_id": "c0ffee-0002"})
    assert ack["ok"] is True
    assert calls == [True, False]  # in the message's transaction, then after its commit
    assert customer.replies("bot")[-1] == "Your order ships in 3-5 days."
    with db.session() as s:
        stored = s.scalars(select(Message.id).where(Message.text == "where is my order")).all()
        assert stored == [ack["id"]]  # once, with the id acknowledged
        assert s.scalar(select(func.count()).select_from(Message).where(
            Message.text == "Your order ships in 3-5 days.")) == 1
        conv = s.scalar(select(Conversation))
        assert conv is not None and conv.bot_claim_token is None and conv.bot_cursor == ack["id"]


def test_an_engine_failure_hands_off_in_the_message_s_transaction(app: Flask, db: Database) -> None:
    customer = Customer(app)
    customer.say("hi")
    assert customer.say("please explode")["ok"] is True
    assert "connecting you with a member of our team" in customer.replies("bot")[-1]
    with db.session() as s:
        conv = s.scalar(select(Conversation))
        assert conv is not None and conv.owner == "human" and conv.bot_claim_token is None
