"""Build the `llm` stage from configuration.

No model configured (`PARLEY_LLM_MODEL` unset) means no stage: `build_llm_engine` returns None and
`bot.engines` drops `llm` from the chain with a logged warning, so `PARLEY_BOT_ENGINES=embedded,llm`
keeps working on the intent engine alone (the admin page says the stage is off). A model that *is*
configured but cannot be built (unknown provider, missing package) is an error at start.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from bot.knowledge.base import KnowledgeBase
from bot.llm.config import LlmConfig, make_chat_model, make_embeddings
from bot.llm.http_tools import HttpAction, enabled_actions
from models.db import Database
from models.settings import Settings

if TYPE_CHECKING:  # langchain is imported only when a stage or an agent is built
    from bot.llm.agent import LlmAgent
    from bot.llm.engine import LlmEngine

log = logging.getLogger(__name__)


def knowledge_base(settings: Settings, db: Database, config: LlmConfig | None = None) -> KnowledgeBase:
    config = config or LlmConfig.from_settings(settings)
    embedder = make_embeddings(config) if config.embedding_model else None
    return KnowledgeBase(db, settings.data_dir, embedder=embedder, embedding_model=config.embedding_model)


def actions_loader(db: Database) -> Any:
    def load() -> list[HttpAction]:
        with db.session() as s:
            return enabled_actions(s)

    return load


def build_agent(settings: Settings, config: LlmConfig, db: Database, *, model: Any = None,
                kb: KnowledgeBase | None = None) -> LlmAgent:
    from bot.llm.agent import LlmAgent

    summary_model = None
    if model is None:
        model = make_chat_model(config)
        summary_model = make_chat_model(config, timeout=config.summary_timeout)
    return LlmAgent(model=model, kb=kb or knowledge_base(settings, db, config), model_name=config.model or "custom",
                    turn_timeout=config.turn_timeout, max_steps=config.max_steps,
                    min_confidence=config.min_confidence, actions_loader=actions_loader(db),
                    summary_model=summary_model)


def build_llm_engine(settings: Settings, config: LlmConfig | None = None, *, db: Database | None = None,
                     model: Any = None) -> LlmEngine | None:
    """The stage, or None when no model is configured (and none is given, as tests do)."""
    config = config or LlmConfig.from_settings(settings)
    if model is None and not config.enabled:
        log.warning("PARLEY_BOT_ENGINES names 'llm' but PARLEY_LLM_MODEL is not set: the LLM stage is off "
                    "and the other engines answer alone (set PARLEY_LLM_MODEL, e.g. openai:gpt-4o-mini)")
        return None
    from bot.llm.budget import TokenBudget
    from bot.llm.engine import LlmEngine

    agent = build_agent(settings, config, db or Database(settings.database_url), model=model)
    return LlmEngine(agent, budget=TokenBudget(config.budget_conversation_tokens, config.budget_daily_tokens))
