"""Answer first, escalate when unsure: turns an NLU result into a `BotTurn`.

Every engine that classifies intents shares this one policy, so "when does the bot give up" is decided
in one place and tuned with two thresholds from `Settings`. `decide` is pure (no texts) so evaluation
can measure exactly what customers would get; `respond` adds the replies and the agent's summary.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.training_data import FALLBACK_INTENT, TrainingData
from bot.types import BotTurn, Decision, HandoffReason, IntentScore, TurnContext
from models.settings import Settings

HANDOFF_INTENT = "human_handoff"
OUT_OF_SCOPE_INTENT = "out_of_scope"

# Used when the domain does not define these responses, so a handoff is never silent.
DEFAULT_TEXTS = {
    "utter_handoff": "I'm connecting you with a member of our team. Someone will reply here shortly.",
    "utter_ask_rephrase": "Sorry, I didn't quite get that — could you rephrase?",
    "utter_out_of_scope": "Sorry, I can only help with questions about our shop and your orders.",
}
_QUOTE_LIMIT = 160


@dataclass(frozen=True)
class NluResult:
    """What a classifier made of one message, before any policy."""

    text: str
    intent: str
    confidence: float
    ranking: tuple[IntentScore, ...] = ()


@dataclass(frozen=True)
class Thresholds:
    fallback: float
    handoff: float
    fallback_attempts: int

    @classmethod
    def from_settings(cls, settings: Settings) -> Thresholds:
        return cls(
            fallback=settings.bot_fallback_threshold,
            handoff=settings.bot_handoff_threshold,
            fallback_attempts=settings.bot_fallback_attempts,
        )

    @classmethod
    def for_model(cls, settings: Settings, calibration: Mapping[str, Any]) -> Thresholds:
        """The settings' thresholds where they are set (environment, admin, command line); else the model's
        own, chosen on held-out folds of its training data for a target false-handoff rate (bot/scope.py);
        else the settings' defaults. Fallback is never below handoff."""
        chosen = settings.model_fields_set

        def pick(field: str, key: str) -> float:
            own = calibration.get(key)
            return float(getattr(settings, field)) if field in chosen or own is None else float(own)

        handoff = pick("bot_handoff_threshold", "handoff_threshold")
        return cls(fallback=max(handoff, pick("bot_fallback_threshold", "fallback_threshold")), handoff=handoff,
                   fallback_attempts=settings.bot_fallback_attempts)


@dataclass(frozen=True)
class Verdict:
    decision: Decision
    reason: HandoffReason | None
    # The intent reported on the turn: `nlu_fallback` when the bot asks to rephrase (Rasa's convention).
    intent: str

    @property
    def rephrase(self) -> bool:
        return self.decision is Decision.ANSWER and self.intent == FALLBACK_INTENT


@dataclass(frozen=True)
class ResponseBook:
    """The texts a trained model answers with, frozen together with the model that uses them."""

    responses: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    intent_responses: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_training_data(cls, data: TrainingData) -> ResponseBook:
        return cls(responses=dict(data.responses), intent_responses=data.intent_responses)

    def texts(self, response: str) -> tuple[str, ...]:
        texts = self.responses.get(response) or ()
        if not texts and response in DEFAULT_TEXTS:
            return (DEFAULT_TEXTS[response],)
        return texts

    def for_intent(self, intent: str) -> tuple[str, ...]:
        """The variants answering `intent`; raises if there are none, so the pipeline hands off."""
        response = self.intent_responses.get(intent, f"utter_{intent}")
        texts = self.texts(response)
        if not texts:
            raise LookupError(f"no response for intent '{intent}' (expected '{response}' in the domain)")
        return texts


def decide(result: NluResult, consecutive_fallbacks: int, thresholds: Thresholds) -> Verdict:
    """The decision alone. Order matters: noise is never taken for a request for a person."""
    if result.confidence < thresholds.handoff:
        return Verdict(Decision.HANDOFF, HandoffReason.LOW_CONFIDENCE, result.intent)
    if result.intent == HANDOFF_INTENT:
        return Verdict(Decision.HANDOFF, HandoffReason.CUSTOMER_ASKED, result.intent)
    if result.intent == OUT_OF_SCOPE_INTENT:
        return Verdict(Decision.HANDOFF, HandoffReason.OUT_OF_SCOPE, result.intent)
    if result.confidence < thresholds.fallback:
        if consecutive_fallbacks < thresholds.fallback_attempts:
            return Verdict(Decision.ANSWER, None, FALLBACK_INTENT)
        return Verdict(Decision.HANDOFF, HandoffReason.REPEATED_FALLBACK, result.intent)
    return Verdict(Decision.ANSWER, None, result.intent)


def respond(
    result: NluResult,
    context: TurnContext,
    thresholds: Thresholds,
    book: ResponseBook,
    *,
    engine: str,
    model_version: str | None,
) -> BotTurn:
    """Apply the policy and word the outcome for the customer and, on handoff, for the agent."""
    verdict = decide(result, context.consecutive_fallbacks, thresholds)
    return BotTurn(
        decision=verdict.decision,
        replies=_replies(verdict, book, context),
        intent=verdict.intent,
        confidence=result.confidence,
        ranking=result.ranking,
        reason=verdict.reason,
        engine=engine,
        model_version=model_version,
        summary=summarize(result, verdict, context) if verdict.reason else "",
    )


def _replies(verdict: Verdict, book: ResponseBook, context: TurnContext) -> tuple[str, ...]:
    if verdict.reason is HandoffReason.OUT_OF_SCOPE:
        return (book.texts("utter_out_of_scope")[0], book.texts("utter_handoff")[0])
    if verdict.reason is not None:
        return (book.texts("utter_handoff")[0],)
    if verdict.rephrase:
        return (book.texts(book.intent_responses.get(FALLBACK_INTENT, "utter_ask_rephrase"))[0],)
    variants = book.for_intent(verdict.intent)
    # Rotate by how many times the bot already spoke, so a repeated question gets a fresh wording
    # while the same conversation state always gets the same reply.
    bot_turns = sum(1 for sender, _ in context.history if sender == "bot")
    return (variants[bot_turns % len(variants)],)


def summarize(result: NluResult, verdict: Verdict, context: TurnContext) -> str:
    """One or two lines for the agent taking over: what the bot understood and what it tried."""
    understood = f"'{result.intent}' ({result.confidence:.2f})"
    if verdict.reason is HandoffReason.CUSTOMER_ASKED:
        head = f"Customer asked for a person (bot understood {understood})."
    elif verdict.reason is HandoffReason.OUT_OF_SCOPE:
        head = f"Question outside what the bot answers (bot understood {understood})."
    elif verdict.reason is HandoffReason.LOW_CONFIDENCE:
        head = f"Bot did not understand: best guess {understood}{_runner_up(result)}."
    elif context.consecutive_fallbacks == 0:  # fallback_attempts = 0: no rephrasing configured
        head = f"Bot was not sure: best guess {understood}{_runner_up(result)}."
    else:
        times = "once" if context.consecutive_fallbacks == 1 else f"{context.consecutive_fallbacks} times"
        head = f"Bot understood {understood}; asked to rephrase {times} and still was not sure."
    earlier = [t for sender, t in context.history if sender == "contact" and t != result.text][-2:]
    wrote = f"Customer wrote: {_quote(result.text)}"
    if verdict.reason is HandoffReason.REPEATED_FALLBACK and earlier:
        wrote += f" (before: {'; '.join(_quote(t) for t in earlier)})"
    return f"{head} {wrote}."


def _runner_up(result: NluResult) -> str:
    others = [score for score in result.ranking if score.name != result.intent]
    return f", then '{others[0].name}' ({others[0].confidence:.2f})" if others else ""


def _quote(text: str) -> str:
    flat = " ".join(text.split())
    return f'"{flat[: _QUOTE_LIMIT - 1]}…"' if len(flat) > _QUOTE_LIMIT else f'"{flat}"'
