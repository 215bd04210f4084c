"""`parley web` answering the bot's turns itself (`PARLEY_WEB_ANSWERS`, console/sockets.py): with engines
that answer in process, the customer message's transaction also stores the answer and keeps the bot's
claim until the transaction's events are pushed, so no other process's reply in the conversation can
reach a browser first. Everything else (a slow engine, a model not loaded here, the setting off) goes to
the workers as before. The web role is played in one process: the workers' wake-up is recorded, and the
worker's turn is run as that wake-up runs it. Counted, never timed (the counts: tests/test_statement_counts.py)."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from bot.pipeline import Claimed
from bot.types import BotTurn, TurnContext
from console.runtime.roles import make_web
from models.db import Database
from models.schema.conversations import Conversation, Message
from tests.support.actors import Customer
from tests.support.engines import RuleEngine, storing_the_answer_fails_once

ORDER = "Your order ships in 3-5 days."


class TakesItsTime(RuleEngine):
    """The same answers from an engine that may take seconds (a Rasa server, an LLM)."""

    answers_in_process = False

    def turn(self, text: str, context: TurnContext) -> BotTurn:
        return super().turn(text, context)


class LoadsLater(RuleEngine):
    """Answers in process once its model is loaded, which it is not at first (a start, a retraining)."""

    def __init__(self) -> None:
        self.loaded = False
        self.loads: list[TurnContext | None] = []

    def ready_for(self, context: TurnContext) -> bool:
        return self.loaded

    def load_for(self, context: TurnContext | None) -> None:
        self.loads.append(context)
        self.loaded = True


def _web(app: Flask) -> list[int]:
    """The web role answering (as `make_web` sets it up with Redis), its workers' wake-ups recorded."""
    svc = app.extensions["parley"]
    woken: list[int] = []
    svc.wake_bot, svc.web_answers = woken.append, True
    return woken


def _started(app: Flask, woken: list[int]) -> Customer:
    """A customer whose conversation exists (its first message, on the ORM path, goes to a worker)."""
    customer = Customer(app)
    customer.say("hi")
    app.extensions["parley"].pipeline.process(woken.pop())
    assert customer.replies("bot") == ["Hello! How can I help?"]
    return customer


def _conversation(db: Database) -> Conversation:
    with db.session() as s:
        conv = s.scalar(select(Conversation))
        assert conv is not None
        return conv


def _answers(db: Database, text: str) -> int:
    with db.session() as s:
        return int(s.scalar(select(func.count()).select_from(Message).where(Message.text == text)) or 0)


def test_the_web_answers_without_a_worker_and_without_typing_frames(app: Flask, db: Database) -> None:
    woken = _web(app)
    customer = _started(app, woken)
    before = len(customer.received)
    assert customer.say("where is my order")["ok"] is True
    customer.events("message")
    assert [name for name, _ in customer.received[before:]] == ["message"]
    assert customer.replies("bot")[-1] == ORDER
    assert woken == []
    conv = _conversation(db)
    assert conv.bot_claim_token is None and conv.bot_claim_until is None  # given back after the pushes
    with db.session() as s:
        assert conv.bot_cursor == s.scalar(select(func.max(Message.id)).where(Message.sender_type == "contact"))


def test_a_message_stored_while_the_claim_is_held_is_answered_once_in_order(app: Flask, db: Database) -> None:
    """Another message arrives between the first one's commit and the claim's release (its transaction
    cannot take the claim): the worker it wakes cannot either, and the release's look finds it."""
    svc = app.extensions["parley"]
    woken = _web(app)
    customer = _started(app, woken)
    held: list[Claimed] = []
    svc.finish_answered = held.append  # the release, held back: the first message's pushes are "still going"
    assert customer.say("where is my order")["ok"] is True
    assert len(held) == 1 and woken == []
    assert customer.say("and where is my other order")["ok"] is True  # the claim is held: to the workers
    assert woken == [held[0].conversation_id]
    assert svc.pipeline.process(woken.pop()) == 0  # the worker woken cannot claim it
    assert customer.replies("bot")[-1] == ORDER and _answers(db, ORDER) == 1
    assert svc.pipeline.finish_answered(held[0]) == 1  # the release looks again and answers it, here
    assert _answers(db, ORDER) == 2
    with db.session() as s:
        said = [(m.sender_type, m.text) for m in s.scalars(select(Message).order_by(Message.id))]
    assert said[-4:] == [("contact", "where is my order"), ("bot", ORDER),
                         ("contact", "and where is my other order"), ("bot", ORDER)]
    assert customer.replies("bot")[-2:] == [ORDER, ORDER]
    assert _conversation(db).bot_claim_token is None


@pytest.mark.parametrize("engines", [[LoadsLater()]])
def test_a_model_not_loaded_in_the_web_goes_to_the_workers_and_is_loaded(
        app: Flask, db: Database, engines: list[Any]) -> None:
    svc = app.extensions["parley"]
    woken = _web(app)
    customer = _started(app, woken)
    assert customer.say("where is my order")["ok"] is True
    assert woken == [_conversation(db).id]  # the claim given back in the message's transaction
    assert _conversation(db).bot_claim_token is None
    assert svc.pipeline.process(woken.pop()) == 1  # the worker answers
    assert customer.replies("bot")[-1] == ORDER
    for thread in threading.enumerate():  # the web loads the model meanwhile, on a thread of its own
        if thread.name == "parley-bot-prepare":
            thread.join()
    assert len(engines[0].loads) == 1
    assert customer.say("where is my order now")["ok"] is True  # and answers the next one itself
    assert woken == [] and _answers(db, ORDER) == 2


@pytest.mark.parametrize("engines", [[TakesItsTime()]])
def test_a_slow_engine_s_turns_go_to_the_workers(app: Flask, db: Database, engines: list[Any]) -> None:
    svc = app.extensions["parley"]
    woken = _web(app)
    customer = _started(app, woken)
    assert customer.say("where is my order")["ok"] is True
    assert woken == [_conversation(db).id] and _answers(db, ORDER) == 0
    svc.pipeline.process(woken.pop())
    assert customer.replies("bot")[-1] == ORDER


def test_the_setting_off_leaves_every_turn_to_the_workers(app: Flask, db: Database) -> None:
    svc = app.extensions["parley"]
    svc.settings = svc.settings.with_(web_answers=False)
    make_web(app)
    assert svc.web_answers is False
    woken: list[int] = []
    svc.wake_bot = woken.append  # (as `make_web` sets it with Redis)
    customer = _started(app, woken)
    assert customer.say("where is my order")["ok"] is True
    assert woken == [_conversation(db).id] and _answers(db, ORDER) == 0
    svc.pipeline.process(woken.pop())
    assert customer.replies("bot")[-1] == ORDER


def test_a_turn_that_fails_in_the_web_leaves_the_message_stored_for_the_workers(
        app: Flask, db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    svc = app.extensions["parley"]
    woken = _web(app)
    customer = _started(app, woken)
    calls = storing_the_answer_fails_once(monkeypatch)
    ack = customer.say({"text": "where is my order", "client_id": "c0ffee-0004"})
    assert ack["ok"] is True and calls == [False]  # in the message's transaction (the claim kept), rolled back
    assert woken == [_conversation(db).id]  # stored again without the turn, and the workers woken
    assert _conversation(db).bot_claim_token is None
    svc.pipeline.process(woken.pop())
    assert customer.replies("bot")[-1] == ORDER and _answers(db, ORDER) == 1
    with db.session() as s:
        assert s.scalars(select(Message.id).where(Message.text == "where is my order")).all() == [ack["id"]]
