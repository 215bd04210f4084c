"""Engines together: an intent stage answers what it knows, its fallback goes to the LLM agent, the
agent's handoff goes to people with every stage's view and a three-line summary in the packet."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from flask import Flask

from bot.engines import build_engines
from bot.llm.setup import build_llm_engine
from bot.llm.testing import ScriptedChatModel, faithful_agent
from models.db import Database
from models.settings import Settings
from tests.support.actors import Agent, Customer, make_user
from tests.support.engines import IntentStub


@pytest.fixture
def model() -> ScriptedChatModel:
    return ScriptedChatModel(script=faithful_agent)


@pytest.fixture
def engines(settings: Settings, model: ScriptedChatModel) -> list[Any]:
    llm = build_llm_engine(settings, db=Database(settings.database_url), model=model)
    return [IntentStub(), llm]


def agent_requests(model: ScriptedChatModel) -> list[Any]:
    """Requests of agent runs (not summaries): they carry the customer's message."""
    return [r for r in model.requests if any("<customer_message>" in str(m.content) for m in r)]


def test_intent_stage_answers_what_it_knows_and_the_llm_stays_idle(app: Flask, model: ScriptedChatModel) -> None:
    customer = Customer(app)
    customer.say("hi there")
    assert customer.replies("bot") == ["Hello! How can I help?"]
    assert model.requests == []


def test_the_intent_stages_fallback_goes_to_the_llm_which_answers_from_the_knowledge_base(
        app: Flask, model: ScriptedChatModel, db: Database) -> None:
    make_user(db, "ada@example.com")
    customer = Customer(app)
    ack = customer.say("Do you offer gift wrapping?")
    replies = customer.replies("bot")
    assert len(replies) == 1 and "Gift wrap" in replies[0] and "$3.50" in replies[0]
    assert len(agent_requests(model)) == 2
    ada = Agent(app, "ada@example.com")
    messages = ada.get(f"/conversations/{ack['conversation_id']}/messages").get_json()["messages"]
    assert messages[-1]["bot"] == {"intent": "knowledge_base", "confidence": 0.9, "decision": "answer", "reason": None}
    assert ada.get(f"/conversations/{ack['conversation_id']}").get_json()["owner"] == "bot"


def test_a_final_handoff_of_the_first_stage_never_reaches_the_agent_loop(app: Flask, model: ScriptedChatModel,
                                                                          db: Database) -> None:
    make_user(db, "ada@example.com")
    customer = Customer(app)
    ack = customer.say("I want a person please")
    assert customer.replies("bot") == ["Connecting you with a person."]
    assert agent_requests(model) == []  # the agent did not run ...
    conv = Agent(app, "ada@example.com").get(f"/conversations/{ack['conversation_id']}").get_json()
    packet = conv["handoff"]
    assert packet["reason"] == "customer_asked"
    assert [s["engine"] for s in packet["stages"]] == ["embedded"]
    assert len(packet["summary"].splitlines()) == 3  # ... but it wrote the three-line summary


def test_the_llm_handoff_packet_carries_every_stage_and_a_three_line_summary(app: Flask, db: Database) -> None:
    make_user(db, "ada@example.com")
    customer = Customer(app)
    ack = customer.say("What is the capital of Peru?")
    assert customer.replies("bot") == ["I'm connecting you with a member of our team. Someone will reply here shortly."]
    conv = Agent(app, "ada@example.com").get(f"/conversations/{ack['conversation_id']}").get_json()
    packet = conv["handoff"]
    assert conv["owner"] == "human"
    assert (packet["reason"], packet["engine"]) == ("no_grounded_answer", "llm")
    first, second = packet["stages"]
    assert (first["engine"], first["intent"], first["confidence"], first["reason"]) == \
        ("embedded", "shipping_costs", 0.12, "low_confidence")
    assert (second["engine"], second["reason"]) == ("llm", "no_grounded_answer")
    assert second["details"]["searches"] == [{"query": "What is the capital of Peru?", "hits": []}]
    assert second["details"]["usage"]["model_calls"] == 2
    assert packet["summary"].splitlines() == ["Customer wants help the bot could not give.",
                                              "Bot searched the knowledge base and handed over.",
                                              "Read the conversation and answer the customer."]


def test_an_llm_failure_is_a_bot_error_handoff_with_the_earlier_stages(app: Flask, model: ScriptedChatModel,
                                                                       db: Database) -> None:
    class APITimeoutError(Exception):
        pass

    def down(messages: Any) -> Any:
        raise APITimeoutError("Request timed out.")

    model.script = down
    make_user(db, "ada@example.com")
    customer = Customer(app)
    ack = customer.say("How much does shipping cost?")
    assert "something went wrong" in customer.replies("bot")[0]
    packet = Agent(app, "ada@example.com").get(f"/conversations/{ack['conversation_id']}").get_json()["handoff"]
    assert packet["reason"] == "bot_error"
    assert [(s["engine"], s["reason"]) for s in packet["stages"]] == [("embedded", "low_confidence"),
                                                                      ("llm", "bot_error")]
    assert "LlmTimeout" in packet["summary"]  # the summary model is down too: the pipeline's own stays


def test_llm_without_a_model_is_dropped_with_a_warning_or_refused_alone(
        settings: Settings, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.delenv("PARLEY_LLM_MODEL", raising=False)
    with caplog.at_level(logging.WARNING):
        assert build_llm_engine(settings) is None
    assert "PARLEY_LLM_MODEL is not set" in caplog.text
    with pytest.raises(ValueError, match="needs PARLEY_LLM_MODEL"):
        build_engines(settings.with_(bot_engines=("llm",)))
