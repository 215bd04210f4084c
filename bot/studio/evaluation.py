"""Evaluation protocols for the studio: a held-out split or k-fold cross-validation, either engine.

Both train throwaway models on part of a data version's examples and score the rest through the same
policy customers meet (`bot.evaluate`; for Rasa, `rasa_verdict`). Cross-validation pools every fold's
predictions into one report, so each example is predicted exactly once by a model that never saw it.
Folds and splits are stratified per intent and seeded: the same data and seed give the same figures.
"""

from __future__ import annotations

import random
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bot import embedded
from bot.evaluate import evaluate_results, split_holdout
from bot.policy import NluResult, Thresholds, Verdict, decide
from bot.rasa.engine import thresholds_for
from bot.rasa.evaluation import parse_all, serving
from bot.rasa.trainer import Progress, fallback_threshold, read_config, train_nlu
from bot.training_data import Example, TrainingData
from models.settings import Settings

ENGINES = ("embedded", "rasa")


@dataclass(frozen=True)
class Protocol:
    kind: str = "holdout"  # holdout | cv
    fraction: float = 0.2
    folds: int = 5
    seed: int = 0

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Protocol:
        kind = str(raw.get("protocol") or raw.get("kind") or "holdout")
        if kind not in ("holdout", "cv"):
            raise ValueError("protocol must be 'holdout' or 'cv' (cross-validation)")
        try:
            fraction = float(raw.get("fraction", 0.2))
            folds = int(raw.get("folds", 5))
            seed = int(raw.get("seed", 0))
        except (TypeError, ValueError) as exc:
            raise ValueError("fraction, folds and seed must be numbers") from exc
        if not 0.05 <= fraction <= 0.5:
            raise ValueError("the held-out fraction must be between 0.05 and 0.5")
        if not 2 <= folds <= 10:
            raise ValueError("cross-validation needs between 2 and 10 folds")
        return cls(kind, fraction if kind == "holdout" else 0.2, folds if kind == "cv" else 5, seed)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def label(self) -> str:
        return f"held-out {self.fraction:.0%} (seed {self.seed})" if self.kind == "holdout" \
            else f"{self.folds}-fold cross-validation (seed {self.seed})"


def folds_of(data: TrainingData, k: int, seed: int) -> list[tuple[TrainingData, TrainingData]]:
    """Stratified folds: each intent's examples dealt round-robin after a seeded shuffle. An intent
    with fewer than 2 examples is only ever trained on (it cannot be both learnt and tested)."""
    assignment: list[list[Example]] = [[] for _ in range(k)]
    always_train: list[Example] = []
    for intent, texts in sorted(data.examples_by_intent().items()):
        shuffled = sorted(texts)
        random.Random(f"{seed}:{intent}").shuffle(shuffled)
        if len(shuffled) < 2:
            always_train.extend((t, intent) for t in shuffled)
            continue
        for index, text in enumerate(shuffled):
            assignment[index % k].append((text, intent))
    out = []
    for fold in range(k):
        test = assignment[fold]
        train = always_train + [ex for other in range(k) if other != fold for ex in assignment[other]]
        tag = f"fold {fold + 1}/{k} seed {seed}"
        out.append((data.with_examples(train, f"{tag} train"), data.with_examples(test, f"{tag} test")))
    return out


def run_protocol(
    settings: Settings,
    engine: str,
    data: TrainingData,
    protocol: Protocol,
    *,
    config: Path | None = None,
    progress: Progress | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> dict[str, Any]:
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}")
    report_progress = progress or (lambda _share, _stage: None)
    started = time.perf_counter()
    if protocol.kind == "holdout":
        train, test = split_holdout(data, protocol.fraction, protocol.seed)
        splits = [(train, test)]
    else:
        splits = folds_of(data, protocol.folds, protocol.seed)
    if engine == "embedded":
        thresholds = Thresholds.from_settings(settings)
    else:
        if config is None:
            raise ValueError("a Rasa evaluation needs the Rasa config.yml")
        thresholds = thresholds_for(settings, fallback_threshold(read_config(config)))
    expected: list[str] = []
    results: list[NluResult] = []
    verdicts: list[Verdict] = []
    train_seconds: list[float] = []
    for index, (train, test) in enumerate(splits):
        if should_stop is not None and should_stop():
            raise InterruptedError("cancelled")
        base, span = index / len(splits), 1 / len(splits)
        label = f"split {index + 1}/{len(splits)}: " if len(splits) > 1 else ""

        def fold_progress(share: float, stage: str, base: float = base, span: float = span,
                          label: str = label) -> None:
            report_progress(base + span * share, label + stage)

        texts = [t for t, _ in test.examples]
        expected += [i for _, i in test.examples]
        if engine == "embedded":
            fold_progress(0.1, "Training the embedded classifier")
            model = embedded.train(train)
            train_seconds.append(model.meta.train_seconds)
            fold_results = model.parse_many(texts) if texts else []
            # each fold's model judged with its own thresholds, as the engine would (the last one reported)
            thresholds = model.thresholds(settings)
            results += fold_results
            verdicts += [decide(result, 0, thresholds) for result in fold_results]
            fold_progress(1.0, "Scored")
        else:
            assert config is not None

            def training_progress(share: float, stage: str, fp: Progress = fold_progress) -> None:
                fp(share * 0.7, stage)

            with tempfile.TemporaryDirectory(prefix="parley-studio-eval-") as tmp:
                trained = train_nlu(settings, train, config=config, out_dir=Path(tmp),
                                    progress=training_progress, should_stop=should_stop)
                train_seconds.append(trained.meta.train_seconds)
                fold_progress(0.72, "Starting a temporary Rasa server")
                with serving(settings, trained.path) as server:
                    fold_results, fold_verdicts = parse_all(
                        server, texts, thresholds, fold_progress, 0.75, 0.24, should_stop)
            results += fold_results
            verdicts += fold_verdicts
    report = evaluate_results(expected, results, thresholds, verdicts)
    return {
        "engine": engine,
        "protocol": protocol.to_json(),
        "protocol_label": protocol.label,
        "data_examples": len(data.examples),  # n_examples (below) counts the examples tested
        "train_seconds": round(sum(train_seconds), 1),
        "seconds": round(time.perf_counter() - started, 1),
        **report.to_dict(),
    }
