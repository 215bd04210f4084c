"""The Rasa engine's own logic, without a Rasa server: mapping Rasa's signals to Parley's decisions,
the model store, the training snapshot and progress, and the tracker listener."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from bot.policy import Thresholds
from bot.rasa import store
from bot.rasa.config import RasaSettings
from bot.rasa.engine import RasaEngine, RasaOutcome, RasaReply, outcome_from_tracker, rasa_verdict
from bot.rasa.store import RasaModelMeta
from bot.rasa.tracker_sync import TrackerSync
from bot.rasa.trainer import _ProgressTracker, component_names, fallback_threshold, read_config, take_snapshot
from bot.training_data import load_training_data
from bot.types import Decision, HandoffReason, IntentScore
from models.db import Database
from models.settings import Settings
from tests.support.actors import Agent, Customer, make_user
from tests.support.rasa import FIXTURE

T = Thresholds(fallback=0.4, handoff=0.2, fallback_attempts=1)


def _user(text: str, intent: str, ranking: list[tuple[str, float]]) -> dict[str, Any]:
    return {"event": "user", "text": text, "metadata": {"model_id": "m1"},
            "parse_data": {"intent": {"name": intent, "confidence": ranking[0][1]}, "text": text,
                           "intent_ranking": [{"name": n, "confidence": c} for n, c in ranking]}}


def _tracker(*events: dict[str, Any], paused: bool = False) -> dict[str, Any]:
    return {"paused": paused, "events": [{"event": "action", "name": "action_listen"}, *events]}


def _outcome(intent: str, best: float, actions: tuple[str, ...] = (), replies: int = 1) -> RasaOutcome:
    return RasaOutcome(text="x", intent=intent, ranking=(IntentScore("greet" if intent == "nlu_fallback" else intent,
                                                                     best),),
                       actions=actions, replies=tuple(RasaReply("r", None) for _ in range(replies)))


def test_outcome_reads_the_turn_after_the_last_user_message() -> None:
    tracker = _tracker(
        _user("hi", "greet", [("greet", 0.99)]),
        {"event": "action", "name": "utter_greet"}, {"event": "bot", "text": "old", "metadata": {}},
        {"event": "action", "name": "action_listen"},
        _user("blah", "nlu_fallback", [("nlu_fallback", 0.4), ("greet", 0.31), ("order_status", 0.2)]),
        {"event": "action", "name": "utter_ask_rephrase"},
        {"event": "bot", "text": "Rephrase?", "metadata": {"utter_action": "utter_ask_rephrase"}},
        {"event": "action", "name": "action_listen"},
    )
    outcome = outcome_from_tracker(tracker, "blah")
    assert outcome.intent == "nlu_fallback"
    assert outcome.ranking == (IntentScore("greet", 0.31), IntentScore("order_status", 0.2))  # no nlu_fallback
    assert outcome.actions == ("utter_ask_rephrase",)
    assert outcome.replies == (RasaReply("Rephrase?", "utter_ask_rephrase"),)
    assert outcome.model_id == "m1" and outcome.nlu().intent == "greet"


@pytest.mark.parametrize(
    ("outcome", "fallbacks", "decision", "reason", "intent"),
    [
        (_outcome("greet", 0.9), 0, Decision.ANSWER, None, "greet"),
        (_outcome("human_handoff", 0.9), 0, Decision.HANDOFF, HandoffReason.CUSTOMER_ASKED, "human_handoff"),
        (_outcome("damaged", 0.9, ("utter_handoff",)), 0, Decision.HANDOFF, HandoffReason.CUSTOMER_ASKED, "damaged"),
        (_outcome("out_of_scope", 0.9), 0, Decision.HANDOFF, HandoffReason.OUT_OF_SCOPE, "out_of_scope"),
        # noise is never taken for a request for a person
        (_outcome("human_handoff", 0.1), 0, Decision.HANDOFF, HandoffReason.LOW_CONFIDENCE, "human_handoff"),
        # Rasa's FallbackClassifier: rephrase first, then hand off
        (_outcome("nlu_fallback", 0.3), 0, Decision.ANSWER, None, "nlu_fallback"),
        (_outcome("nlu_fallback", 0.3), 1, Decision.HANDOFF, HandoffReason.REPEATED_FALLBACK, "greet"),
        (_outcome("nlu_fallback", 0.1), 0, Decision.HANDOFF, HandoffReason.LOW_CONFIDENCE, "nlu_fallback"),
        # the dialogue's own fallback
        (_outcome("greet", 0.9, ("action_default_fallback",)), 0, Decision.HANDOFF, HandoffReason.LOW_CONFIDENCE,
         "greet"),
        (_outcome("greet", 0.9, ("action_default_fallback",)), 1, Decision.HANDOFF,
         HandoffReason.REPEATED_FALLBACK, "greet"),
        # Rasa said nothing: a person answers rather than nobody
        (_outcome("greet", 0.9, replies=0), 0, Decision.HANDOFF, HandoffReason.LOW_CONFIDENCE, "greet"),
    ],
)
def test_rasa_signals_map_to_parley_decisions(outcome: RasaOutcome, fallbacks: int, decision: Decision,
                                               reason: HandoffReason | None, intent: str) -> None:
    verdict = rasa_verdict(outcome, fallbacks, T)
    assert (verdict.decision, verdict.reason, verdict.intent) == (decision, reason, intent)


def test_handoff_replies_keep_rasa_words_but_never_a_rephrase(settings: Settings) -> None:
    engine = RasaEngine(settings, server=None)  # type: ignore[arg-type]
    book = {"utter_handoff": ("A person is coming.",)}
    oos = RasaOutcome("x", "out_of_scope", (IntentScore("out_of_scope", 0.9),), ("utter_out_of_scope",),
                      (RasaReply("Only shop questions.", "utter_out_of_scope"),))
    assert engine._replies(oos, rasa_verdict(oos, 0, T), book) == ("Only shop questions.", "A person is coming.")
    again = RasaOutcome("x", "nlu_fallback", (IntentScore("greet", 0.3),), ("utter_ask_rephrase",),
                        (RasaReply("Rephrase?", "utter_ask_rephrase"),))
    assert engine._replies(again, rasa_verdict(again, 1, T), book) == ("A person is coming.",)
    core = RasaOutcome("x", "greet", (IntentScore("greet", 0.9),), ("action_default_fallback",),
                       (RasaReply("Sorry, a person will help.", "utter_default"),))
    assert engine._replies(core, rasa_verdict(core, 0, T), book) == ("Sorry, a person will help.",)


# --- store ------------------------------------------------------------------------------------------


def _fake_version(settings: Settings, name: str, tmp_path: Path, kind: str = "full") -> None:
    archive = tmp_path / f"{name}.tar.gz"
    archive.write_bytes(b"model")
    meta = RasaModelMeta(version=name, data_hash="h", trained_at="t", train_seconds=1.0, n_examples=1,
                         intents=("a", "b"), kind=kind)
    store.save(settings, name, archive, meta)


def test_store_activates_rolls_back_and_prunes(settings: Settings, tmp_path: Path) -> None:
    for name in ("v1", "v2", "v3"):
        _fake_version(settings, name, tmp_path)
    assert store.activate(settings, "v1", actor="ada") is None
    assert store.activate(settings, "v2") == "v1"
    assert store.rollback_target(settings) == "v1"
    store.activate(settings, "v1", note="rollback")
    assert store.active_version(settings) == "v1" and store.rollback_target(settings) == "v2"
    assert [e["version"] for e in store.history(settings)] == ["v1", "v2", "v1"]
    assert store.prune(settings, keep=1) == []  # v3 is newest; v1 active, v2 its rollback target
    with pytest.raises(ValueError):
        store.delete(settings, "v1")
    _fake_version(settings, "v0-nlu", tmp_path, kind="nlu")
    with pytest.raises(store.NoRasaModel):
        store.activate(settings, "v0-nlu")  # an evaluation model never serves customers


# --- training -----------------------------------------------------------------------------------------


def test_snapshot_lays_data_out_for_rasa_and_hashes_like_the_original(tmp_path: Path) -> None:
    source = tmp_path / "data"
    import shutil

    shutil.copytree(FIXTURE, source)
    (source / "knowledge").mkdir()
    (source / "knowledge" / "faq.md").write_text("# not Rasa's")
    snap = take_snapshot(source, tmp_path / "snap")
    assert sorted(p.name for p in snap.data.iterdir()) == ["nlu.yml", "rules.yml", "stories.yml"]
    assert snap.domain is not None and snap.domain.name == "domain.yml"
    assert fallback_threshold(read_config(snap.config)) == 0.4
    assert load_training_data(snap.source).data_hash == load_training_data(source).data_hash


def test_progress_follows_components_and_epochs() -> None:
    seen: list[tuple[float, str]] = []
    names = component_names(read_config(FIXTURE / "config.yml"))
    assert names[:4] == ["WhitespaceTokenizer", "CountVectorsFeaturizer", "CountVectorsFeaturizer", "DIETClassifier"]
    tracker = _ProgressTracker(names, lambda share, stage: seen.append((share, stage)))
    tracker.feed("INFO rasa.engine.training.hooks  - Starting to train component 'DIETClassifier'.")
    tracker.feed("Epochs:  50%|█████     | 15/30 [00:03<00:03, t_loss=1.2]")
    tracker.feed("INFO rasa.engine.training.hooks  - Starting to train component 'RulePolicy'.")
    shares = [share for share, _ in seen]
    assert shares == sorted(shares) and 0 < shares[0] < shares[-1] < 1
    assert seen[1][1] == "Training DIETClassifier (4/7), 50% of its epochs"


def test_settings_from_environment(settings: Settings) -> None:
    rasa = RasaSettings.from_settings(settings.with_(extra={"PARLEY_RASA_URL": "http://r:5005/",
                                                            "PARLEY_RASA_TIMEOUT": "2.5"}), env={})
    assert rasa.url == "http://r:5005" and rasa.timeout_s == 2.5
    with pytest.raises(ValueError, match="PARLEY_RASA_TIMEOUT"):
        RasaSettings.from_settings(settings, env={"PARLEY_RASA_TIMEOUT": "soon"})


# --- the tracker follows the owner ------------------------------------------------------------------


class _Recorder(RasaEngine):
    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def pause(self, conversation_id: str) -> None:
        self.calls.append(("pause", conversation_id))

    def resume(self, conversation_id: str) -> None:
        self.calls.append(("resume", conversation_id))


def test_handoff_pauses_and_return_to_bot_resumes(app: Flask, db: Database) -> None:
    recorder = _Recorder()
    db.bus.subscribe(TrackerSync(db, [recorder], lambda fn, *args: fn(*args)))
    make_user(db, "ada@example.com")
    ada = Agent(app, "ada@example.com")
    customer = Customer(app)
    conv_id = customer.say("hi")["conversation_id"]
    assert recorder.calls == []
    customer.say("a person please")
    assert recorder.calls == [("pause", conv_id)]
    assert ada.post(f"/conversations/{conv_id}/return-to-bot").status_code == 200
    assert recorder.calls == [("pause", conv_id), ("resume", conv_id)]
    assert json.dumps(recorder.calls)  # public ids only: what Rasa knows the conversation by
