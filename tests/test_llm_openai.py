"""End to end through the real provider package (langchain-openai), against a local fake
OpenAI-compatible server: a tool call, then the final answer; provider failures; embeddings."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from bot.knowledge.base import KnowledgeBase
from bot.llm.config import LlmConfig, make_chat_model
from bot.llm.guard import LlmProviderError, LlmRateLimited, LlmTimeout
from bot.llm.setup import build_llm_engine, knowledge_base
from bot.types import Decision, TurnContext
from models.db import Database
from models.schema.llm import KnowledgePassage, LlmTurn
from models.settings import Settings
from tests.support.actors import Customer
from tests.support.engines import IntentStub
from tests.support.fakes.openai_server import FakeOpenAI


@pytest.fixture
def server() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake:
        assert isinstance(fake, FakeOpenAI)
        yield fake


@pytest.fixture
def kdb(settings: Settings) -> Iterator[Database]:
    db = Database(settings.database_url)
    yield db
    db.dispose()


def config_for(server: FakeOpenAI, **kw: Any) -> LlmConfig:
    return LlmConfig(model="openai:fake-gpt", base_url=server.base_url, api_key="sk-test-key",
                     request_timeout=kw.pop("request_timeout", 5.0), max_retries=0, **kw)


def test_the_agent_answers_through_langchain_openai(server: FakeOpenAI, settings: Settings, kdb: Database) -> None:
    engine = build_llm_engine(settings, config_for(server), db=kdb)
    assert engine is not None and type(engine.agent.model).__name__ == "ChatOpenAI"
    turn = engine.turn("How much does shipping cost?", TurnContext(conversation_id="c_x"))
    assert turn.decision is Decision.ANSWER and "$4.95" in turn.replies[0]
    first, second = server.chat_requests()
    assert first["model"] == "fake-gpt"
    assert {t["function"]["name"] for t in first["tools"]} == {"search_knowledge_base", "handoff_to_human",
                                                               "FinalAnswer"}
    assert first["messages"][0]["role"] == "system"
    assert second["messages"][-1]["role"] == "tool" and '<passage id="P' in second["messages"][-1]["content"]
    assert all(r.headers["authorization"] == "Bearer sk-test-key" for r in server.requests)
    with kdb.session() as s:
        row = s.scalars(select(LlmTurn)).one()
    assert row.model == "openai:fake-gpt" and row.model_calls == 2
    assert row.output_tokens == 50 and row.input_tokens > 0 and row.total_tokens == row.input_tokens + 50


def test_a_customer_gets_the_answer_through_the_whole_app(server: FakeOpenAI, settings: Settings) -> None:
    from console.app import create_app
    from console.runtime.jobs import InlineJobs

    llm = build_llm_engine(settings, config_for(server), db=Database(settings.database_url))
    assert llm is not None
    app: Flask = create_app(settings, engines=[IntentStub(), llm], jobs=InlineJobs(), testing=True)
    try:
        customer = Customer(app)
        customer.say("Which payment methods do you accept?")
        assert "Visa" in customer.replies("bot")[0]
        customer.say("What will the weather be in Paris tomorrow?")
        assert customer.replies("bot")[-1].startswith("I'm connecting you")
    finally:
        app.extensions["parley"].db.dispose()


@pytest.mark.parametrize(("status", "error"), [(429, LlmRateLimited), (500, LlmProviderError),
                                               (401, LlmProviderError)])
def test_provider_errors_become_errors_the_pipeline_hands_off(server: FakeOpenAI, settings: Settings,
                                                              kdb: Database, status: int, error: type) -> None:
    engine = build_llm_engine(settings, config_for(server), db=kdb)
    assert engine is not None
    server.fail_next(status)
    with pytest.raises(error):
        engine.turn("How much does shipping cost?", TurnContext(conversation_id="c_x"))


def test_a_provider_that_does_not_answer_in_time_is_a_timeout(server: FakeOpenAI, settings: Settings,
                                                              kdb: Database) -> None:
    engine = build_llm_engine(settings, config_for(server, request_timeout=0.3), db=kdb)
    assert engine is not None
    server.hang_next(2.0)
    with pytest.raises(LlmTimeout):
        engine.turn("How much does shipping cost?", TurnContext(conversation_id="c_x"))


def test_embeddings_are_fused_with_bm25_when_an_embedding_model_is_configured(
        server: FakeOpenAI, settings: Settings, kdb: Database) -> None:
    kb = knowledge_base(settings, kdb, config_for(server, embedding_model="openai:fake-embed"))
    assert isinstance(kb, KnowledgeBase) and kb.embedder is not None
    hits = kb.search("Do you offer gift wrapping?")
    assert hits and hits[0].heading == "Do you offer gift wrapping?"
    with kdb.session() as s:
        stored = s.scalar(select(func.count()).select_from(KnowledgePassage)
                          .where(KnowledgePassage.embedding_model == "openai:fake-embed"))
        total = s.scalar(select(func.count()).select_from(KnowledgePassage))
    assert stored == total and total
    embedded_before = sum(1 for r in server.requests if r.path.endswith("/embeddings"))
    kb.search("gift cards")  # stored vectors are reused: only the query is embedded
    assert sum(1 for r in server.requests if r.path.endswith("/embeddings")) == embedded_before + 1


def test_a_configured_model_that_cannot_be_built_fails_at_start() -> None:
    with pytest.raises(Exception, match=r"nosuchprovider|Unsupported"):
        make_chat_model(LlmConfig(model="nosuchprovider:x"))
