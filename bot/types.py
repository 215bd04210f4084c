"""The contract between the pipeline and every bot engine.

An engine turns one customer message (plus what it remembers of the conversation) into a
`BotTurn`. The pipeline never looks inside an engine: it only stores and sends what the turn
says, so engines (`embedded`, later `rasa` and `llm`) can be swapped or chained.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from models.conversations.rich import Rich


class Decision(StrEnum):
    ANSWER = "answer"
    HANDOFF = "handoff"


class HandoffReason(StrEnum):
    CUSTOMER_ASKED = "customer_asked"  # a `human_handoff` intent
    OUT_OF_SCOPE = "out_of_scope"  # an `out_of_scope` intent (Rasa's convention)
    LOW_CONFIDENCE = "low_confidence"  # below the handoff threshold
    REPEATED_FALLBACK = "repeated_fallback"  # the bot asked to rephrase and still did not understand
    BOT_ERROR = "bot_error"  # any engine failure: the customer is never left alone
    POLICY = "policy"  # an admin/agent rule said so
    NO_GROUNDED_ANSWER = "no_grounded_answer"  # the LLM agent found no source to answer from


@dataclass(frozen=True)
class IntentScore:
    name: str
    confidence: float


@dataclass(frozen=True)
class StageView:
    """One engine's view of a message, kept in the handoff packet so the agent sees every stage
    (e.g. the intent engine's guess, then what the LLM agent searched and found)."""

    engine: str
    decision: str
    reason: str | None
    intent: str | None
    confidence: float
    summary: str = ""
    details: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, turn: BotTurn) -> StageView:
        return cls(engine=turn.engine, decision=turn.decision.value,
                   reason=turn.reason.value if turn.reason else None, intent=turn.intent,
                   confidence=turn.confidence, summary=turn.summary)

    def to_json(self) -> dict[str, Any]:
        return {"engine": self.engine, "decision": self.decision, "reason": self.reason, "intent": self.intent,
                "confidence": self.confidence, "summary": self.summary, "details": dict(self.details)}


@dataclass(frozen=True)
class BotTurn:
    """What the bot made of one customer message."""

    decision: Decision
    replies: tuple[str, ...]
    intent: str | None
    confidence: float
    ranking: tuple[IntentScore, ...] = ()
    reason: HandoffReason | None = None
    engine: str = "embedded"
    model_version: str | None = None
    # A short account of what the bot tried, for the agent who takes over.
    summary: str = ""
    # Every stage's view, in order (the pipeline fills it; an engine may give its own, richer view).
    stages: tuple[StageView, ...] = ()
    # Buttons and an image beside each reply, by position (shorter than `replies`: the rest are text only).
    rich: tuple[Rich, ...] = ()

    def rich_of(self, index: int) -> Rich:
        return self.rich[index] if index < len(self.rich) else Rich()

    def __post_init__(self) -> None:
        if (self.decision is Decision.HANDOFF) != (self.reason is not None):
            raise ValueError("a handoff needs a reason, and only a handoff has one")

    def parse_json(self, text: str) -> dict[str, Any]:
        """What `parley bot parse` prints, the same for every engine."""
        return {
            "text": text,
            "intent": self.intent,
            "confidence": self.confidence,
            "ranking": [{"name": s.name, "confidence": s.confidence} for s in self.ranking],
            "decision": str(self.decision),
            "reason": str(self.reason) if self.reason else None,
            "replies": list(self.replies),
            **({"rich": [r.to_json() for r in self.rich]} if any(self.rich) else {}),
            "summary": self.summary,
            "engine": self.engine,
            "model_version": self.model_version,
        }


@dataclass(frozen=True)
class TurnContext:
    """What an engine may know of the conversation besides the message itself."""

    conversation_id: str
    # How many bot turns in a row, just before this one, were fallbacks ("please rephrase").
    consecutive_fallbacks: int = 0
    history: tuple[tuple[str, str], ...] = field(default=())  # (sender_type, text), oldest first
    # What the site told about the customer (the widget SDK's setAttributes: flat text/number/bool values,
    # untrusted) and the page the conversation started on.
    attributes: Mapping[str, Any] = field(default_factory=dict)
    page_url: str | None = None
    # What the bot may know of who writes and where (bot/metadata.py): the channel, the contact's id,
    # name and attributes. Rasa gets it as the message's `metadata`.
    metadata: Mapping[str, Any] = field(default_factory=dict)
    # The model version the database named active for each engine (bot/model_sync.py) when the turn was
    # read, in the pipeline's own look (bot/pipeline.py): an engine following it asks nothing more. None:
    # not read (the engine asks the database itself).
    active_models: Mapping[str, str | None] | None = None


class Engine(Protocol):
    """An engine may also say `answers_in_process = True` (a class attribute): it answers from this
    process's memory in milliseconds, never over the network (`BotPipeline.answers_at_once`), and
    `ready_for(context) -> bool`: whether that turn needs nothing loaded first (a model from disk), so it
    may run inside a customer message's transaction (`BotPipeline.ready_in_message`), and
    `load_for(context | None)`: load it now (`BotPipeline.prepare`, the web role)."""

    name: str

    def turn(self, text: str, context: TurnContext) -> BotTurn:
        """Answer or hand off. May raise: the pipeline turns any exception into a `bot_error` handoff."""
        ...
