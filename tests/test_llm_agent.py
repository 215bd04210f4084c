"""The LLM agent offline, with langchain fake chat models that make tool calls: grounded answers,
grounded-or-nothing, tool and provider failures, and the records each turn leaves."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.messages import AIMessage, BaseMessage
from sqlalchemy import select

from bot.knowledge.base import KnowledgeBase
from bot.llm.agent import LlmAgent
from bot.llm.config import LlmConfig
from bot.llm.engine import LlmEngine
from bot.llm.guard import LlmRateLimited, LlmTimeout
from bot.llm.testing import (
    FakeToolChatModel,
    ScriptedChatModel,
    answer,
    faithful_agent,
    faithful_model,
    tool_call,
    tool_results,
)
from bot.types import Decision, HandoffReason, TurnContext
from models.db import Database
from models.schema.llm import KnowledgeCitation, KnowledgePassage, KnowledgeQuery, LlmTurn
from models.settings import Settings


@pytest.fixture
def kdb(settings: Settings) -> Iterator[Database]:
    db = Database(settings.database_url)
    yield db
    db.dispose()


@pytest.fixture
def kb(kdb: Database, settings: Settings) -> KnowledgeBase:
    return KnowledgeBase(kdb, settings.data_dir)


def agent(model: Any, kb: KnowledgeBase, **kw: Any) -> LlmAgent:
    return LlmAgent(model=model, kb=kb, model_name="fake:test", **kw)


def passage_id(kb: KnowledgeBase, heading_start: str) -> int:
    kb.ensure_synced()
    with kb.db.session() as s:
        pid = s.scalar(select(KnowledgePassage.id).where(KnowledgePassage.heading.startswith(heading_start)))
    assert pid is not None
    return pid


def test_grounded_answer_cites_the_passage_it_retrieved(kb: KnowledgeBase) -> None:
    model = faithful_model()
    result = agent(model, kb).run("How much does shipping cost?")
    assert result.decision is Decision.ANSWER
    assert "$4.95" in result.answer
    assert [s.kind for s in result.sources] == ["passage"]
    assert result.intent == "shipping_costs"
    assert result.state.searches[0]["query"] == "How much does shipping cost?"
    assert result.usage.model_calls == 2 and result.usage.total_tokens == 280
    # the model was given the tools, and the customer's words only inside the data tags
    assert {"search_knowledge_base", "handoff_to_human"} <= set(model.bound_tools)
    assert "<customer_message>\nHow much does shipping cost?\n</customer_message>" in model.requests[0][-1].content


def test_no_source_hands_off_with_no_grounded_answer(kb: KnowledgeBase) -> None:
    result = agent(faithful_model(), kb).run("What is the capital of Peru?")
    assert result.decision is Decision.HANDOFF
    assert result.reason is HandoffReason.NO_GROUNDED_ANSWER
    assert result.state.searches == [{"query": "What is the capital of Peru?", "hits": []}]
    assert "0 passage(s)" in result.summary


def test_an_answer_that_searched_nothing_is_not_sent(kb: KnowledgeBase) -> None:
    """A model that answers from memory, citing a plausible id, is caught: no source was retrieved."""
    pid = passage_id(kb, "How much does shipping cost")
    model = FakeToolChatModel(messages=iter([answer("Shipping is free.", [f"P{pid}"], 0.99)]))
    result = agent(model, kb).run("Is shipping free?")
    assert result.decision is Decision.HANDOFF
    assert result.reason is HandoffReason.NO_GROUNDED_ANSWER
    assert result.answer == ""


def test_an_answer_citing_a_source_it_did_not_get_is_not_sent(kb: KnowledgeBase) -> None:
    model = FakeToolChatModel(messages=iter([
        tool_call("search_knowledge_base", query="gift wrapping"),
        answer("Gift wrap costs $3.50.", ["P99999"]),
    ]))
    result = agent(model, kb).run("Do you gift wrap?")
    assert (result.decision, result.reason) == (Decision.HANDOFF, HandoffReason.NO_GROUNDED_ANSWER)
    assert "never retrieved" in result.summary


def test_an_answer_stating_numbers_its_sources_do_not_is_not_sent(kb: KnowledgeBase) -> None:
    pid = passage_id(kb, "How much does shipping cost")
    model = FakeToolChatModel(messages=iter([
        tool_call("search_knowledge_base", query="shipping cost"),
        answer("Standard delivery costs $3.95.", [f"P{pid}"]),
    ]))
    result = agent(model, kb).run("How much is shipping?")
    assert result.reason is HandoffReason.NO_GROUNDED_ANSWER
    assert "3.95" in result.summary


def test_low_confidence_and_plain_text_replies_are_not_sent(kb: KnowledgeBase) -> None:
    pid = passage_id(kb, "How much does shipping cost")
    unsure = FakeToolChatModel(messages=iter([
        tool_call("search_knowledge_base", query="shipping cost"),
        answer("Standard delivery costs $4.95.", [f"P{pid}"], confidence=0.2),
    ]))
    assert agent(unsure, kb).run("Shipping?").reason is HandoffReason.NO_GROUNDED_ANSWER
    chatty = FakeToolChatModel(messages=iter([AIMessage(content="Sure! Shipping is always free.")]))
    result = agent(chatty, kb).run("Shipping?")
    assert result.reason is HandoffReason.NO_GROUNDED_ANSWER
    assert "no structured answer" in result.summary


def test_customer_asking_for_a_person_is_handed_off_as_asked(kb: KnowledgeBase) -> None:
    model = FakeToolChatModel(messages=iter([
        tool_call("handoff_to_human", reason="customer_asked", summary="Wants a person about an invoice.")]))
    result = agent(model, kb).run("I need to speak to someone about my invoice")
    assert (result.decision, result.reason) == (Decision.HANDOFF, HandoffReason.CUSTOMER_ASKED)
    assert result.summary.startswith("Wants a person about an invoice.")


class BrokenKnowledgeBase(KnowledgeBase):
    def search(self, query: str, k: int = 4) -> list[Any]:
        raise RuntimeError("index unavailable")


def test_a_tool_error_hands_off_as_bot_error(kdb: Database, settings: Settings) -> None:
    kb = BrokenKnowledgeBase(kdb, settings.data_dir)
    result = agent(faithful_model(), kb).run("How much does shipping cost?")
    assert (result.decision, result.reason) == (Decision.HANDOFF, HandoffReason.BOT_ERROR)
    assert "search_knowledge_base" in result.summary and "index unavailable" in result.summary
    assert result.state.tool_calls == [{"name": "search_knowledge_base", "ok": False, "error": "index unavailable"}]


class RateLimitError(Exception):
    """Named like every provider SDK's rate-limit error."""


def test_provider_errors_raise_for_the_pipeline_and_are_recorded(kb: KnowledgeBase) -> None:
    def limited(messages: list[BaseMessage]) -> AIMessage:
        raise RateLimitError("429 Too Many Requests")

    engine = LlmEngine(agent(ScriptedChatModel(script=limited), kb))
    with pytest.raises(LlmRateLimited):
        engine.turn("How much does shipping cost?", TurnContext(conversation_id="c_none"))
    with kb.db.session() as s:
        row = s.scalars(select(LlmTurn)).one()
        query = s.scalars(select(KnowledgeQuery)).one()
    assert (row.outcome, row.purpose, row.model) == ("error", "bot", "fake:test")
    assert row.error is not None and "LlmRateLimited" in row.error and "429" in row.error
    assert query.outcome == "error"


def test_the_turn_deadline_and_step_limit_end_as_timeouts(kb: KnowledgeBase) -> None:
    def slow(messages: list[BaseMessage]) -> AIMessage:
        time.sleep(0.05)
        return faithful_agent(messages)

    ctx = TurnContext(conversation_id="c_none")
    with pytest.raises(LlmTimeout, match="longer than"):
        LlmEngine(agent(ScriptedChatModel(script=slow), kb, turn_timeout=0.01)).turn("Shipping cost?", ctx)

    def searches_forever(messages: list[BaseMessage]) -> AIMessage:
        return tool_call("search_knowledge_base", query=f"shipping {len(tool_results(messages))}")

    looping = LlmEngine(agent(ScriptedChatModel(script=searches_forever), kb, max_steps=4))
    with pytest.raises(LlmTimeout, match="4 steps"):
        looping.turn("How much does shipping cost?", ctx)


def test_each_turn_records_tokens_latency_and_what_it_cited(kb: KnowledgeBase) -> None:
    engine = LlmEngine(agent(faithful_model(), kb))
    turn = engine.turn("Do you offer gift wrapping?", TurnContext(conversation_id="c_unknown"))
    assert turn.decision is Decision.ANSWER and "Gift wrap" in turn.replies[0]
    assert turn.engine == "llm" and turn.intent == "knowledge_base"  # that FAQ entry names no intent
    engine.turn("What is the capital of Peru?", TurnContext(conversation_id="c_unknown"))
    with kb.db.session() as s:
        turns = s.scalars(select(LlmTurn).order_by(LlmTurn.id)).all()
        queries = s.scalars(select(KnowledgeQuery).order_by(KnowledgeQuery.id)).all()
        citations = s.scalars(select(KnowledgeCitation)).all()
        cited = s.get(KnowledgePassage, citations[0].passage_id)
    assert [(t.outcome, t.reason) for t in turns] == [("answer", None), ("handoff", "no_grounded_answer")]
    assert all(t.total_tokens == 280 and t.model_calls == 2 and t.latency_ms > 0 for t in turns)
    assert turns[0].tool_calls == [{"name": "search_knowledge_base", "ok": True}]
    assert [q.outcome for q in queries] == ["answered", "no_source"]
    assert queries[1].searches == [{"query": "What is the capital of Peru?", "hits": []}]
    assert len(citations) == 1 and citations[0].query_id == queries[0].id
    assert cited is not None and cited.heading == "Do you offer gift wrapping?"


def test_config_reads_the_model_from_the_environment() -> None:
    config = LlmConfig.from_env({"PARLEY_LLM_MODEL": "openai:gpt-4o-mini", "PARLEY_LLM_BASE_URL": "http://x/v1",
                                 "PARLEY_LLM_API_KEY": "sk-secret", "PARLEY_LLM_TIMEOUT": "7"})
    assert config.enabled and config.request_timeout == 7.0
    assert "sk-secret" not in str(config.describe())
    assert not LlmConfig.from_env({}).enabled
    with pytest.raises(ValueError, match="provider:model"):
        LlmConfig.from_env({"PARLEY_LLM_MODEL": "gpt-4o-mini"})
