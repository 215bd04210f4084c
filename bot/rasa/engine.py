"""The `rasa` engine: one conversation is one Rasa tracker (sender id = the conversation's public id).

A turn is two calls: the REST channel's webhook (Rasa's NLU *and* dialogue run, exactly as for any
Rasa channel, and the tracker records it), then the tracker, whose events since that user message
say what Rasa understood (intent, confidence, ranking) and did (which actions ran, which responses
they uttered). Rasa's answers go to the customer as they are; Parley only decides whether the turn
is a handoff, mapping Rasa's own signals onto Parley's reasons:

- best intent below `PARLEY_BOT_HANDOFF_THRESHOLD` → `low_confidence`;
- intent `human_handoff`, or a handoff action (`utter_handoff`, `action_handoff`) → `customer_asked`;
- intent `out_of_scope` → `out_of_scope`;
- `nlu_fallback` (the FallbackClassifier) → Rasa's rephrase rule answers; after
  `PARLEY_BOT_FALLBACK_ATTEMPTS` rephrases in a row → `repeated_fallback`;
- `action_default_fallback` (the dialogue is unsure) → `low_confidence`, or `repeated_fallback` right
  after a rephrase;
- no response at all → `low_confidence` (never silence);
- Rasa down, refusing, or slower than `PARLEY_RASA_TIMEOUT` → `turn()` raises: the pipeline's `bot_error`.

Every turn carries the pipeline's metadata (channel, conversation, contact: bot/metadata.py) as the
REST message's `metadata`, so custom actions read it from `tracker.latest_message["metadata"]`. A
response's `buttons` and `image` are kept beside its text (`BotTurn.rich`): the widget shows chips
and the image, WhatsApp interactive buttons, SMS a numbered list (models/conversations/rich.py).

When to ask for a rephrase is Rasa's decision (the FallbackClassifier's threshold in `config.yml`);
`PARLEY_BOT_FALLBACK_THRESHOLD` only tunes the embedded engine.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from bot.policy import (
    DEFAULT_TEXTS,
    HANDOFF_INTENT,
    OUT_OF_SCOPE_INTENT,
    NluResult,
    Thresholds,
    Verdict,
    summarize,
)
from bot.rasa.client import RasaClient, RasaError
from bot.rasa.server import RasaServer, version_of
from bot.training_data import FALLBACK_INTENT
from bot.types import BotTurn, Decision, HandoffReason, IntentScore, TurnContext
from models.conversations.rich import Rich, buttons_from, safe_image_url
from models.settings import Settings

log = logging.getLogger(__name__)

ENGINE_NAME = "rasa"
CORE_FALLBACK = "action_default_fallback"
# Actions that mean "a person takes over" when the dialogue runs them (the intent may be anything).
HANDOFF_ACTIONS = frozenset({"utter_handoff", "action_handoff", "action_human_handoff", "action_handoff_to_human"})
# Responses that already tell the customer a person is coming; no second "connecting you" is added.
HANDOFF_UTTERANCES = frozenset({"utter_handoff", "utter_default"})
REPHRASE_UTTERANCES = frozenset({"utter_ask_rephrase"})


@dataclass(frozen=True)
class RasaReply:
    text: str
    response: str | None  # the `utter_*` that produced it, when Rasa says
    rich: Rich = field(default_factory=Rich)


def reply_from_event(event: Mapping[str, Any]) -> RasaReply | None:
    """A tracker's `bot` event → a reply: its text, with its `data.buttons` and `data.image`; None
    when it has nothing a customer can see (Rasa's `custom` payloads and `elements` are not shown)."""
    raw_text = event.get("text")
    text = raw_text.strip() if isinstance(raw_text, str) else ""
    data: Mapping[str, Any] = event["data"] if isinstance(event.get("data"), Mapping) else {}
    buttons = data.get("buttons") or data.get("quick_replies")
    rich = Rich(buttons=buttons_from(buttons if isinstance(buttons, list) else None),
                image=safe_image_url(data.get("image")))
    if not text and not rich:
        return None
    meta: Mapping[str, Any] = event["metadata"] if isinstance(event.get("metadata"), Mapping) else {}
    return RasaReply(text, meta.get("utter_action"), rich)


@dataclass(frozen=True)
class RasaOutcome:
    """What Rasa understood of one message and did about it."""

    text: str
    intent: str  # as Rasa reports it: `nlu_fallback` when its FallbackClassifier fired
    ranking: tuple[IntentScore, ...]  # real intents only, best first
    actions: tuple[str, ...] = ()
    replies: tuple[RasaReply, ...] = ()
    model_id: str | None = None
    paused: bool = False

    @property
    def best(self) -> IntentScore:
        return self.ranking[0] if self.ranking else IntentScore(self.intent, 0.0)

    def nlu(self) -> NluResult:
        """The classifier's own guess (never `nlu_fallback`), as evaluation and summaries want it."""
        return NluResult(text=self.text, intent=self.best.name, confidence=self.best.confidence,
                         ranking=self.ranking)


def outcome_from_parse(parse: Mapping[str, Any], text: str | None = None) -> RasaOutcome:
    """A `/model/parse` answer (or a tracker's `parse_data`) without any dialogue."""
    intent = parse.get("intent") or {}
    name = str(intent.get("name") or FALLBACK_INTENT)
    ranking = tuple(
        IntentScore(str(r["name"]), round(float(r.get("confidence") or 0.0), 4))
        for r in parse.get("intent_ranking") or []
        if isinstance(r, dict) and r.get("name") and r.get("name") != FALLBACK_INTENT
    )
    if not ranking and name != FALLBACK_INTENT:
        ranking = (IntentScore(name, round(float(intent.get("confidence") or 0.0), 4)),)
    return RasaOutcome(text=text if text is not None else str(parse.get("text") or ""), intent=name,
                       ranking=ranking)


def outcome_from_tracker(tracker: Mapping[str, Any], text: str) -> RasaOutcome:
    """The last user message of a tracker and everything Rasa did after it."""
    events = tracker.get("events") or []
    start = None
    for index in range(len(events) - 1, -1, -1):
        if events[index].get("event") == "user":
            start = index
            break
    if start is None:
        raise RasaError("the tracker has no user message after sending one")
    user = events[start]
    if str(user.get("text") or "").strip() != text.strip():
        raise RasaError("the tracker's latest user message is not the one just sent")
    base = outcome_from_parse(user.get("parse_data") or {}, text)
    actions: list[str] = []
    replies: list[RasaReply] = []
    for event in events[start + 1:]:
        kind = event.get("event")
        if kind == "action" and event.get("name") and event.get("name") != "action_listen":
            actions.append(str(event["name"]))
        elif kind == "bot":
            reply = reply_from_event(event)
            if reply is not None:
                replies.append(reply)
    model_id = (user.get("metadata") or {}).get("model_id")
    return RasaOutcome(text=text, intent=base.intent, ranking=base.ranking, actions=tuple(actions),
                       replies=tuple(replies), model_id=model_id, paused=bool(tracker.get("paused")))


def rasa_verdict(outcome: RasaOutcome, consecutive_fallbacks: int, thresholds: Thresholds, *,
                 nlu_only: bool = False) -> Verdict:
    """Rasa's signals → Parley's decision (see the table above). `nlu_only`: no dialogue ran
    (evaluation), so only what the NLU result decides counts."""
    best = outcome.best
    actions = set(outcome.actions)
    if best.confidence < thresholds.handoff:
        return Verdict(Decision.HANDOFF, HandoffReason.LOW_CONFIDENCE, outcome.intent)
    if outcome.intent == HANDOFF_INTENT or actions & HANDOFF_ACTIONS:
        return Verdict(Decision.HANDOFF, HandoffReason.CUSTOMER_ASKED, outcome.intent)
    if outcome.intent == OUT_OF_SCOPE_INTENT:
        return Verdict(Decision.HANDOFF, HandoffReason.OUT_OF_SCOPE, outcome.intent)
    if outcome.intent == FALLBACK_INTENT:
        if consecutive_fallbacks >= thresholds.fallback_attempts:
            return Verdict(Decision.HANDOFF, HandoffReason.REPEATED_FALLBACK, best.name)
        if CORE_FALLBACK in actions:
            return Verdict(Decision.HANDOFF, HandoffReason.LOW_CONFIDENCE, outcome.intent)
        return Verdict(Decision.ANSWER, None, FALLBACK_INTENT)
    if CORE_FALLBACK in actions:
        reason = HandoffReason.REPEATED_FALLBACK if consecutive_fallbacks else HandoffReason.LOW_CONFIDENCE
        return Verdict(Decision.HANDOFF, reason, outcome.intent)
    if not nlu_only and not outcome.replies:
        return Verdict(Decision.HANDOFF, HandoffReason.LOW_CONFIDENCE, outcome.intent)
    return Verdict(Decision.ANSWER, None, outcome.intent)


def thresholds_for(settings: Settings, fallback_threshold: float | None) -> Thresholds:
    """Parley's handoff threshold and attempts; the rephrase threshold is Rasa's FallbackClassifier's."""
    base = Thresholds.from_settings(settings)
    return Thresholds(fallback=fallback_threshold if fallback_threshold is not None else 0.0,
                      handoff=base.handoff, fallback_attempts=base.fallback_attempts)


class RasaEngine:
    """The `Engine` over a Rasa server. Thread-safe; holds no per-conversation state (Rasa does)."""

    name = ENGINE_NAME

    def __init__(self, settings: Settings, server: RasaServer) -> None:
        self.settings = settings
        self.server = server
        self.thresholds = thresholds_for(settings, None)
        self._lock = threading.Lock()
        self._models: dict[str, tuple[str | None, dict[str, tuple[str, ...]]]] = {}

    # --- answering ----------------------------------------------------------------------------------

    def turn(self, text: str, context: TurnContext) -> BotTurn:
        client = self.server.client()
        sender = context.conversation_id
        metadata = dict(context.metadata) or None
        client.send(sender, text, metadata)
        outcome = outcome_from_tracker(client.tracker(sender), text)
        if outcome.paused and not outcome.replies:
            # Parley only asks the bot while the bot owns the conversation, so a paused tracker is a
            # resume that never reached Rasa (it was down when the agent gave the conversation back).
            log.warning("Rasa tracker %s was still paused; resuming it and asking again", sender)
            client.append_events(sender, [{"event": "resume"}])
            client.send(sender, text, metadata)
            outcome = outcome_from_tracker(client.tracker(sender), text)
        verdict = rasa_verdict(outcome, context.consecutive_fallbacks, self.thresholds)
        version, responses = self._model(client, outcome.model_id)
        replies = self._reply_items(outcome, verdict, responses)
        return BotTurn(
            decision=verdict.decision,
            replies=tuple(r.text for r in replies),
            rich=tuple(r.rich for r in replies),
            intent=verdict.intent,
            confidence=outcome.best.confidence,
            ranking=outcome.ranking,
            reason=verdict.reason,
            engine=self.name,
            model_version=version,
            summary=self._summary(outcome, verdict, context) if verdict.reason else "",
        )

    def _replies(self, outcome: RasaOutcome, verdict: Verdict,
                 responses: Mapping[str, tuple[str, ...]]) -> tuple[str, ...]:
        return tuple(r.text for r in self._reply_items(outcome, verdict, responses))

    def _reply_items(self, outcome: RasaOutcome, verdict: Verdict,
                     responses: Mapping[str, tuple[str, ...]]) -> tuple[RasaReply, ...]:
        if verdict.decision is Decision.ANSWER:
            return outcome.replies
        # Handing off: keep what Rasa said, except a request to rephrase the customer will not get to act on.
        kept = [r for r in outcome.replies
                if r.response not in REPHRASE_UTTERANCES and not (outcome.intent == FALLBACK_INTENT
                                                                  and r.response is None)]
        if not any(r.response in HANDOFF_UTTERANCES for r in kept):
            handoff = responses.get("utter_handoff") or (DEFAULT_TEXTS["utter_handoff"],)
            kept.append(RasaReply(handoff[0], "utter_handoff"))
        # A person takes over: buttons that would talk to the bot again are dropped, images stay.
        return tuple(replace(r, rich=Rich(image=r.rich.image)) for r in kept)

    def _summary(self, outcome: RasaOutcome, verdict: Verdict, context: TurnContext) -> str:
        nlu = outcome.nlu()
        head = summarize(nlu, verdict, context)
        if CORE_FALLBACK in outcome.actions:
            return f"{head} Rasa's dialogue did not know how to go on ({CORE_FALLBACK})."
        if not outcome.replies and verdict.reason is HandoffReason.LOW_CONFIDENCE \
                and nlu.confidence >= self.thresholds.handoff:
            return f"{head} Rasa had no response for '{outcome.intent}' (add a rule or story for it)."
        return head

    def _model(self, client: RasaClient, model_id: str | None) -> tuple[str | None, dict[str, tuple[str, ...]]]:
        """(Parley version, responses) of the model that answered; asked once per model."""
        key = model_id or ""
        with self._lock:
            known = self._models.get(key)
        if known is not None:
            return known
        version: str | None = None
        responses: dict[str, tuple[str, ...]] = {}
        try:
            status = client.status()
            if not model_id or status.get("model_id") == model_id:
                version = version_of(status.get("model_file"))
            for name, variants in (client.domain().get("responses") or {}).items():
                responses[str(name)] = tuple(v["text"] for v in variants or []
                                             if isinstance(v, dict) and isinstance(v.get("text"), str))
        except RasaError as exc:  # the answer stands; only the labels are missing
            log.warning("could not read Rasa's status/domain: %s", exc)
            return version, responses
        with self._lock:
            self._models[key] = (version, responses)
        return version, responses

    # --- NLU only (parse, evaluate) -----------------------------------------------------------------

    def parse(self, text: str) -> RasaOutcome:
        return outcome_from_parse(self.server.client().parse(text), text)

    def parse_many(self, texts: Sequence[str]) -> list[NluResult]:
        return [self.parse(text).nlu() for text in texts]

    # --- the tracker follows who owns the conversation -----------------------------------------------

    def pause(self, conversation_id: str) -> None:
        self._append(conversation_id, "pause")

    def resume(self, conversation_id: str) -> None:
        self._append(conversation_id, "resume")

    def _append(self, conversation_id: str, event: str) -> None:
        client = self.server.client()
        state = client.tracker(conversation_id, include_events="NONE")
        if event == "pause" and not (state.get("latest_message") or {}).get("text"):
            # A tracker Rasa has not stored yet: the posted event would be stamped before the session Rasa
            # opens while storing it, and dropped from that session when the tracker is next loaded
            # (Rasa 3.6). A first, harmless event makes Rasa store the session; the pause then follows it.
            client.append_events(conversation_id, [{"event": "resume"}])
        client.append_events(conversation_id, [{"event": event}])

    def model_version(self) -> str | None:
        return self.server.model_version()
