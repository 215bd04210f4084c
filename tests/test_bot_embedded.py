"""The embedded engine: training on the shipped data, the model store, stale-model retraining."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import sklearn

from bot.embedded import (
    ACTIVE_FILE,
    META_FILE,
    MODEL_FILE,
    MODEL_FORMAT,
    EmbeddedEngine,
    InvalidTrainingData,
    NoActiveModel,
    TrainedModel,
    active_version,
    ensure_trained,
    load_active,
    store_dir,
    train,
    train_and_activate,
)
from bot.engines import build_engines, prepare_embedded
from bot.features import build_features
from bot.training_data import TrainingDataError, load_training_data
from bot.types import Decision, HandoffReason, TurnContext
from models.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "data"
TINY = ROOT / "tests" / "fixtures" / "bot" / "tiny"


def _settings(tmp_path: Path, data_dir: Path, **env: str) -> Settings:
    base = {"PARLEY_INSTANCE": str(tmp_path / "instance"), "PARLEY_DATA": str(data_dir), "PARLEY_SECRET_KEY": "t"}
    return Settings.from_env(env={**base, **env}, load_dotenv=False)


@pytest.fixture(scope="module")
def shop_model() -> TrainedModel:
    return train(load_training_data(SHIPPED))


@pytest.fixture()
def tiny_dir(tmp_path: Path) -> Path:
    target = tmp_path / "data"
    shutil.copytree(TINY, target)
    return target


def _versions(settings: Settings) -> list[str]:
    return sorted(p.name for p in store_dir(settings).iterdir() if p.is_dir())


# ------------------------------------------------------------------------------- the shipped demo bot


@pytest.mark.parametrize("text", ["hi", "hello there"])
def test_greetings_are_answered_confidently(tmp_path: Path, shop_model: TrainedModel, text: str) -> None:
    engine = EmbeddedEngine(_settings(tmp_path, SHIPPED), model=shop_model)
    turn = engine.turn(text, TurnContext(conversation_id="c1"))
    assert (turn.decision, turn.intent) == (Decision.ANSWER, "greet")
    assert turn.confidence >= 0.8
    assert turn.replies == (shop_model.book.responses["utter_greet"][0],)


def test_asking_for_a_person_hands_off(tmp_path: Path, shop_model: TrainedModel) -> None:
    engine = EmbeddedEngine(_settings(tmp_path, SHIPPED), model=shop_model)
    for text in ("I want to talk to a person", "agent please", "can I speak to a real human"):
        turn = engine.turn(text, TurnContext(conversation_id="c1"))
        assert (turn.decision, turn.reason, turn.intent) == (
            Decision.HANDOFF,
            HandoffReason.CUSTOMER_ASKED,
            "human_handoff",
        ), text
        assert turn.replies == ("I'm connecting you with a member of our team. Someone will reply here shortly.",)
        assert text in turn.summary


def test_weather_is_out_of_scope(tmp_path: Path, shop_model: TrainedModel) -> None:
    turn = EmbeddedEngine(_settings(tmp_path, SHIPPED), model=shop_model).turn(
        "what's the weather tomorrow", TurnContext(conversation_id="c1")
    )
    assert (turn.decision, turn.reason) == (Decision.HANDOFF, HandoffReason.OUT_OF_SCOPE)
    assert turn.replies[-1].startswith("I'm connecting you with a member of our team")


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("where is my order", "order_status"),
        ("how long does delivery take to Spain?", "shipping_times"),
        ("can I pay with paypal", "payment_methods"),
        ("my mug arrived broken", "damaged_item"),
        ("are you a bot?", "bot_challenge"),
    ],
)
def test_shop_questions_are_answered(tmp_path: Path, shop_model: TrainedModel, text: str, intent: str) -> None:
    turn = EmbeddedEngine(_settings(tmp_path, SHIPPED), model=shop_model).turn(text, TurnContext("c1"))
    assert (turn.decision, turn.intent, turn.reason) == (Decision.ANSWER, intent, None)
    assert turn.replies == shop_model.book.responses[f"utter_{intent}"][:1]
    assert turn.ranking[0].name == intent and len(turn.ranking) == 10
    assert turn.engine == "embedded" and turn.model_version == shop_model.version


# ----------------------------------------------------------------------------- every handoff reason


def test_low_confidence_and_repeated_fallback_are_reachable(tmp_path: Path, tiny_dir: Path) -> None:
    settings = _settings(tmp_path, tiny_dir)
    train_and_activate(settings)
    # thresholds no real prediction can meet force each branch deterministically
    unsure = EmbeddedEngine(settings.with_(bot_fallback_threshold=0.999, bot_handoff_threshold=0.0))
    first = unsure.turn("where is my order", TurnContext("c1"))
    assert (first.decision, first.intent, first.replies) == (
        Decision.ANSWER,
        "nlu_fallback",
        ("Could you say that differently?",),
    )
    assert first.ranking[0].name == "order_status"
    second = unsure.turn("where is my order", TurnContext("c1", consecutive_fallbacks=1))
    assert (second.decision, second.reason) == (Decision.HANDOFF, HandoffReason.REPEATED_FALLBACK)
    assert "asked to rephrase once" in second.summary

    lost = EmbeddedEngine(settings.with_(bot_handoff_threshold=0.999))
    turn = lost.turn("where is my order", TurnContext("c1"))
    assert (turn.decision, turn.reason) == (Decision.HANDOFF, HandoffReason.LOW_CONFIDENCE)
    assert turn.replies == ("Passing you to a person.",)


def test_gibberish_is_not_answered(tmp_path: Path, tiny_dir: Path) -> None:
    settings = _settings(tmp_path, tiny_dir)
    train_and_activate(settings)
    turn = EmbeddedEngine(settings).turn("qwxz zzkv plumbus", TurnContext("c1"))
    assert turn.intent == "nlu_fallback" or turn.decision is Decision.HANDOFF


# ---------------------------------------------------------------------------------------- the store


def test_train_and_activate_writes_a_complete_version(tmp_path: Path, tiny_dir: Path) -> None:
    settings = _settings(tmp_path, tiny_dir)
    version = train_and_activate(settings)
    folder = store_dir(settings) / version
    assert sorted(p.name for p in folder.iterdir()) == [META_FILE, MODEL_FILE]
    meta = json.loads((folder / META_FILE).read_text())
    assert meta["version"] == version
    assert meta["data_hash"] == load_training_data(tiny_dir).data_hash
    assert meta["n_examples"] == 24
    assert meta["intents"] == ["greet", "human_handoff", "order_status", "out_of_scope"]
    assert meta["sklearn_version"] == sklearn.__version__
    assert meta["trained_at"]
    assert (store_dir(settings) / ACTIVE_FILE).read_text().strip() == version
    assert not [p for p in store_dir(settings).iterdir() if p.name.startswith((".tmp-", ".active-"))]
    assert load_active(settings).parse("hello").intent == "greet"


def test_invalid_data_is_not_trained_and_the_active_model_stays(tmp_path: Path, tiny_dir: Path) -> None:
    settings = _settings(tmp_path, tiny_dir)
    version = train_and_activate(settings)
    (tiny_dir / "rules.yml").write_text("rules:\n- rule: x\n  steps:\n  - intent: greet\n  - action: utter_nope\n")
    with pytest.raises(InvalidTrainingData) as info:
        train_and_activate(settings)
    assert any("utter_nope" in p for p in info.value.problems)
    assert active_version(settings) == version


def test_no_model_yet(tmp_path: Path, tiny_dir: Path) -> None:
    settings = _settings(tmp_path, tiny_dir)
    with pytest.raises(NoActiveModel, match="parley bot train"):
        load_active(settings)
    with pytest.raises(NoActiveModel):
        EmbeddedEngine(settings).turn("hi", TurnContext("c1"))


def test_ensure_trained_retrains_only_stale_models(tmp_path: Path, tiny_dir: Path) -> None:
    settings = _settings(tmp_path, tiny_dir)
    first = ensure_trained(settings)  # nothing yet: trains
    assert active_version(settings) == first
    assert ensure_trained(settings) == first  # unchanged data: no retrain
    assert _versions(settings) == [first]

    nlu = tiny_dir / "nlu.yml"
    nlu.write_text(nlu.read_text().replace("    - hiya", "    - hiya\n    - howdy partner"))
    second = ensure_trained(settings)
    assert second != first
    assert active_version(settings) == second
    assert load_active(settings).meta.data_hash == load_training_data(tiny_dir).data_hash
    assert ensure_trained(settings) == second


def test_a_model_from_another_sklearn_or_format_or_with_missing_files_is_retrained(
    tmp_path: Path, tiny_dir: Path
) -> None:
    settings = _settings(tmp_path, tiny_dir)
    first = ensure_trained(settings)
    meta_path = store_dir(settings) / first / META_FILE
    meta_path.write_text(meta_path.read_text().replace(sklearn.__version__, "0.0.1"))
    second = ensure_trained(settings)
    assert second != first
    meta_path = store_dir(settings) / second / META_FILE
    meta = json.loads(meta_path.read_text())
    assert meta["format"] == MODEL_FORMAT
    meta_path.write_text(json.dumps({**meta, "format": MODEL_FORMAT - 1}))
    third = ensure_trained(settings)
    assert third != second
    (store_dir(settings) / third / MODEL_FILE).unlink()
    assert ensure_trained(settings) != third


def test_old_versions_are_pruned(tmp_path: Path, tiny_dir: Path) -> None:
    settings = _settings(tmp_path, tiny_dir)
    made = [train_and_activate(settings) for _ in range(7)]
    assert _versions(settings) == sorted(made)[-5:]
    assert active_version(settings) == made[-1]


def test_engine_follows_the_active_pointer(tmp_path: Path, tiny_dir: Path) -> None:
    settings = _settings(tmp_path, tiny_dir)
    first = train_and_activate(settings)
    engine = EmbeddedEngine(settings)
    assert engine.turn("hello", TurnContext("c1")).model_version == first
    second = train_and_activate(settings)
    assert engine.turn("hello", TurnContext("c1")).model_version == second


def test_two_processes_starting_together_share_one_model(tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(SHIPPED, data)  # big enough (~0.3 s to train) for the two starts to overlap
    settings = _settings(tmp_path, data)
    # Both processes import everything, then wait for each other so they call ensure_trained together.
    script = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from models.settings import Settings\n"
        "from bot.embedded import ensure_trained\n"
        "barrier = Path(sys.argv[1])\n"
        "(barrier / sys.argv[2]).touch()\n"
        "while len(list(barrier.iterdir())) < 2:\n"
        "    time.sleep(0.005)\n"
        "print(ensure_trained(Settings.from_env(load_dotenv=False)))\n"
    )
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    env = {**os.environ, "PARLEY_INSTANCE": str(settings.instance_dir), "PARLEY_DATA": str(data),
           "PARLEY_SECRET_KEY": "t", "PYTHONPATH": str(ROOT)}  # fmt: skip
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(barrier), name], env=env, cwd=ROOT, stdout=subprocess.PIPE, text=True
        )
        for name in ("a", "b")
    ]
    # a bound on a hang, not a timing: two cold starts (imports, the encoder, training) on a loaded CI machine
    outputs = [proc.communicate(timeout=240)[0].strip() for proc in procs]
    assert all(proc.returncode == 0 for proc in procs)
    assert outputs[0] == outputs[1] == active_version(settings)
    assert _versions(settings) == [outputs[0]]
    assert load_active(settings).parse("hello").intent == "greet"


# ------------------------------------------------------------------------------------------- start-up


def test_build_engines_trains_at_start_and_names_unknown_engines(tmp_path: Path, tiny_dir: Path) -> None:
    settings = _settings(tmp_path, tiny_dir)
    [engine] = build_engines(settings)
    assert engine.name == "embedded"
    assert engine.turn("hello", TurnContext("c1")).model_version == active_version(settings)
    # 'llm' without PARLEY_LLM_MODEL is dropped with a warning (bot/llm/setup.py): the intent engine answers alone
    assert [e.name for e in build_engines(settings.with_(bot_engines=("embedded", "llm")))] == ["embedded"]
    with pytest.raises(ValueError, match="unknown bot engine 'gpt'"):
        build_engines(settings.with_(bot_engines=("gpt",)))


def test_broken_data_at_start_keeps_the_last_good_model(tmp_path: Path, tiny_dir: Path) -> None:
    settings = _settings(tmp_path, tiny_dir)
    (tiny_dir / "nlu.yml").write_text("nlu: [oops")
    with pytest.raises(TrainingDataError):
        build_engines(settings)  # nothing to fall back on
    shutil.copy(TINY / "nlu.yml", tiny_dir / "nlu.yml")
    good = prepare_embedded(settings)
    (tiny_dir / "domain.yml").write_text("intents: [greet]\nresponses: {}\n")
    assert prepare_embedded(settings) == good
    assert build_engines(settings)[0].turn("hi", TurnContext("c1")).model_version == good


# ------------------------------------------------------------------- embeddings, scope and YAML 1.2


def test_the_engine_uses_the_sentence_encoder_and_calibrates_on_held_out_folds(shop_model: TrainedModel) -> None:
    from bot import encoder

    assert encoder.available()
    assert shop_model.meta.encoder == encoder.fingerprint()
    assert shop_model.features.with_embeddings and shop_model.neighbours is not None
    assert shop_model.neighbours.shape == (shop_model.meta.n_examples, encoder.DIM)
    calibration = shop_model.meta.calibration
    assert calibration["method"].startswith("scope calibrator")
    assert 0 < calibration["held_out_right"] < calibration["held_out"]
    cuts = list(calibration["thresholds_at_false_handoff"].values())
    assert cuts == sorted(cuts) and all(0 < c < 1 for c in cuts)
    # the same vector for the same text, in a batch or alone (one encoder per process, cached)
    vectors = encoder.get().encode(["where is my order", "hi", "where is my order"])
    assert np.allclose(vectors[0], vectors[2]) and np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-3)


def test_the_engine_answers_at_the_models_own_thresholds_unless_the_settings_name_them(
        tmp_path: Path, shop_model: TrainedModel) -> None:
    calibration = shop_model.meta.calibration
    assert 0 < calibration["handoff_threshold"] <= calibration["fallback_threshold"] < 1
    assert shop_model.thresholds(_settings(tmp_path, SHIPPED)).handoff == calibration["handoff_threshold"]
    strict = TrainedModel(shop_model.features, shop_model.classifier, shop_model.book,
                          dataclasses.replace(shop_model.meta, calibration={
                              **calibration, "handoff_threshold": 0.999, "fallback_threshold": 0.999}),
                          neighbours=shop_model.neighbours, calibrator=shop_model.calibrator)
    text, context = "where is my order", TurnContext(conversation_id="c1")
    turn = EmbeddedEngine(_settings(tmp_path, SHIPPED), strict).turn(text, context)
    assert (turn.decision, turn.reason) == (Decision.HANDOFF, HandoffReason.LOW_CONFIDENCE)
    named = _settings(tmp_path, SHIPPED, PARLEY_BOT_HANDOFF_THRESHOLD="0.01", PARLEY_BOT_FALLBACK_THRESHOLD="0.01")
    turn = EmbeddedEngine(named, strict).turn(text, context)
    assert turn.decision is Decision.ANSWER and turn.intent == shop_model.parse(text).intent != "nlu_fallback"


def test_out_of_scope_text_scores_lower_than_in_scope_text(shop_model: TrainedModel) -> None:
    """Messages about topics the shop bot was never taught get a lower confidence than shop questions
    worded unlike any training example, unless the bot recognises them as out_of_scope outright."""
    in_scope = ["has my parcel left your warehouse yet", "do you accept apple pay", "the vase I got is cracked",
                "when will you open tomorrow", "I'd like to send the shoes back"]
    unknown = ["what is the capital of mongolia", "how many calories are in a banana",
               "please recommend a good novel", "how do I fix my car's brakes", "qwxz zzkv plumbus"]
    known = shop_model.parse_many(in_scope)
    assert all(r.intent not in ("out_of_scope", "human_handoff") for r in known), known
    lowest_known = min(r.confidence for r in known)
    for result in shop_model.parse_many(unknown):
        assert result.intent == "out_of_scope" or result.confidence < lowest_known, result
    for result in known:
        assert 0 < result.ranking[0].confidence == result.confidence <= 1
        assert sum(score.confidence for score in result.ranking) <= 1.0001


def test_evaluation_reports_scope_figures_for_the_engine(shop_model: TrainedModel) -> None:
    from bot.evaluate import evaluate
    from bot.policy import Thresholds

    data = load_training_data(SHIPPED)
    test = data.with_examples(
        [("has my parcel left your warehouse yet", "order_status"), ("do you accept apple pay", "payment_methods"),
         ("the vase I got is cracked", "damaged_item"), ("I'd like to send the shoes back", "returns_refunds"),
         ("what is the capital of mongolia", "out_of_scope"), ("please recommend a good novel", "out_of_scope"),
         ("how many calories are in a banana", "out_of_scope")], "scope test")
    report = evaluate(shop_model, test, Thresholds(fallback=0.5, handoff=0.2, fallback_attempts=1))
    assert report.auroc is not None and report.auroc >= 0.75
    assert report.fpr95 is not None and 0 <= report.fpr95 <= 1
    assert report.ece is not None and 0 <= report.ece < 0.5
    recalls = [p.handoff_recall or 0.0 for p in report.sweep]  # never None here: the set has out-of-scope messages
    assert recalls == sorted(recalls) and recalls[-1] == 1.0  # a higher threshold never hands off less


def test_a_model_from_another_encoder_is_retrained(tmp_path: Path, tiny_dir: Path) -> None:
    settings = _settings(tmp_path, tiny_dir)
    first = ensure_trained(settings)
    meta_path = store_dir(settings) / first / META_FILE
    meta = json.loads(meta_path.read_text())
    assert meta["encoder"]
    meta_path.write_text(json.dumps({**meta, "encoder": "some-other-encoder"}))
    assert ensure_trained(settings) != first


def test_intents_named_yes_and_no_train_and_answer(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "domain.yml").write_text(
        'version: "3.1"\nintents:\n- yes\n- no\n- off\nresponses:\n  utter_yes:\n  - text: "Great, done."\n'
        '  utter_no:\n  - text: "OK, I won\'t."\n  utter_off:\n  - text: "Switched off."\n')
    (data / "nlu.yml").write_text(
        'version: "3.1"\nnlu:\n- intent: yes\n  examples: |\n    - yes please\n    - sure, go ahead\n'
        '    - absolutely\n    - sounds good\n- intent: no\n  examples: |\n    - no thanks\n    - nope\n'
        '    - not now\n    - don\'t do that\n- intent: off\n  examples: |\n    - turn it off\n'
        '    - switch off the lights\n    - shut it down\n')
    settings = _settings(tmp_path, data)
    train_and_activate(settings)
    engine = EmbeddedEngine(settings)
    assert engine.model.meta.intents == ("no", "off", "yes")
    turn = engine.turn("yes please", TurnContext("c1"))
    assert (turn.decision, turn.intent, turn.replies) == (Decision.ANSWER, "yes", ("Great, done.",))
    assert engine.turn("nope", TurnContext("c1")).intent == "no"


def test_a_format_1_model_still_loads_for_a_rollback(tmp_path: Path, tiny_dir: Path) -> None:
    """A version trained before sentence embeddings (one pickled pipeline) can still be activated."""
    import joblib
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    from bot import embedded

    settings = _settings(tmp_path, tiny_dir)
    version = train_and_activate(settings)
    data = load_training_data(tiny_dir)
    pipeline = make_pipeline(build_features(), FunctionTransformer(embedded._as_float32, accept_sparse=True),
                             LogisticRegression(C=20, max_iter=3000))
    pipeline.fit([t for t, _ in data.examples], [i for _, i in data.examples])
    path = store_dir(settings) / version / MODEL_FILE
    payload = joblib.load(path)
    joblib.dump({"classifier": pipeline, "responses": payload["responses"],
                 "intent_responses": payload["intent_responses"]}, path)
    model = load_active(settings)
    assert model.calibrator is None and not model.features.with_embeddings
    assert model.parse("where is my order").intent == "order_status"


def test_ready_only_with_the_active_model_in_memory(tmp_path: Path, tiny_dir: Path) -> None:
    """`ready_for`: a turn in a customer message's transaction never loads a model (bot/pipeline.py)."""
    settings = _settings(tmp_path, tiny_dir)
    version = train_and_activate(settings)
    engine = EmbeddedEngine(settings)
    assert engine.ready_for(TurnContext("c1")) is False  # nothing loaded yet
    engine.turn("hi", TurnContext("c1"))
    assert engine.ready_for(TurnContext("c1")) is True
    assert engine.ready_for(TurnContext("c1", active_models={"embedded": version})) is True
    assert engine.ready_for(TurnContext("c1", active_models={"embedded": "another-version"})) is False
    (store_dir(settings) / ACTIVE_FILE).unlink()  # the pointer moved (here: gone): look again first
    assert engine.ready_for(TurnContext("c1")) is False
