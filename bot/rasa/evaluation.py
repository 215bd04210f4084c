"""Measure a Rasa model the way `bot.evaluate` measures the embedded one, through Rasa's `/model/parse`.

The active model is asked through the server customers talk to (a `parley run`'s, `PARLEY_RASA_URL`,
or a temporary one); a throwaway model (trained on a split, a CSV, another data set) is trained
NLU-only and served by a temporary server on a free port that is stopped afterwards. Handoffs are
judged by `engine.rasa_verdict` — the same rules as in conversations — so the JSON is the embedded
engine's, figure for figure.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.evaluate import EvaluationReport, evaluate_results
from bot.policy import NluResult, Thresholds, Verdict
from bot.rasa import store
from bot.rasa.client import RasaClient, RasaUnavailable
from bot.rasa.config import RasaSettings
from bot.rasa.engine import outcome_from_parse, rasa_verdict, thresholds_for
from bot.rasa.server import ExternalRasa, RasaServer, SupervisedRasa, running_server, version_of
from bot.rasa.trainer import Progress, fallback_threshold, read_config, train_nlu
from bot.training_data import TrainingData, TrainingDataError
from models.settings import Settings


class _Fixed:
    """A server someone else started (a `parley run` on this instance): used, never stopped."""

    def __init__(self, client: RasaClient) -> None:
        self._client = client

    def client(self) -> RasaClient:
        return self._client

    def status(self) -> dict[str, Any]:
        return {"mode": "running", "state": "ready", "url": self._client.url}

    def model_version(self) -> str | None:
        return version_of(self._client.status().get("model_file"))

    def wait_ready(self, timeout: float) -> bool:
        return True

    def stop(self) -> None:
        self._client.close()


@contextmanager
def serving(settings: Settings, model_file: Path, rasa: RasaSettings | None = None) -> Iterator[RasaServer]:
    """A temporary local server for `model_file`, stopped on exit."""
    rasa = rasa or RasaSettings.from_settings(settings)
    with tempfile.TemporaryDirectory(prefix="parley-rasa-serve-") as workdir:
        server = SupervisedRasa(settings, rasa, model_file=model_file, workdir=Path(workdir)).start()
        try:
            if not server.wait_ready(rasa.start_timeout_s):
                raise RasaUnavailable(f"a temporary Rasa server for {model_file.name} did not start: "
                                      f"{server.last_error}")
            yield server
        finally:
            server.stop()


@contextmanager
def active_server(settings: Settings, rasa: RasaSettings | None = None) -> Iterator[RasaServer]:
    """The server answering with the active model: external, a running `parley run`'s, or a temporary one."""
    rasa = rasa or RasaSettings.from_settings(settings)
    if rasa.url:
        external = ExternalRasa(rasa)
        try:
            yield external
        finally:
            external.stop()
        return
    client = running_server(settings, rasa)
    if client is not None:
        fixed = _Fixed(client)
        try:
            yield fixed
        finally:
            fixed.stop()
        return
    rasa.require_installed()
    with serving(settings, store.active_model(settings), rasa) as server:
        yield server


@dataclass(frozen=True)
class RasaEvaluation:
    report: EvaluationReport
    model: dict[str, Any]
    parse_seconds: float


def parse_all(server: RasaServer, texts: Sequence[str], thresholds: Thresholds,
              progress: Progress | None = None, start: float = 0.0, span: float = 1.0,
              should_stop: Callable[[], bool] | None = None) -> tuple[list[NluResult], list[Verdict]]:
    client = server.client()
    results: list[NluResult] = []
    verdicts: list[Verdict] = []
    for index, text in enumerate(texts):
        if should_stop is not None and should_stop():
            raise InterruptedError("evaluation was cancelled")
        outcome = outcome_from_parse(client.parse(text), text)
        results.append(outcome.nlu())
        verdicts.append(rasa_verdict(outcome, 0, thresholds, nlu_only=True))
        if progress is not None and index % 25 == 0:
            progress(start + span * index / max(1, len(texts)), f"Asking Rasa: {index}/{len(texts)} messages")
    return results, verdicts


def evaluate_active(settings: Settings, test: TrainingData, *, handoff_threshold: float | None = None,
                    rasa: RasaSettings | None = None) -> RasaEvaluation:
    rasa = rasa or RasaSettings.from_settings(settings)
    with active_server(settings, rasa) as server:
        version = server.model_version()
        meta = _meta_or_none(settings, version)
        thresholds = _thresholds(settings, meta.fallback_threshold if meta else None, handoff_threshold)
        started = time.perf_counter()
        results, verdicts = parse_all(server, [t for t, _ in test.examples], thresholds)
        seconds = time.perf_counter() - started
    report = evaluate_results([i for _, i in test.examples], results, thresholds, verdicts)
    model = {"version": version, "throwaway": False, "trained_on": meta.source if meta else None,
             "n_train_examples": meta.n_examples if meta else None,
             "train_seconds": meta.train_seconds if meta else None}
    return RasaEvaluation(report, model, round(seconds, 2))


def evaluate_throwaway(settings: Settings, train_set: TrainingData, test: TrainingData, *, config: Path,
                       handoff_threshold: float | None = None, rasa: RasaSettings | None = None,
                       progress: Progress | None = None,
                       should_stop: Callable[[], bool] | None = None) -> RasaEvaluation:
    """Train an NLU-only model on `train_set`, serve it on a temporary server, score it on `test`."""
    rasa = rasa or RasaSettings.from_settings(settings)
    report_progress = progress or (lambda _share, _stage: None)
    thresholds = _thresholds(settings, fallback_threshold(read_config(config)), handoff_threshold)
    with tempfile.TemporaryDirectory(prefix="parley-rasa-eval-") as tmp:
        trained = train_nlu(settings, train_set, config=config, rasa=rasa, out_dir=Path(tmp),
                            progress=lambda share, stage: report_progress(share * 0.7, stage),
                            should_stop=should_stop)
        report_progress(0.72, "Starting a temporary Rasa server")
        with serving(settings, trained.path, rasa) as server:
            started = time.perf_counter()
            results, verdicts = parse_all(server, [t for t, _ in test.examples], thresholds, report_progress,
                                          0.75, 0.24, should_stop)
            seconds = time.perf_counter() - started
    report = evaluate_results([i for _, i in test.examples], results, thresholds, verdicts)
    model = {"version": trained.meta.version, "throwaway": True, "trained_on": train_set.source,
             "n_train_examples": trained.meta.n_examples, "train_seconds": trained.meta.train_seconds}
    return RasaEvaluation(report, model, round(seconds, 2))


def default_config(settings: Settings, data_path: Path | None, rasa: RasaSettings | None = None) -> Path:
    """--rasa-config, else PARLEY_RASA_CONFIG, else the data directory's config.yml, else data/'s."""
    rasa = rasa or RasaSettings.from_settings(settings)
    if rasa.config is not None:
        return rasa.config
    for base in (data_path if data_path is not None and data_path.is_dir() else None, settings.data_dir):
        if base is not None and (base / "config.yml").is_file():
            return base / "config.yml"
    raise TrainingDataError("no Rasa config.yml found: pass --rasa-config")


def _thresholds(settings: Settings, fallback: float | None, handoff: float | None) -> Thresholds:
    base = thresholds_for(settings, fallback)
    if handoff is None:
        return base
    return Thresholds(fallback=base.fallback, handoff=handoff, fallback_attempts=base.fallback_attempts)


def _meta_or_none(settings: Settings, version: str | None) -> store.RasaModelMeta | None:
    if not version:
        return None
    try:
        return store.load_meta(settings, version)
    except store.NoRasaModel:
        return None
