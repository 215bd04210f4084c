"""Bot engines for tests: answers decided by rules or by a fixed intent, no model to train."""

from __future__ import annotations

from typing import Any

from bot.types import BotTurn, Decision, HandoffReason, IntentScore, TurnContext


class RuleEngine:
    """A tiny deterministic engine for tests of everything around the bot (the real one has its own)."""

    name = "rules"
    answers_in_process = True

    def turn(self, text: str, context: TurnContext) -> BotTurn:
        low = text.lower()
        if "person" in low or "human" in low:
            return BotTurn(Decision.HANDOFF, ("Connecting you with a person.",), "human_handoff", 0.95,
                           (IntentScore("human_handoff", 0.95),), HandoffReason.CUSTOMER_ASKED,
                           engine=self.name, summary="Customer asked for a person.")
        if "explode" in low:
            raise RuntimeError("engine broke")
        if low.startswith("hi") or "hello" in low:
            return BotTurn(Decision.ANSWER, ("Hello! How can I help?",), "greet", 0.97,
                           (IntentScore("greet", 0.97),), engine=self.name)
        return BotTurn(Decision.ANSWER, ("Your order ships in 3-5 days.",), "order_status", 0.8,
                       (IntentScore("order_status", 0.8),), engine=self.name)


class IntentStub:
    """A deterministic intent stage: knows greetings and requests for a person, unsure of the rest."""

    name = "embedded"

    def __init__(self) -> None:
        self.seen: list[str] = []

    def turn(self, text: str, context: TurnContext) -> BotTurn:
        self.seen.append(text)
        low = text.lower()
        if "person" in low:
            return BotTurn(Decision.HANDOFF, ("Connecting you with a person.",), "human_handoff", 0.93,
                           (IntentScore("human_handoff", 0.93),), HandoffReason.CUSTOMER_ASKED, engine=self.name,
                           summary="Customer asked for a person.")
        if low.startswith("hi"):
            return BotTurn(Decision.ANSWER, ("Hello! How can I help?",), "greet", 0.97, engine=self.name)
        return BotTurn(Decision.HANDOFF, ("Let me check.",), "shipping_costs", 0.12,
                       (IntentScore("shipping_costs", 0.12), IntentScore("order_status", 0.08)),
                       HandoffReason.LOW_CONFIDENCE, engine=self.name, summary="Bot did not understand.")


def storing_the_answer_fails_once(monkeypatch: Any) -> list[bool]:
    """The bot's first `do_store_answer` raises (as a broken write would), later ones store: returns the
    calls' `release` flags (True: in the customer message's transaction, giving the claim back)."""
    import bot.pipeline as pipeline

    real, calls = pipeline.do_store_answer, []

    def fails_first(*args: Any, **kwargs: Any) -> bool:
        calls.append(kwargs.get("release", False))
        if len(calls) == 1:
            raise RuntimeError("storing the answer broke")
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline, "do_store_answer", fails_first)
    return calls
