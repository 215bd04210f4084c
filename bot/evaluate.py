"""How good is an intent classifier, measured the way customers meet it: through the policy.

Accuracy alone hides the cost of a bot that answers what it should have handed off, or hands off what
it could have answered; so handoff figures come from `policy.decide`, not from the arg-max. Everything
here is deterministic (fixed seeds, sorted intents) so two runs on the same data print the same figures.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from scipy.stats import rankdata

from bot.policy import OUT_OF_SCOPE_INTENT, NluResult, Thresholds, Verdict, decide
from bot.training_data import (
    HANDOFF_INTENTS,
    Example,
    TrainingData,
    TrainingDataError,
    load_csv,
    load_nlu_file,
    load_training_data,
)
from bot.types import Decision

MOST_CONFUSED = 10
SWEEP_STEPS = 20  # thresholds 0, 0.05, ..., 1
ECE_BINS = 15


@dataclass(frozen=True)
class IntentMetrics:
    intent: str
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class Confusion:
    expected: str
    predicted: str
    count: int


@dataclass(frozen=True)
class SweepPoint:
    """What the policy would do with both thresholds (fallback and handoff) at `threshold`."""

    threshold: float
    in_scope_accuracy: float | None  # in-scope messages answered with the right intent (not handed off)
    handoff_recall: float | None  # out-of-scope messages handed off
    false_handoff_rate: float | None  # answerable messages handed off


@dataclass(frozen=True)
class EvaluationReport:
    n_examples: int
    n_in_scope: int
    n_out_of_scope: int
    # Over in-scope examples (label != out_of_scope), by arg-max intent. None when there are none.
    intent_accuracy: float | None
    macro_f1: float | None
    # Over examples labelled out_of_scope: the share the policy hands off (any reason).
    handoff_recall: float | None
    # ... and the share it asks to rephrase instead (not answered, not yet handed off).
    out_of_scope_rephrase_rate: float | None
    # Over answerable examples (neither out_of_scope nor human_handoff, whose right outcome IS a
    # handoff): the share handed off, and the share asked to rephrase.
    false_handoff_rate: float | None
    rephrase_rate: float | None
    handoff_reasons: dict[str, int]
    per_intent: tuple[IntentMetrics, ...]
    most_confused: tuple[Confusion, ...]
    thresholds: Thresholds
    # Out-of-scope detection by confidence (1 - confidence for messages classified out_of_scope): the
    # chance an in-scope message scores above an out-of-scope one (AUROC), and the share of out-of-scope
    # messages still scoring at least what 95% of in-scope ones score (FPR95). None without both kinds.
    auroc: float | None = None
    fpr95: float | None = None
    # Expected calibration error: how far confidence is from the share of right outcomes, on average
    # over ECE_BINS confidence bins (right: the expected intent, or `out_of_scope` for out-of-scope).
    ece: float | None = None
    sweep: tuple[SweepPoint, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        raw = asdict(self)
        raw["per_intent"] = {m.intent: {k: v for k, v in asdict(m).items() if k != "intent"} for m in self.per_intent}
        return raw


class Classifier(Protocol):
    """Anything that classifies a batch of messages (the embedded model; later a Rasa client)."""

    def parse_many(self, texts: Sequence[str]) -> list[NluResult]: ...


def evaluate(classifier: Classifier, data: TrainingData, thresholds: Thresholds) -> EvaluationReport:
    texts = [text for text, _ in data.examples]
    return evaluate_results([intent for _, intent in data.examples], classifier.parse_many(texts), thresholds)


def evaluate_results(expected: Sequence[str], results: Sequence[NluResult], thresholds: Thresholds,
                     verdicts: Sequence[Verdict] | None = None) -> EvaluationReport:
    """Score predictions already made; every message is judged as a first attempt (no prior fallbacks).
    An engine with its own handoff rules (Rasa's fallbacks) passes its `verdicts`; else `decide` judges."""
    if len(expected) != len(results) or (verdicts is not None and len(verdicts) != len(results)):
        raise ValueError(f"{len(expected)} labels but {len(results)} predictions")
    if verdicts is None:
        verdicts = [decide(result, 0, thresholds) for result in results]
    predicted = [result.intent for result in results]
    in_scope = [i for i, label in enumerate(expected) if label != OUT_OF_SCOPE_INTENT]
    oos = [i for i, label in enumerate(expected) if label == OUT_OF_SCOPE_INTENT]
    answerable = [i for i, label in enumerate(expected) if label not in HANDOFF_INTENTS]
    handed_off = [v.decision is Decision.HANDOFF for v in verdicts]
    rephrased = [v.rephrase for v in verdicts]
    per_intent = _per_intent(expected, predicted, sorted({expected[i] for i in in_scope}))
    return EvaluationReport(
        n_examples=len(expected),
        n_in_scope=len(in_scope),
        n_out_of_scope=len(oos),
        intent_accuracy=_share(in_scope, lambda i: predicted[i] == expected[i]),
        macro_f1=round(sum(m.f1 for m in per_intent) / len(per_intent), 4) if per_intent else None,
        handoff_recall=_share(oos, lambda i: handed_off[i]),
        out_of_scope_rephrase_rate=_share(oos, lambda i: rephrased[i]),
        false_handoff_rate=_share(answerable, lambda i: handed_off[i]),
        rephrase_rate=_share(answerable, lambda i: rephrased[i]),
        handoff_reasons=dict(sorted(Counter(str(v.reason) for v in verdicts if v.reason).items())),
        per_intent=tuple(per_intent),
        most_confused=_most_confused(expected, predicted),
        thresholds=thresholds,
        **scope_metrics(expected, results, thresholds),
    )


def scope_metrics(expected: Sequence[str], results: Sequence[NluResult], thresholds: Thresholds) -> dict[str, Any]:
    """AUROC, FPR95, ECE and the threshold sweep (see EvaluationReport)."""
    confidence = np.array([r.confidence for r in results], dtype=np.float64)
    oos = np.array([label == OUT_OF_SCOPE_INTENT for label in expected], dtype=bool)
    right = np.array([r.intent == label for r, label in zip(results, expected, strict=True)], dtype=bool)
    # How in scope each message looks: its confidence, or for a message classified `out_of_scope` (data
    # with examples of that intent) the chance that it is not.
    scope = np.array([1 - r.confidence if r.intent == OUT_OF_SCOPE_INTENT else r.confidence for r in results])
    auroc = fpr95 = None
    if oos.any() and (~oos).any():
        auroc = round(_auroc(scope[~oos], scope[oos]), 4)
        keep = np.quantile(scope[~oos], 0.05, method="lower")  # 95% of in-scope messages score at least this
        fpr95 = round(float((scope[oos] >= keep).mean()), 4)
    ece = None
    if len(results):
        bins = np.minimum((confidence * ECE_BINS).astype(int), ECE_BINS - 1)
        gap = sum(abs(confidence[bins == b].mean() - right[bins == b].mean()) * (bins == b).sum()
                  for b in range(ECE_BINS) if (bins == b).any())
        ece = round(float(gap) / len(results), 4)
    sweep = []
    in_scope = [i for i, label in enumerate(expected) if label != OUT_OF_SCOPE_INTENT]
    oos_at = [i for i, label in enumerate(expected) if label == OUT_OF_SCOPE_INTENT]
    answerable = [i for i, label in enumerate(expected) if label not in HANDOFF_INTENTS]
    for step in range(SWEEP_STEPS + 1):
        t = round(step / SWEEP_STEPS, 4)
        at = Thresholds(fallback=t, handoff=t, fallback_attempts=thresholds.fallback_attempts)
        off = [decide(r, 0, at).decision is Decision.HANDOFF for r in results]
        sweep.append(SweepPoint(
            threshold=t,
            in_scope_accuracy=_share(in_scope, lambda i, off=off: bool(right[i]) and (
                not off[i] or expected[i] in HANDOFF_INTENTS)),
            handoff_recall=_share(oos_at, lambda i, off=off: off[i]),
            false_handoff_rate=_share(answerable, lambda i, off=off: off[i]),
        ))
    return {"auroc": auroc, "fpr95": fpr95, "ece": ece, "sweep": tuple(sweep)}


def _auroc(positive: np.ndarray, negative: np.ndarray) -> float:
    """P(a random positive scores above a random negative), ties counting half (Mann-Whitney U)."""
    ranks = rankdata(np.concatenate([positive, negative]))  # ties share their average rank
    u = ranks[: len(positive)].sum() - len(positive) * (len(positive) + 1) / 2
    return float(u / (len(positive) * len(negative)))


def _share(indices: Sequence[int], hit: Any) -> float | None:
    if not indices:
        return None
    return round(sum(1 for i in indices if hit(i)) / len(indices), 4)


def _per_intent(expected: Sequence[str], predicted: Sequence[str], intents: Iterable[str]) -> list[IntentMetrics]:
    """Precision counts every message predicted as the intent, out-of-scope ones included: answering an
    out-of-scope question with intent X is a wrong answer of X."""
    pairs = Counter(zip(expected, predicted, strict=True))
    gold = Counter(expected)
    guessed = Counter(predicted)
    rows = []
    for intent in intents:
        hits = pairs[(intent, intent)]
        precision = hits / guessed[intent] if guessed[intent] else 0.0
        recall = hits / gold[intent] if gold[intent] else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        rows.append(IntentMetrics(intent, round(precision, 4), round(recall, 4), round(f1, 4), gold[intent]))
    return rows


def _most_confused(expected: Sequence[str], predicted: Sequence[str]) -> tuple[Confusion, ...]:
    errors = Counter((e, p) for e, p in zip(expected, predicted, strict=True) if e != p)
    ranked = sorted(errors.items(), key=lambda item: (-item[1], item[0]))
    return tuple(Confusion(e, p, n) for (e, p), n in ranked[:MOST_CONFUSED])


# ------------------------------------------------------------------------------------- data and splits


def load_labelled(path: Path) -> TrainingData:
    """Labelled examples from a Rasa directory, a Rasa NLU file, or a `text,category` CSV."""
    if path.is_dir():
        return load_training_data(path)
    suffix = path.suffix.lower()
    if suffix in (".yml", ".yaml"):
        return load_nlu_file(path)
    if suffix == ".csv":
        return load_csv(path)
    raise TrainingDataError(f"{path}: expected a Rasa directory, a .yml NLU file or a .csv file")


def split_holdout(data: TrainingData, fraction: float, seed: int = 0) -> tuple[TrainingData, TrainingData]:
    """A stratified train/test split: each intent gives `fraction` of its examples (at least one) to the
    test set and keeps at least one for training, so every intent is both learnt and tested."""
    if not 0 < fraction < 1:
        raise ValueError(f"holdout fraction must be between 0 and 1, got {fraction}")
    train: list[Example] = []
    test: list[Example] = []
    for intent, texts in sorted(data.examples_by_intent().items()):
        shuffled = sorted(texts)
        random.Random(f"{seed}:{intent}").shuffle(shuffled)
        n_test = min(len(shuffled) - 1, max(1, round(len(shuffled) * fraction)))
        test.extend((text, intent) for text in shuffled[:n_test])
        train.extend((text, intent) for text in shuffled[n_test:])
    tag = f"holdout {fraction} seed {seed}"
    return data.with_examples(train, f"{tag} train"), data.with_examples(test, f"{tag} test")


def choose_held_out_intents(data: TrainingData, k: int, seed: int = 0) -> tuple[str, ...]:
    """`k` intents picked reproducibly (never `out_of_scope` itself)."""
    candidates = sorted(intent for intent in data.intents if intent != OUT_OF_SCOPE_INTENT)
    if not 0 < k < len(candidates) - 1:
        raise ValueError(f"can hold out between 1 and {len(candidates) - 2} intents, not {k}")
    return tuple(sorted(random.Random(seed).sample(candidates, k)))


def hold_out_intents(
    train: TrainingData, test: TrainingData, intents: Sequence[str]
) -> tuple[TrainingData, TrainingData]:
    """Remove `intents` from training and relabel their test messages `out_of_scope`.

    The model has never seen these topics, exactly like a real customer's unforeseen question, so
    the share of them the policy hands off is an honest handoff recall on a dataset (BANKING77) that
    has no out-of-scope examples of its own.
    """
    hidden = set(intents)
    kept = [(text, intent) for text, intent in train.examples if intent not in hidden]
    relabelled = [(text, OUT_OF_SCOPE_INTENT if intent in hidden else intent) for text, intent in test.examples]
    tag = f"{len(hidden)} intents held out"  # the names are in the hash via the examples
    return train.with_examples(kept, tag), test.with_examples(relabelled, tag)
