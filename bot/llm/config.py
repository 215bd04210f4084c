"""The LLM agent's configuration: which model (langchain's `provider:model`), where, and how long
it may take. The model is configuration, not code: any OpenAI-compatible server (a hosted API, vLLM,
Ollama, llama.cpp) is `openai:<model>` with `PARLEY_LLM_BASE_URL`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from models.settings import Settings, read_vars

_FIELDS = ("llm_model", "llm_base_url", "llm_api_key", "llm_timeout", "llm_turn_timeout", "llm_summary_timeout",
           "llm_max_retries", "llm_temperature", "llm_max_steps", "llm_min_confidence", "embedding_model",
           "llm_budget_conversation_tokens", "llm_budget_daily_tokens")


@dataclass(frozen=True)
class LlmConfig:
    model: str | None = None  # e.g. "openai:gpt-4o-mini"; None: the LLM stage is off
    base_url: str | None = None
    api_key: str | None = None
    # One request to the provider; the whole turn (several model and tool calls) has `turn_timeout`.
    request_timeout: float = 20.0
    turn_timeout: float = 45.0
    summary_timeout: float = 8.0
    max_retries: int = 1
    temperature: float = 0.0
    # Model steps per turn (each model call or tool round is a step): a loop ends as a bot_error.
    max_steps: int = 8
    # Self-reported confidence below this is not sent: handoff `no_grounded_answer`.
    min_confidence: float = 0.5
    embedding_model: str | None = None  # e.g. "openai:text-embedding-3-small"; None: BM25 only
    # Spend limits (tokens; None: none): over either, the LLM stage hands off with reason `policy`.
    budget_conversation_tokens: int | None = None
    budget_daily_tokens: int | None = None

    @property
    def enabled(self) -> bool:
        return bool(self.model)

    @classmethod
    def from_settings(cls, settings: Settings) -> LlmConfig:
        """The LLM agent's view of the one settings object (where the variables are declared)."""
        return cls.from_values(settings.resolved().model_dump(include=set(_FIELDS)))

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> LlmConfig:
        """From env-style variables alone (tests; code without a `Settings` at hand)."""
        return cls.from_values(read_vars(os.environ if env is None else env, _FIELDS))

    @classmethod
    def from_values(cls, v: Mapping[str, Any]) -> LlmConfig:
        return cls(model=v["llm_model"], base_url=v["llm_base_url"], api_key=v["llm_api_key"],
                   request_timeout=v["llm_timeout"], turn_timeout=v["llm_turn_timeout"],
                   summary_timeout=v["llm_summary_timeout"], max_retries=v["llm_max_retries"],
                   temperature=v["llm_temperature"], max_steps=v["llm_max_steps"],
                   min_confidence=v["llm_min_confidence"], embedding_model=v["embedding_model"],
                   budget_conversation_tokens=v["llm_budget_conversation_tokens"],
                   budget_daily_tokens=v["llm_budget_daily_tokens"])

    def describe(self) -> dict[str, Any]:
        """For the admin page: everything but the key."""
        return {"model": self.model, "base_url": self.base_url, "api_key_set": bool(self.api_key),
                "request_timeout": self.request_timeout, "turn_timeout": self.turn_timeout,
                "embedding_model": self.embedding_model,
                "budget": {"conversation_tokens": self.budget_conversation_tokens,
                           "daily_tokens": self.budget_daily_tokens}}



def make_chat_model(config: LlmConfig, *, timeout: float | None = None) -> Any:
    """The configured chat model, through langchain's `init_chat_model`. Raises on a bad configuration
    (unknown provider, provider package missing) so a broken setup is said at start."""
    from langchain.chat_models import init_chat_model

    assert config.model is not None
    kwargs: dict[str, Any] = {"temperature": config.temperature, "timeout": timeout or config.request_timeout,
                              "max_retries": config.max_retries}
    if config.base_url:
        kwargs["base_url"] = config.base_url
    if config.api_key:
        kwargs["api_key"] = config.api_key
    elif config.base_url:
        kwargs["api_key"] = "not-needed"  # local OpenAI-compatible servers ignore it; the client insists
    return init_chat_model(config.model, **kwargs)


def make_embeddings(config: LlmConfig) -> Any:
    from langchain.embeddings import init_embeddings

    assert config.embedding_model is not None
    kwargs: dict[str, Any] = {}
    if config.base_url:
        kwargs["base_url"] = config.base_url
        if config.embedding_model.startswith("openai:"):
            # Other OpenAI-compatible servers want text, not tiktoken ids (and tiktoken would download).
            kwargs["check_embedding_ctx_length"] = False
    if config.api_key:
        kwargs["api_key"] = config.api_key
    elif config.base_url:
        kwargs["api_key"] = "not-needed"
    return init_embeddings(config.embedding_model, **kwargs)
