"""A customer's turn classifies one message: the embedded engine's one-message path gives the figures the
batch path gives, with one encoder call and none of scikit-learn's batch machinery."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion

from bot import encoder
from bot.embedded import TrainedModel, train
from bot.training_data import load_training_data

ROOT = Path(__file__).resolve().parents[1]

TEXTS = ["where is my order", "hi", "I want to talk to a human", "do you take apple pay?",
         "my parcel arrived broken, what now", "what is the capital of mongolia", "qwxz zzkv plumbus",
         "", "!!!", "Où est ma commande ?", "ORDER 12345 STATUS"]


@pytest.fixture(scope="module")
def shop_model() -> TrainedModel:
    return train(load_training_data(ROOT / "data"))


@pytest.fixture(scope="module")
def sparse_model() -> TrainedModel:
    return train(load_training_data(ROOT / "data"), embeddings=False, calibrate=False)


@pytest.mark.parametrize("kind", ["shop_model", "sparse_model"])
def test_one_message_scores_as_the_batch_does(kind: str, request: pytest.FixtureRequest) -> None:
    model: TrainedModel = request.getfixturevalue(kind)
    probabilities, confidence = model.score(TEXTS)
    for text, row, conf in zip(TEXTS, probabilities, confidence, strict=True):
        one, one_conf = model.score_one(text)
        # scikit-learn sums in float32 (the classifier was fitted on float32): a few 1e-7 apart at most
        assert np.allclose(one, row, rtol=0, atol=1e-5), text
        assert abs(one_conf - conf) < 1e-5, text
        alone, batch = model.parse(text), model.parse_many([text])[0]
        assert alone.intent == batch.intent
        assert [s.name for s in alone.ranking[:3]] == [s.name for s in batch.ranking[:3]]


def test_one_message_costs_one_encoder_call_and_no_batch_machinery(shop_model: TrainedModel,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    shared = encoder.get()
    calls: list[Any] = []
    session = shared.session

    class Counting:
        def run(self, *args: Any, **kwargs: Any) -> Any:
            calls.append(args)
            return session.run(*args, **kwargs)

        def __getattr__(self, name: str) -> Any:
            return getattr(session, name)

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the one-message path went through the batch machinery")

    monkeypatch.setattr(shared, "session", Counting())
    monkeypatch.setattr(FeatureUnion, "transform", refuse)
    monkeypatch.setattr(LogisticRegression, "predict_proba", refuse)
    monkeypatch.setattr(joblib.Parallel, "__call__", refuse)
    first = shop_model.parse("has my parcel left your warehouse, one-message test")
    assert len(calls) == 1 and first.intent
    shop_model.parse("has my parcel left your warehouse, one-message test")  # the same text: cached vector
    assert len(calls) == 1
    with pytest.raises(AssertionError, match="batch machinery"):
        shop_model.parse_many(["two", "messages"])  # the guard is live: the batch path does use them
