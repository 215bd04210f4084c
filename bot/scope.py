"""The out-of-scope score: how likely the top intent is right and the message is one the bot was taught.

Signals of one prediction (top probability, margin over the runner-up, similarity to the nearest
training example) mapped by a small calibrator fitted on held-out folds (`bot.embedded._calibrate`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


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
        nearest = (vectors @ neighbours.T).max(axis=1)
    return np.column_stack([np.log(np.clip(top2[:, 1], 1e-9, 1.0)), top2[:, 1] - top2[:, 0], nearest])
