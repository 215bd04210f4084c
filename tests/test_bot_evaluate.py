"""Evaluation metrics (checked by hand), splits and held-out intents."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from bot.evaluate import (
    Confusion,
    IntentMetrics,
    choose_held_out_intents,
    evaluate_results,
    hold_out_intents,
    load_labelled,
    split_holdout,
)
from bot.policy import NluResult, Thresholds
from bot.training_data import TrainingData, TrainingDataError

ROOT = Path(__file__).resolve().parents[1]
THRESHOLDS = Thresholds(fallback=0.5, handoff=0.2, fallback_attempts=1)


def _r(intent: str, confidence: float) -> NluResult:
    return NluResult(text="t", intent=intent, confidence=confidence)


def test_metrics_on_a_hand_computed_example() -> None:
    expected = ["a", "a", "b", "b", "out_of_scope", "out_of_scope", "human_handoff"]
    results = [
        _r("a", 0.9),  # answered, right
        _r("b", 0.6),  # answered, wrong
        _r("b", 0.3),  # right intent but unsure: asked to rephrase
        _r("a", 0.1),  # low confidence: handed off
        _r("out_of_scope", 0.8),  # handed off: out_of_scope
        _r("a", 0.7),  # out-of-scope question answered as `a`
        _r("human_handoff", 0.9),  # handed off: customer_asked
    ]
    report = evaluate_results(expected, results, THRESHOLDS)
    assert (report.n_examples, report.n_in_scope, report.n_out_of_scope) == (7, 5, 2)
    assert report.intent_accuracy == 0.6  # a, b(0.3), human_handoff of the 5 in scope
    assert report.handoff_recall == 0.5
    assert report.out_of_scope_rephrase_rate == 0.0
    assert report.false_handoff_rate == 0.25  # 1 of the 4 answerable (a, a, b, b)
    assert report.rephrase_rate == 0.25
    assert report.handoff_reasons == {"customer_asked": 1, "low_confidence": 1, "out_of_scope": 1}
    assert report.per_intent == (
        IntentMetrics("a", precision=0.3333, recall=0.5, f1=0.4, support=2),
        IntentMetrics("b", precision=0.5, recall=0.5, f1=0.5, support=2),
        IntentMetrics("human_handoff", precision=1.0, recall=1.0, f1=1.0, support=1),
    )
    assert report.macro_f1 == 0.6333
    assert report.most_confused == (
        Confusion("a", "b", 1),
        Confusion("b", "a", 1),
        Confusion("out_of_scope", "a", 1),
    )
    as_dict = report.to_dict()
    assert as_dict["per_intent"]["a"] == {"precision": 0.3333, "recall": 0.5, "f1": 0.4, "support": 2}


def test_rates_are_none_without_examples_of_that_kind() -> None:
    report = evaluate_results(["a", "b"], [_r("a", 0.9), _r("a", 0.9)], THRESHOLDS)
    assert report.handoff_recall is None and report.out_of_scope_rephrase_rate is None
    assert report.intent_accuracy == 0.5
    with pytest.raises(ValueError, match="2 labels but 1 predictions"):
        evaluate_results(["a", "b"], [_r("a", 0.9)], THRESHOLDS)


def _data(counts: dict[str, int]) -> TrainingData:
    examples = tuple((f"{intent} {i}", intent) for intent, n in counts.items() for i in range(n))
    return TrainingData(examples=examples, data_hash="h", source="mem")


def test_holdout_is_stratified_deterministic_and_disjoint() -> None:
    data = _data({"a": 10, "b": 5, "c": 2})
    train, test = split_holdout(data, 0.2, seed=0)
    assert Counter(i for _, i in test.examples) == {"a": 2, "b": 1, "c": 1}
    assert Counter(i for _, i in train.examples) == {"a": 8, "b": 4, "c": 1}
    assert not set(train.examples) & set(test.examples)
    assert split_holdout(data, 0.2, seed=0) == (train, test)
    assert split_holdout(data, 0.2, seed=1)[1].examples != test.examples
    assert train.data_hash != test.data_hash != data.data_hash
    with pytest.raises(ValueError):
        split_holdout(data, 1.0)


def test_holding_out_intents_relabels_their_test_messages() -> None:
    train, test = _data({"a": 3, "b": 3, "c": 3, "d": 3}), _data({"a": 1, "b": 1, "c": 1, "d": 1})
    held = choose_held_out_intents(train, 2, seed=0)
    assert held == choose_held_out_intents(train, 2, seed=0) and len(held) == 2
    new_train, new_test = hold_out_intents(train, test, held)
    assert set(new_train.intents) == {"a", "b", "c", "d"} - set(held)
    assert sorted(i for _, i in new_test.examples).count("out_of_scope") == 2
    assert [t for t, _ in new_test.examples] == [t for t, _ in test.examples]
    with pytest.raises(ValueError, match="between 1 and 2"):
        choose_held_out_intents(train, 3)


def test_load_labelled_by_kind(tmp_path: Path) -> None:
    assert load_labelled(ROOT / "data").validate() == []
    assert load_labelled(ROOT / "data" / "nlu.yml").examples == load_labelled(ROOT / "data").examples
    csv_path = tmp_path / "t.csv"
    csv_path.write_text("text,category\nhi,greet\n", encoding="utf-8")
    assert load_labelled(csv_path).examples == (("hi", "greet"),)
    with pytest.raises(TrainingDataError, match="expected a Rasa directory"):
        load_labelled(tmp_path / "x.txt")
    with pytest.raises(TrainingDataError, match="not a Rasa NLU file"):
        load_labelled(ROOT / "data" / "domain.yml")


def test_out_of_scope_detection_calibration_and_sweep_by_hand() -> None:
    expected = ["a", "a", "b", "out_of_scope", "out_of_scope"]
    results = [_r("a", 0.9), _r("b", 0.6), _r("b", 0.8), _r("a", 0.7), _r("out_of_scope", 0.8)]
    report = evaluate_results(expected, results, THRESHOLDS)
    # in scope 0.9, 0.6, 0.8; out of scope 0.7 and 1 - 0.8 (classified out_of_scope): 5 of 6 pairs ordered
    assert report.auroc == 0.8333
    assert report.fpr95 == 0.5  # answering 95% of in-scope (>= 0.6) still answers the 0.7 one
    # bins: 0.9 (right), 0.6 (wrong), 0.8 (two, both right: out_of_scope is right), 0.7 (wrong)
    assert report.ece == 0.36  # (0.1 + 0.6 + 2 * 0.2 + 0.7) / 5
    sweep = {p.threshold: (p.in_scope_accuracy, p.handoff_recall, p.false_handoff_rate) for p in report.sweep}
    assert len(sweep) == 21 and min(sweep) == 0.0 and max(sweep) == 1.0
    assert sweep[0.0] == (0.6667, 0.5, 0.0)  # only the message classified out_of_scope is handed off
    assert sweep[0.5] == (0.6667, 0.5, 0.0)
    assert sweep[0.75] == (0.6667, 1.0, 0.3333)
    assert sweep[1.0] == (0.0, 1.0, 1.0)
    as_dict = report.to_dict()
    assert {"auroc", "fpr95", "ece", "sweep"} <= set(as_dict)
    assert as_dict["sweep"][10] == {"threshold": 0.5, "in_scope_accuracy": 0.6667, "handoff_recall": 0.5,
                                    "false_handoff_rate": 0.0}


def test_scope_figures_are_none_without_out_of_scope_messages() -> None:
    report = evaluate_results(["a", "b"], [_r("a", 0.9), _r("a", 0.4)], THRESHOLDS)
    assert (report.auroc, report.fpr95) == (None, None)
    assert report.ece == 0.25  # (|0.9-1| + |0.4-0|) / 2
    assert all(p.handoff_recall is None for p in report.sweep)


def test_the_admins_evaluation_judges_each_fold_at_its_models_own_thresholds(tmp_path: Path) -> None:
    from bot.studio.evaluation import Protocol, run_protocol
    from bot.training_data import load_training_data
    from models.settings import Settings

    settings = Settings.from_env(env={"PARLEY_INSTANCE": str(tmp_path), "PARLEY_SECRET_KEY": "t"}, load_dotenv=False)
    data = load_training_data(ROOT / "data")
    report = run_protocol(settings, "embedded", data, Protocol("cv", folds=2))
    thresholds = report["thresholds"]
    assert (thresholds["handoff"], thresholds["fallback"]) != (0.2, 0.5)  # the model's, not the defaults
    assert 0 < thresholds["handoff"] <= thresholds["fallback"] < 1
    assert report["n_out_of_scope"] > 0 and report["handoff_recall"] > 0.5
    named = run_protocol(settings.with_(bot_handoff_threshold=0.0, bot_fallback_threshold=0.0), "embedded", data,
                         Protocol("cv", folds=2))
    assert (named["thresholds"]["handoff"], named["thresholds"]["fallback"]) == (0.0, 0.0)
    # nothing handed off or rephrased for low confidence: only messages classified as a handoff intent
    assert named["rephrase_rate"] == 0 and not any("low_confidence" in r for r in named["handoff_reasons"])
    assert any("low_confidence" in r for r in report["handoff_reasons"])
