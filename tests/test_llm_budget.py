"""The LLM spend budget: over the tokens allowed per conversation or per day, the bot hands the
conversation to people with reason `policy` instead of calling the model, and admins see it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import func, select

from bot.llm.config import LlmConfig
from bot.llm.setup import build_llm_engine
from bot.llm.testing import faithful_model
from console.app import create_app
from console.runtime.jobs import InlineJobs
from models.db import Database
from models.schema.llm import LlmTurn
from models.settings import Settings
from tests.support.actors import Agent, Customer, make_user

QUESTION = "Do you offer gift wrapping?"


def _app(settings: Settings, config: LlmConfig) -> Iterator[Flask]:
    llm = build_llm_engine(settings, config, db=Database(settings.database_url), model=faithful_model())
    assert llm is not None
    llm.summaries = False
    app = create_app(settings, engines=[llm], jobs=InlineJobs(), testing=True)
    yield app
    app.extensions["parley"].db.dispose()


@pytest.fixture
def per_conversation(settings: Settings) -> Iterator[Flask]:
    yield from _app(settings, LlmConfig(budget_conversation_tokens=200))


@pytest.fixture
def per_day(settings: Settings) -> Iterator[Flask]:
    yield from _app(settings, LlmConfig(budget_daily_tokens=200))


def _spent(db: Database) -> int:
    with db.session() as s:
        return int(s.scalar(select(func.coalesce(func.sum(LlmTurn.total_tokens), 0))) or 0)


def test_a_conversation_over_its_token_budget_goes_to_people(per_conversation: Flask) -> None:
    app = per_conversation
    db: Database = app.extensions["parley"].db
    make_user(db, "boss@example.com", role="admin")
    boss = Agent(app, "boss@example.com")
    customer = Customer(app)
    conv_id = customer.say(QUESTION)["conversation_id"]
    assert "Gift wrap" in customer.replies("bot")[-1]  # within budget: the model answers
    spent = _spent(db)
    assert spent >= 200
    customer.say("And do you ship to Norway?")
    conv = boss.get(f"/conversations/{conv_id}").get_json()
    assert conv["owner"] == "human" and conv["handoff"]["reason"] == "policy"
    assert "budget" in conv["handoff"]["summary"]
    assert _spent(db) == spent  # the model was not called again
    stats = boss.get("/admin/knowledge").get_json()["llm_turns"]
    assert stats["over_budget"] == 1
    # another customer has a budget of their own
    other = Customer(app)
    other.say(QUESTION)
    assert "Gift wrap" in other.replies("bot")[-1]


def test_over_the_daily_budget_every_new_conversation_goes_to_people(per_day: Flask) -> None:
    app = per_day
    db: Database = app.extensions["parley"].db
    make_user(db, "boss@example.com", role="admin")
    boss = Agent(app, "boss@example.com")
    first = Customer(app)
    first.say(QUESTION)
    assert "Gift wrap" in first.replies("bot")[-1]
    later = Customer(app)
    conv_id = later.say(QUESTION)["conversation_id"]
    conv = boss.get(f"/conversations/{conv_id}").get_json()
    assert conv["handoff"]["reason"] == "policy" and "daily limit" in conv["handoff"]["summary"]
    assert boss.get("/admin/knowledge").get_json()["llm_turns"]["over_budget"] == 1


def test_budgets_are_read_from_the_environment() -> None:
    config = LlmConfig.from_env({"PARLEY_LLM_BUDGET_CONVERSATION_TOKENS": "5000",
                                 "PARLEY_LLM_BUDGET_DAILY_TOKENS": "200000"})
    assert (config.budget_conversation_tokens, config.budget_daily_tokens) == (5000, 200000)
    assert LlmConfig.from_env({}).budget_daily_tokens is None
    with pytest.raises(ValueError, match="PARLEY_LLM_BUDGET_DAILY_TOKENS"):
        LlmConfig.from_env({"PARLEY_LLM_BUDGET_DAILY_TOKENS": "lots"})
