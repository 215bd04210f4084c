"""The answer-first / escalate policy, on hand-made NLU results (no model needed)."""

from __future__ import annotations

import pytest

from bot.policy import NluResult, ResponseBook, Thresholds, decide, respond
from bot.types import BotTurn, Decision, HandoffReason, IntentScore, TurnContext
from models.settings import Settings

THRESHOLDS = Thresholds(fallback=0.5, handoff=0.2, fallback_attempts=1)
BOOK = ResponseBook(
    responses={
        "utter_greet": ("Hello!", "Hi again!"),
        "utter_order_status": ("Track it in My account.",),
        "utter_handoff": ("Passing you to a person.",),
        "utter_out_of_scope": ("I only know about the shop.",),
        "utter_ask_rephrase": ("Could you rephrase?",),
    },
    intent_responses={"greet": "utter_greet", "order_status": "utter_order_status"},
)


def _result(intent: str, confidence: float, text: str = "some message") -> NluResult:
    runner_up = "greet" if intent != "greet" else "order_status"
    ranking = (IntentScore(intent, confidence), IntentScore(runner_up, round((1 - confidence) / 2, 4)))
    return NluResult(text=text, intent=intent, confidence=confidence, ranking=ranking)


def _turn(result: NluResult, fallbacks: int = 0, history: tuple[tuple[str, str], ...] = ()) -> BotTurn:
    context = TurnContext(conversation_id="c1", consecutive_fallbacks=fallbacks, history=history)
    return respond(result, context, THRESHOLDS, BOOK, engine="embedded", model_version="v1")


@pytest.mark.parametrize(
    ("intent", "confidence", "fallbacks", "decision", "reason", "reported"),
    [
        ("order_status", 0.9, 0, Decision.ANSWER, None, "order_status"),
        ("order_status", 0.5, 0, Decision.ANSWER, None, "order_status"),  # the threshold itself answers
        ("order_status", 0.49, 0, Decision.ANSWER, None, "nlu_fallback"),
        ("order_status", 0.49, 1, Decision.HANDOFF, HandoffReason.REPEATED_FALLBACK, "order_status"),
        ("order_status", 0.19, 0, Decision.HANDOFF, HandoffReason.LOW_CONFIDENCE, "order_status"),
        ("human_handoff", 0.9, 0, Decision.HANDOFF, HandoffReason.CUSTOMER_ASKED, "human_handoff"),
        ("human_handoff", 0.3, 0, Decision.HANDOFF, HandoffReason.CUSTOMER_ASKED, "human_handoff"),
        ("human_handoff", 0.1, 0, Decision.HANDOFF, HandoffReason.LOW_CONFIDENCE, "human_handoff"),
        ("out_of_scope", 0.8, 0, Decision.HANDOFF, HandoffReason.OUT_OF_SCOPE, "out_of_scope"),
    ],
)
def test_decide(
    intent: str,
    confidence: float,
    fallbacks: int,
    decision: Decision,
    reason: HandoffReason | None,
    reported: str,
) -> None:
    verdict = decide(_result(intent, confidence), fallbacks, THRESHOLDS)
    assert (verdict.decision, verdict.reason, verdict.intent) == (decision, reason, reported)


def test_more_fallback_attempts_delay_the_handoff_and_zero_hands_off_at_once() -> None:
    patient = Thresholds(fallback=0.5, handoff=0.2, fallback_attempts=2)
    assert decide(_result("greet", 0.3), 1, patient).rephrase
    assert decide(_result("greet", 0.3), 2, patient).reason is HandoffReason.REPEATED_FALLBACK
    hasty = Thresholds(fallback=0.5, handoff=0.2, fallback_attempts=0)
    turn = respond(_result("greet", 0.4), TurnContext("c1"), hasty, BOOK, engine="e", model_version=None)
    assert turn.reason is HandoffReason.REPEATED_FALLBACK
    assert turn.summary.startswith("Bot was not sure: best guess 'greet' (0.40), then 'order_status' (0.30).")


def test_answer_uses_the_intents_response_and_rotates_by_bot_turns() -> None:
    first = _turn(_result("greet", 0.95))
    assert (first.decision, first.replies, first.reason, first.summary) == (Decision.ANSWER, ("Hello!",), None, "")
    again = _turn(_result("greet", 0.95), history=(("contact", "hi"), ("bot", "Hello!"), ("contact", "hi")))
    assert again.replies == ("Hi again!",)
    assert (first.engine, first.model_version, first.confidence) == ("embedded", "v1", 0.95)


def test_rephrase_keeps_the_top_intent_in_the_ranking() -> None:
    turn = _turn(_result("order_status", 0.34))
    assert turn.decision is Decision.ANSWER
    assert turn.intent == "nlu_fallback"
    assert turn.replies == ("Could you rephrase?",)
    assert turn.ranking[0].name == "order_status"


def test_handoff_replies_and_summaries() -> None:
    asked = _turn(_result("human_handoff", 0.91, "agent please"))
    assert asked.replies == ("Passing you to a person.",)
    assert (
        asked.summary
        == "Customer asked for a person (bot understood 'human_handoff' (0.91)). Customer wrote: \"agent please\"."
    )

    oos = _turn(_result("out_of_scope", 0.8, "will it rain"))
    assert oos.replies == ("I only know about the shop.", "Passing you to a person.")
    assert oos.reason is HandoffReason.OUT_OF_SCOPE and "will it rain" in oos.summary

    low = _turn(_result("order_status", 0.12, "blorp"))
    assert low.reason is HandoffReason.LOW_CONFIDENCE
    assert low.summary.startswith("Bot did not understand: best guess 'order_status' (0.12), then 'greet'")

    history = (("contact", "my thing is weird"), ("bot", "Could you rephrase?"))
    repeated = _turn(_result("order_status", 0.34, "the thing I got"), fallbacks=1, history=history)
    assert repeated.reason is HandoffReason.REPEATED_FALLBACK
    assert repeated.summary == (
        "Bot understood 'order_status' (0.34); asked to rephrase once and still was not sure. "
        'Customer wrote: "the thing I got" (before: "my thing is weird").'
    )


def test_long_messages_are_cut_in_the_summary() -> None:
    turn = _turn(_result("human_handoff", 0.9, "word " * 100))
    assert len(turn.summary) < 300 and turn.summary.endswith('…".')


def test_missing_texts_fall_back_to_built_in_wording_but_answers_do_not() -> None:
    bare = ResponseBook()
    context = TurnContext(conversation_id="c1")
    handoff = respond(_result("human_handoff", 0.9), context, THRESHOLDS, bare, engine="e", model_version=None)
    assert handoff.replies == ("I'm connecting you with a member of our team. Someone will reply here shortly.",)
    with pytest.raises(LookupError, match="no response for intent 'greet'"):
        respond(_result("greet", 0.9), context, THRESHOLDS, bare, engine="e", model_version=None)


def _settings(**env: str) -> Settings:
    return Settings.from_env(env={"PARLEY_SECRET_KEY": "t", **env}, load_dotenv=False)


OWN = {"handoff_threshold": 0.35, "fallback_threshold": 0.6}


def test_a_model_brings_its_own_thresholds_unless_the_settings_name_them() -> None:
    assert Thresholds.for_model(_settings(), OWN) == Thresholds(fallback=0.6, handoff=0.35, fallback_attempts=1)
    # a model without its own (too little data to calibrate) keeps the settings' defaults
    assert Thresholds.for_model(_settings(), {"method": "top probability"}) == THRESHOLDS
    # a threshold set in the environment (or the admin, or the command line) wins, the other stays the model's
    assert Thresholds.for_model(_settings(PARLEY_BOT_HANDOFF_THRESHOLD="0.1"), OWN) == Thresholds(
        fallback=0.6, handoff=0.1, fallback_attempts=1)
    assert Thresholds.for_model(_settings().with_(bot_fallback_threshold=0.5), OWN).fallback == 0.5
    # never asked to rephrase above the point where it would hand off
    assert Thresholds.for_model(_settings(PARLEY_BOT_FALLBACK_THRESHOLD="0.2"), OWN) == Thresholds(
        fallback=0.35, handoff=0.35, fallback_attempts=1)
    at = Thresholds.for_model(_settings(), OWN)
    assert decide(_result("order_status", 0.34), 0, at).reason is HandoffReason.LOW_CONFIDENCE
    assert decide(_result("order_status", 0.36), 0, at).rephrase
