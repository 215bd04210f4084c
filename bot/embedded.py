"""The embedded engine: a scikit-learn intent classifier that trains in seconds from `data/`.

It needs no extra service, so `parley run` can answer from the first start. Trained models live in a
versioned store (`<instance>/models/embedded/<version>/`) with an `active` pointer: a model is written
in full under a temporary name and then renamed, and the pointer is replaced atomically, so a reader
never sees half a model and two processes starting together cannot corrupt the store.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import sklearn
from sklearn.linear_model import LogisticRegression

from bot import encoder, model_store
from bot.features import Features, OneMessage, _fit
from bot.policy import NluResult, ResponseBook, Thresholds, respond
from bot.scope import ScopeCalibrator, _calibrate, scope_signals
from bot.training_data import TrainingData, TrainingDataError, load_training_data
from bot.types import BotTurn, IntentScore, TurnContext
from models.settings import Settings

ENGINE_NAME = "embedded"


MODEL_FILE = "model.joblib"


META_FILE = "meta.json"


ACTIVE_FILE = model_store.ACTIVE_FILE


RANKING_SIZE = 10


_STAGING_MAX_AGE = 3600.0  # seconds; younger staging dirs may belong to a training still running


KEEP_VERSIONS = 5


# Chosen by measurement (bench/intents.py; figures in bench/README.md). Features: word 1-2 grams catch
# phrasing, char 2-5 grams catch typos and inflections, and a sentence embedding (all-MiniLM-L6-v2, see
# bot/encoder.py) catches meaning with other words; one logistic regression over all three beat the
# sparse features alone (BANKING77: 94.9% vs 92.6% with 10 intents held out) and averaging two
# classifiers' probabilities, at the cost of one fit. C=20 and char min_df=2 keep BANKING77 training
# within a minute.
CLASSIFIER = "tfidf(word 1-2 + char_wb 2-5) + MiniLM-L6 embedding → LogisticRegression(C=20); scope calibrator"


SPARSE_CLASSIFIER = "tfidf(word 1-2 + char_wb 2-5) → LogisticRegression(C=20); scope calibrator"


# Bump when the pickled pipeline or payload changes shape: older models then count as stale.
# 2: features + classifier kept apart, sentence embeddings, kNN vectors and the scope calibrator.
MODEL_FORMAT = 2


class NoActiveModel(Exception):
    """No model has been trained yet (or the active one is gone): run `parley bot train`."""


class InvalidTrainingData(TrainingDataError):
    """The data could be read but is not fit to train on; `problems` lists why."""

    def __init__(self, source: str, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__(f"{source}: {len(self.problems)} problem(s): " + "; ".join(self.problems))


@dataclass(frozen=True)
class ModelMeta:
    version: str
    data_hash: str
    trained_at: str
    n_examples: int
    intents: tuple[str, ...]
    sklearn_version: str
    train_seconds: float
    classifier: str = CLASSIFIER
    format: int = MODEL_FORMAT
    # The sentence encoder's fingerprint (bot.encoder.fingerprint), "" when trained without one.
    encoder: str = ""
    # How the confidence was calibrated, and the confidence thresholds at TARGET_FALSE_HANDOFF.
    calibration: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps({**asdict(self), "intents": list(self.intents)}, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> ModelMeta:
        raw: dict[str, Any] = json.loads(text)
        raw["intents"] = tuple(raw["intents"])
        raw.setdefault("format", 0)  # written before formats were numbered
        known = cls.__dataclass_fields__
        return cls(**{key: value for key, value in raw.items() if key in known})


class TrainedModel:
    """A fitted classifier plus the responses it was trained with, so they always match."""

    def __init__(self, features: Features, classifier: LogisticRegression, book: ResponseBook, meta: ModelMeta,
                 *, neighbours: np.ndarray | None = None, calibrator: ScopeCalibrator | None = None) -> None:
        self.features = features
        self.classifier = classifier
        self.book = book
        self.meta = meta
        # Unit-length embeddings of the training examples (float16 on disk), for the nearest-neighbour signal.
        self.neighbours = None if neighbours is None else np.asarray(neighbours, dtype=np.float32)
        self.calibrator = calibrator
        self.labels: list[str] = [str(label) for label in classifier.classes_]
        # A customer's turn classifies one message: this path skips the batch machinery (same figures).
        self._one = OneMessage(features, classifier) if OneMessage.supports(features, classifier) else None

    @property
    def version(self) -> str:
        return self.meta.version

    def thresholds(self, settings: Settings) -> Thresholds:
        """The policy's thresholds for this model: the settings' where set, else the model's own."""
        return Thresholds.for_model(settings, self.meta.calibration)

    def parse(self, text: str) -> NluResult:
        probabilities, confidence = self.score_one(text)
        return self._result(text, probabilities, confidence)

    def score_one(self, text: str) -> tuple[np.ndarray, float]:
        """`score` of one message: (class probabilities, calibrated confidence), one encoder call."""
        if self._one is None:
            probabilities, confidence = self.score([text])
            return probabilities[0], float(confidence[0])
        vectors = self.features.embed([text])
        row = self._one.probabilities(text, None if vectors is None else vectors[0])
        if self.calibrator is None:
            return row, float(row.max())
        return row, float(self.calibrator(scope_signals(row[None, :], vectors, self.neighbours))[0])

    def parse_many(self, texts: Sequence[str]) -> list[NluResult]:
        """Classify in one batch: evaluation runs thousands of messages."""
        if not texts:
            return []
        probabilities, confidence = self.score(texts)
        return [self._result(text, row, conf) for text, row, conf in zip(texts, probabilities, confidence, strict=True)]

    def score(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(class probabilities, calibrated confidence of the top intent) for each text."""
        vectors = self.features.embed(texts)
        probabilities = self.classifier.predict_proba(self.features.matrix(texts, vectors))
        if self.calibrator is None:
            return probabilities, probabilities.max(axis=1)
        signals = scope_signals(probabilities, vectors, self.neighbours)
        return probabilities, self.calibrator(signals)

    def _result(self, text: str, row: np.ndarray, confidence: float) -> NluResult:
        order = np.argsort(-row, kind="stable")[:RANKING_SIZE]
        # The top intent scores the calibrated confidence; the others keep the classifier's order and
        # share what is left, so the scores still add up to at most 1 and the top one stays on top.
        top, conf = float(row[order[0]]), float(confidence)
        scale = conf / max(top, 1e-12) if conf <= top else (1 - conf) / max(1 - top, 1e-12)
        scores = [conf] + [float(row[i]) * scale for i in order[1:]]
        ranking = tuple(IntentScore(self.labels[i], round(score, 4)) for i, score in zip(order, scores, strict=True))
        return NluResult(text=text, intent=ranking[0].name, confidence=ranking[0].confidence, ranking=ranking)


def use_encoder() -> bool:
    return encoder.available()


def train(data: TrainingData, *, version: str | None = None, embeddings: bool | None = None,
          calibrate: bool = True) -> TrainedModel:
    """Fit a model in memory (nothing is written): for the store, and for throwaway evaluations.
    `embeddings=False, calibrate=False` is the engine as it was before sentence embeddings (format 1):
    sparse features, confidence = top probability. The bench compares the two."""
    if len(data.intents) < 2:
        raise InvalidTrainingData(data.source, [f"Only {len(data.intents)} intent(s): need at least 2."])
    texts = [text for text, _ in data.examples]
    labels = [intent for _, intent in data.examples]
    with_embeddings = use_encoder() if embeddings is None else embeddings
    started = time.perf_counter()
    vectors = encoder.get().encode(texts) if with_embeddings else None
    features, classifier = _fit(texts, labels, vectors)
    calibrator, calibration = _calibrate(data, vectors) if calibrate else (None, {"method": "top probability"})
    seconds = time.perf_counter() - started
    meta = ModelMeta(
        version=version or new_version(data.data_hash),
        data_hash=data.data_hash,
        trained_at=datetime.now(UTC).isoformat(timespec="seconds"),
        n_examples=len(texts),
        intents=data.intents,
        sklearn_version=sklearn.__version__,
        train_seconds=round(seconds, 3),
        classifier=CLASSIFIER if with_embeddings else SPARSE_CLASSIFIER,
        encoder=encoder.fingerprint() if with_embeddings else "",
        calibration=calibration,
    )
    neighbours = None if vectors is None else vectors.astype(np.float16)
    return TrainedModel(features, classifier, ResponseBook.from_training_data(data), meta,
                        neighbours=neighbours, calibrator=calibrator)


new_version = model_store.new_version


def store_dir(settings: Settings) -> Path:
    return settings.models_dir / ENGINE_NAME


def save(model: TrainedModel, settings: Settings) -> Path:
    """Write the model as a complete version directory."""

    def fill(staging: Path) -> None:
        payload = {
            "features": model.features,
            "classifier": model.classifier,
            "neighbours": None if model.neighbours is None else model.neighbours.astype(np.float16),
            "calibrator": model.calibrator,
            "responses": dict(model.book.responses),
            "intent_responses": dict(model.book.intent_responses),
        }
        joblib.dump(payload, staging / MODEL_FILE)
        (staging / META_FILE).write_text(model.meta.to_json(), encoding="utf-8")

    return model_store.write_version(store_dir(settings), model.version, fill)


def prune(settings: Settings, keep: int = KEEP_VERSIONS) -> list[str]:
    """Delete all but the `keep` newest versions (never the active one) and abandoned staging dirs."""
    return model_store.prune(store_dir(settings), keep, {active_version(settings)}, _STAGING_MAX_AGE)


def activate(settings: Settings, version: str) -> None:
    """Point `active` at `version` atomically."""
    store = store_dir(settings)
    if not (store / version / META_FILE).is_file():
        raise NoActiveModel(f"no embedded model '{version}' in {store}")
    model_store.write_active(store, version)


def _pointer_stamp(settings: Settings) -> tuple[int, int] | None:
    """Identifies the `active` pointer's current content: it is replaced atomically, never edited."""
    try:
        st = os.stat(store_dir(settings) / ACTIVE_FILE)
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_mtime_ns)


def active_version(settings: Settings) -> str | None:
    return model_store.read_active(store_dir(settings))


def load_meta(settings: Settings, version: str) -> ModelMeta:
    path = store_dir(settings) / version / META_FILE
    try:
        return ModelMeta.from_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise NoActiveModel(f"embedded model '{version}' is missing from {store_dir(settings)}") from exc


def load_model(settings: Settings, version: str) -> TrainedModel:
    meta = load_meta(settings, version)
    payload = joblib.load(store_dir(settings) / version / MODEL_FILE)
    book = ResponseBook(responses=payload["responses"], intent_responses=payload["intent_responses"])
    if "features" not in payload:  # format 1: one pipeline (tfidf → float32 → logistic regression)
        pipeline = payload["classifier"]
        return TrainedModel(Features(pipeline[0], with_embeddings=False), pipeline[-1], book, meta)
    return TrainedModel(payload["features"], payload["classifier"], book, meta,
                        neighbours=payload.get("neighbours"), calibrator=payload.get("calibrator"))


def _as_float32(matrix: Any) -> Any:
    """Referenced by format-1 models' pickles (their pipeline's float32 step): kept so they still load."""
    return matrix.astype(np.float32)


def load_active(settings: Settings) -> TrainedModel:
    version = active_version(settings)
    if version is None:
        raise NoActiveModel(f"no active embedded model in {store_dir(settings)}: run `parley bot train`")
    return load_model(settings, version)


def train_and_activate(settings: Settings, data_dir: Path | None = None) -> str:
    """Validate, train, store and activate; returns the new version. Invalid data raises, listing why."""
    data = load_training_data(data_dir or settings.data_dir)
    problems = data.validate()
    if problems:
        raise InvalidTrainingData(data.source, problems)
    model = train(data)
    save(model, settings)
    activate(settings, model.version)
    prune(settings)
    return model.version


def is_stale(settings: Settings, data_hash: str) -> bool:
    """True when there is no usable active model for this data and this scikit-learn."""
    version = active_version(settings)
    if version is None:
        return True
    try:
        meta = load_meta(settings, version)
    except (NoActiveModel, ValueError, KeyError, TypeError):
        return True
    if not (store_dir(settings) / version / MODEL_FILE).is_file():
        return True
    wanted_encoder = encoder.fingerprint() if use_encoder() else ""
    return (meta.data_hash, meta.sklearn_version, meta.format, meta.encoder) != (
        data_hash, sklearn.__version__, MODEL_FORMAT, wanted_encoder)


def ensure_trained(settings: Settings) -> str:
    """Call at start: retrain if the active model is missing or stale; returns the active version.

    Holds a lock on the store so that when several processes start together only the first trains
    and the others find its model fresh.
    """
    with _store_lock(settings):
        data_hash = load_training_data(settings.data_dir).data_hash
        if is_stale(settings, data_hash):
            return train_and_activate(settings)
        version = active_version(settings)
        assert version is not None  # is_stale() said there is one
        return version


def _store_lock(settings: Settings) -> contextlib.AbstractContextManager[None]:
    return model_store.locked(store_dir(settings))


class EmbeddedEngine:
    """The `Engine` for the embedded classifier. Follows the `active` pointer, so a model trained by
    `parley bot train` in another process is picked up on the next message without a restart."""

    name = ENGINE_NAME
    answers_in_process = True  # milliseconds, no network (bot/types.py Engine)

    def __init__(self, settings: Settings, model: TrainedModel | None = None, *,
                 follow: Callable[..., object] | None = None) -> None:
        """`follow`: called before each message to move the `active` pointer to the version the database
        names (bot/model_sync.py), so every process answers with the same model; given the turn's
        `TurnContext.active_models` when the pipeline read them (then it asks the database nothing)."""
        self.settings = settings
        self._follow = follow
        self._model = model
        self._pinned = model is not None
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None

    @property
    def model(self) -> TrainedModel:
        return self._model_for(None)

    def _model_for(self, known: Mapping[str, str | None] | None) -> TrainedModel:
        if self._pinned and self._model is not None:
            return self._model
        if self._follow is not None:
            if known is not None:
                self._follow(known)
            else:
                self._follow()
        stamp = _pointer_stamp(self.settings)
        if self._model is not None and stamp is not None and stamp == self._stamp:
            return self._model  # one stat() per message instead of reading the pointer file
        version = active_version(self.settings)
        with self._lock:
            if self._model is None or (version is not None and version != self._model.version):
                self._model = load_active(self.settings)
            self._stamp = stamp
            return self._model

    def ready_for(self, context: TurnContext) -> bool:
        """Whether a turn on `context` answers with the model already loaded, nothing read from disk: a
        turn in a customer message's transaction holds SQLite's write lock (bot/pipeline.py `answer_in`),
        so the first turn after a start or a retraining runs after the commit instead."""
        model = self._model
        if model is None:
            return False
        if self._pinned:
            return True
        wanted = (context.active_models or {}).get(self.name)
        if wanted is not None:
            return wanted == model.version
        return _pointer_stamp(self.settings) == self._stamp

    def load_for(self, context: TurnContext | None) -> None:
        """Load the model `context` names (None: the active one) now, so that `ready_for` holds (the
        web role, bot/pipeline.py `BotPipeline.prepare`)."""
        self._model_for(context.active_models if context is not None else None)

    def parse(self, text: str) -> NluResult:
        return self.model.parse(text)

    def turn(self, text: str, context: TurnContext) -> BotTurn:
        model = self._model_for(context.active_models)
        return respond(
            model.parse(text),
            context,
            model.thresholds(self.settings),
            model.book,
            engine=self.name,
            model_version=model.version,
        )
