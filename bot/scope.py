"""The out-of-scope score: how likely the top intent is right and the message is one the bot was taught.

Signals of one prediction (top probability, margin over the runner-up, similarity to the nearest
training example) mapped by a small calibrator fitted on held-out folds of the training data (`_calibrate`)."""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression

from bot.features import _fit
from bot.policy import OUT_OF_SCOPE_INTENT
from bot.training_data import HANDOFF_INTENTS, TrainingData

# The scope calibrator learns from held-out folds in which this share of the answerable intents is
# hidden from training, so their messages play the customer's unforeseen questions.
_HIDDEN_SHARE = 0.2


_CALIBRATION_ROUNDS = 2


_MIN_INTENTS_TO_HIDE = 5  # answerable intents needed before some can be hidden


_FOLD_TOL = 1e-3


_MIN_CALIBRATION = 20  # held-out predictions needed (of each kind: right, and wrong or unknown)


# Operating points recorded in the model's meta: the confidence below which this share of answerable
# held-out messages would be handed off.
TARGET_FALSE_HANDOFF = (0.02, 0.05, 0.10)


# The model's own thresholds (used where the settings name none): hand off below the confidence at which
# HANDOFF_AT of the answerable held-out messages would be handed off, ask to rephrase below the one for
# FALLBACK_AT. On BANKING77 with 10 intents unknown this hands off 63% of the unknown topics instead of
# 45% at the fixed 0.2, for 5% of answerable messages handed off instead of 2% (bench/README.md).
HANDOFF_AT = 0.05


FALLBACK_AT = 0.10


Fold = tuple[set[str], list[tuple[str, str]], list[tuple[str, str]]]


def calibration_folds(grouped: Mapping[str, Sequence[str]], answerable: Sequence[str]) -> Iterator[Fold]:
    """The calibration rounds' seeded splits: (hidden intents, (text, intent) to train on, to score).

    Each round hides a fifth of the answerable intents (half of each one's examples scored, none
    taught) and holds out half of every other intent's examples, the other half in odd rounds."""
    for round_ in range(_CALIBRATION_ROUNDS):
        rng = random.Random(f"calibration:{round_}")
        hidden = set(rng.sample(answerable, max(1, round(len(answerable) * _HIDDEN_SHARE))))
        train_part: list[tuple[str, str]] = []
        test_part: list[tuple[str, str]] = []
        for intent, texts in sorted(grouped.items()):
            shuffled = sorted(texts)
            rng.shuffle(shuffled)
            half = len(shuffled) // 2
            if intent in hidden:
                test_part += [(t, intent) for t in shuffled[:max(1, half)]]
                continue
            if round_ % 2:
                shuffled.reverse()
            keep = max(1, len(shuffled) - half)
            train_part += [(t, intent) for t in shuffled[:keep]]
            test_part += [(t, intent) for t in shuffled[keep:]]
        yield hidden, train_part, test_part


def _calibrate(data: TrainingData, vectors: np.ndarray | None) -> tuple[ScopeCalibrator | None, dict[str, Any]]:
    """Fit the scope calibrator on held-out folds of the training data (see ScopeCalibrator).

    Each round hides a seeded fifth of the answerable intents and half of every other intent's
    examples from a throwaway model, then scores what it did not see: known intents' held-out examples
    (right or wrong) and the hidden intents' examples (always wrong: the bot was never taught them).
    Too little data to hide intents, or no wrong answers at all: confidence stays the top probability.
    """
    index = {text: i for i, (text, _) in enumerate(data.examples)}
    grouped = data.examples_by_intent()
    answerable = sorted(intent for intent in grouped if intent not in HANDOFF_INTENTS)
    if len(answerable) < _MIN_INTENTS_TO_HIDE or len(data.examples) < 2 * _MIN_CALIBRATION:
        return None, {"method": "top probability", "why": "too little data to hold out intents"}
    signals: list[np.ndarray] = []
    right: list[np.ndarray] = []
    for hidden, train_part, test_part in calibration_folds(grouped, answerable):
        if len({i for _, i in train_part}) < 2 or not test_part:
            continue
        take = (lambda part: vectors[[index[t] for t, _ in part]]) if vectors is not None else (lambda part: None)
        train_texts, train_labels = [t for t, _ in train_part], [i for _, i in train_part]
        # A looser tolerance halves the folds' optimiser iterations (BANKING77: 17 instead of 39): their
        # models only show the calibrator what the classifier's mistakes look like.
        features, classifier = _fit(train_texts, train_labels, take(train_part), tol=_FOLD_TOL)
        test_texts = [t for t, _ in test_part]
        test_vectors = take(test_part)
        probabilities = classifier.predict_proba(features.matrix(test_texts, test_vectors))
        predicted = classifier.classes_[probabilities.argmax(axis=1)]
        signals.append(scope_signals(probabilities, test_vectors, take(train_part)))
        # Right: the taught intent for a known topic; `out_of_scope` (a handoff) for a hidden one.
        right.append(np.array([p == (OUT_OF_SCOPE_INTENT if i in hidden else i)
                               for p, (_, i) in zip(predicted, test_part, strict=True)]))
    if not signals:
        return None, {"method": "top probability", "why": "no held-out fold could be made"}
    x, y = np.vstack(signals), np.concatenate(right)
    if min(int(y.sum()), int((~y).sum())) < _MIN_CALIBRATION:
        return None, {"method": "top probability", "why": f"too few held-out mistakes ({int((~y).sum())})"}
    fitted = LogisticRegression(C=1.0, max_iter=1000).fit(x, y)
    calibrator = ScopeCalibrator(tuple(float(c) for c in fitted.coef_[0]), float(fitted.intercept_[0]))  # type: ignore[arg-type]
    confidence = calibrator(x)
    in_scope_right = confidence[y]
    return calibrator, {
        "method": "scope calibrator (held-out folds, hidden intents)",
        "held_out": len(y),
        "held_out_right": int(y.sum()),
        "coef": list(calibrator.coef),
        "intercept": calibrator.intercept,
        # The confidence under which each share of the right held-out answers would be handed off.
        "thresholds_at_false_handoff": {
            f"{share:.2f}": round(float(np.quantile(in_scope_right, share)), 4) for share in TARGET_FALSE_HANDOFF
        },
        # policy.Thresholds.for_model reads these two
        "handoff_threshold": round(float(np.quantile(in_scope_right, HANDOFF_AT)), 4),
        "fallback_threshold": round(float(np.quantile(in_scope_right, FALLBACK_AT)), 4),
        "targets": {"handoff": HANDOFF_AT, "fallback": FALLBACK_AT},
    }


@dataclass(frozen=True)
class ScopeCalibrator:
    """P(the top intent is right and the message is in scope) from three signals of one prediction:
    the classifier's top probability (log), its margin over the runner-up, and the cosine similarity
    of the message to its nearest training example. A logistic regression fitted on held-out folds of
    the training data with some intents hidden, so it has seen both wrong answers and unknown topics."""

    coef: tuple[float, float, float]
    intercept: float

    def __call__(self, signals: np.ndarray) -> np.ndarray:
        z = signals @ np.asarray(self.coef, dtype=np.float64) + self.intercept
        return np.asarray(1.0 / (1.0 + np.exp(-z)))


def scope_signals(probabilities: np.ndarray, vectors: np.ndarray | None, neighbours: np.ndarray | None) -> np.ndarray:
    """Per message: log top probability, top-1 minus top-2 probability, nearest training cosine (0 without
    embeddings)."""
    top2 = np.sort(probabilities, axis=1)[:, -2:] if probabilities.shape[1] > 1 else \
        np.hstack([np.zeros_like(probabilities), probabilities])
    nearest = np.zeros(len(probabilities))
    if vectors is not None and neighbours is not None and len(neighbours):
        # One message: vecdot is numpy's own loop; a BLAS product this size wakes all of BLAS's threads,
        # several times the CPU (and, on a busy machine, the wait) for the same figures.
        nearest = np.array([np.vecdot(neighbours, vectors[0]).max()]) if len(vectors) == 1 \
            else (vectors @ neighbours.T).max(axis=1)
    return np.column_stack([np.log(np.clip(top2[:, 1], 1e-9, 1.0)), top2[:, 1] - top2[:, 0], nearest])
