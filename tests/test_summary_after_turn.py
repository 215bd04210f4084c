"""A customer message the bot answers at once costs the consoles one `conversation` push, not two: the
message's transaction took the bot's claim (console/sockets.py), so its summary waits for the turn's
end (console/realtime/listener.py). Every message still reaches the consoles at once, and a turn that
stores nothing still ends with the summary of the customer's message."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from bot.types import BotTurn, Decision, TurnContext
from models.db import Database
from tests.support.actors import Agent, Customer, event_payload, make_user
from tests.support.engines import RuleEngine


class QuietWhenAsked(RuleEngine):
    """The rule engine, but "say nothing" gets an answer with no words (the cursor moves, nothing is stored)."""

    def turn(self, text: str, context: TurnContext) -> BotTurn:
        if text == "say nothing":
            return BotTurn(Decision.ANSWER, (), "quiet", 0.9, engine=self.name)
        return super().turn(text, context)


@pytest.fixture
def engines() -> list[Any]:
    return [QuietWhenAsked()]


def _console_pushes(agent: Agent) -> list[tuple[str, dict[str, Any]]]:
    return [(p["name"], event_payload(p)) for p in agent.socket.get_received("/console")]


def _watched(app: Flask, db: Database) -> tuple[Agent, Customer, str]:
    """An agent watching the console and a customer whose conversation is under way (pushes so far read)."""
    make_user(db, "ada@example.com")
    ada = Agent(app, "ada@example.com")
    customer = Customer(app)
    conv_id = customer.say("hi")["conversation_id"]
    ada.socket.get_received("/console")
    return ada, customer, conv_id


def _summaries(agent: Agent, conv_id: str) -> list[dict[str, Any]]:
    return [p for name, p in _console_pushes(agent) if name == "conversation" and p["id"] == conv_id]


def test_one_summary_for_a_message_and_its_answer(app: Flask, db: Database) -> None:
    ada, customer, conv_id = _watched(app, db)

    customer.say("where is my order")
    pushes = _console_pushes(ada)
    messages = [p["text"] for name, p in pushes if name == "message"]
    summaries = [p for name, p in pushes if name == "conversation" and p["id"] == conv_id]
    assert messages == ["where is my order", "Your order ships in 3-5 days."]
    assert len(summaries) == 1
    assert summaries[0]["last_message"]["text"] == "Your order ships in 3-5 days."
    assert [n for n, _ in pushes].index("conversation") > [n for n, _ in pushes].index("message")
    assert customer.replies("bot")[-1] == "Your order ships in 3-5 days."


def test_a_turn_that_stores_nothing_still_pushes_the_message_s_summary(app: Flask, db: Database) -> None:
    ada, customer, conv_id = _watched(app, db)

    customer.say("say nothing")
    summaries = _summaries(ada, conv_id)
    assert len(summaries) == 1
    assert summaries[0]["last_message"]["text"] == "say nothing"


def test_a_handoff_still_pushes_the_summary_with_the_handoff(app: Flask, db: Database) -> None:
    ada, customer, conv_id = _watched(app, db)

    customer.say("a person please")
    summaries = _summaries(ada, conv_id)
    assert summaries and summaries[-1]["owner"] == "human" and summaries[-1]["handoff"] is not None


class RemoteRules(RuleEngine):
    """The rule engine standing in for one that may take seconds (an LLM, Rasa, the http engine)."""

    name = "remote-rules"
    answers_in_process = False


def test_a_message_s_summary_does_not_wait_for_an_engine_that_may_take_seconds(app: Flask, db: Database) -> None:
    # An LLM's turn takes seconds: the consoles' list must show the customer's message at once, so its
    # summary goes out with the message, and the answer's summary after it.
    app.extensions["parley"].pipeline.engines[:] = [RemoteRules()]
    ada, customer, conv_id = _watched(app, db)

    customer.say("where is my order")
    summaries = _summaries(ada, conv_id)
    assert [s["last_message"]["text"] for s in summaries] == ["where is my order", "Your order ships in 3-5 days."]
