"""Intent bench: how well the embedded engine answers what it was taught and hands off what it was not.

On BANKING77 (`--data`, default ../shared/datasets/banking77 beside the repository, or /work/shared/…):

1. the full test set: intent accuracy and macro-F1;
2. K intents (`--held-out`, 10; seed 0, as `parley bot evaluate --holdout-intents`) left out of training
   and their test messages relabelled out_of_scope: in-scope accuracy, handoff recall, false handoffs,
   asked to rephrase (out-of-scope and answerable), AUROC, FPR95, ECE, and the threshold sweep;
3. training time (wall and CPU), and prediction latency per message (p50/p99 over `--messages`
   single-message parses, one at a time, as a customer's turn does it: as new messages, the encoder
   running, then again with their vectors cached).

Each engine is measured in the same run: `before` = the engine before sentence embeddings (TF-IDF +
logistic regression, confidence = top probability), `after` = the current one. Figures go to stdout
(`--json` for machine-readable). Several minutes on 2 cores.

`--outlier-exposure K` (BANKING77): K more intents (seed 1, among those not held out) are taught as
`out_of_scope` examples, as a bot's data can teach what it does not answer, against the same K intents
simply left out; both are tested on the 10 intents never seen (their K intents' test messages dropped).

`--oos-data FILE` (or PARLEY_BENCH_OOS_DATA) measures instead a dataset with its own out-of-scope split,
in the layout of CLINC150's data_full.json (`load_oos_json`): trained on `train` (plus `oos_train` as
`out_of_scope` with `--oos-train`), tested on `test` (in-scope accuracy) and `oos_test` (handoff recall).

    python -m bench.intents
    python -m bench.intents --engines after --messages 200 --json
    python -m bench.intents --engines after --outlier-exposure 10
    python -m bench.intents --oos-data data_full.json [--oos-train]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from bot import embedded, encoder
from bot.evaluate import (
    EvaluationReport,
    choose_held_out_intents,
    evaluate,
    evaluate_results,
    hold_out_intents,
    load_labelled,
)
from bot.policy import OUT_OF_SCOPE_INTENT, Thresholds, decide
from bot.training_data import HANDOFF_INTENTS, TrainingData, TrainingDataError, content_hash
from bot.types import Decision
from models.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = [ROOT.parent / "shared" / "datasets" / "banking77", Path("/work/shared/datasets/banking77")]
ENGINES = {
    "before": {"embeddings": False, "calibrate": False},
    "after": {"embeddings": None, "calibrate": True},
}
THRESHOLDS = Thresholds(fallback=0.5, handoff=0.2, fallback_attempts=1)  # the defaults (Settings)
# No thresholds set: each model is judged at its own (bot/scope.py), as the engine answers with them.
SETTINGS = Settings.from_env(env={}, load_dotenv=False)
OOS_DATA_ENV = "PARLEY_BENCH_OOS_DATA"
# CLINC150's data_full.json (oos-eval, CC BY 3.0): in-scope splits and out-of-scope splits, each a list
# of [text, intent]; the out-of-scope ones are labelled "oos".
OOS_SPLITS = ("train", "val", "test", "oos_train", "oos_val", "oos_test")


def load_oos_json(path: Path) -> dict[str, TrainingData]:
    """A dataset with its own out-of-scope examples, in CLINC150's data_full.json layout: one JSON object
    whose keys `train`, `test`, `oos_train`, `oos_test` (and optionally `val`, `oos_val`) each hold a list of
    [text, intent] pairs. Out-of-scope splits are relabelled `out_of_scope` whatever they are labelled."""
    try:
        raw = path.read_bytes()
        document = json.loads(raw)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise TrainingDataError(f"{path.name}: not a readable JSON file: {exc}") from exc
    missing = [k for k in ("train", "test", "oos_train", "oos_test") if not isinstance(document, dict)
               or k not in document]
    if missing:
        raise TrainingDataError(f"{path.name}: expected the splits {', '.join(missing)} (CLINC150's layout)")
    data = TrainingData(examples=(), data_hash=content_hash([(path.name, raw)]), source=str(path))
    splits: dict[str, TrainingData] = {}
    for split in OOS_SPLITS:
        rows = document.get(split, [])
        if not isinstance(rows, list) or not all(
                isinstance(r, list) and len(r) == 2 and all(isinstance(v, str) for v in r) for r in rows):
            raise TrainingDataError(f"{path.name}: '{split}' must be a list of [text, intent] pairs")
        examples = [(text.strip(), OUT_OF_SCOPE_INTENT if split.startswith("oos_") else intent.strip())
                    for text, intent in rows if text.strip() and intent.strip()]
        if not split.startswith("oos_") and any(i == OUT_OF_SCOPE_INTENT for _, i in examples):
            raise TrainingDataError(f"{path.name}: '{split}' has '{OUT_OF_SCOPE_INTENT}' examples; "
                                    f"they belong in 'oos_{split}'")
        splits[split] = data.with_examples(examples, split)
    return splits


def _train(kind: str, data: TrainingData) -> tuple[embedded.TrainedModel, float]:
    """(model, CPU seconds of all the process's threads: the encoder's included)."""
    started = time.process_time()
    model = embedded.train(data, **ENGINES[kind])  # type: ignore[arg-type]
    return model, time.process_time() - started


def _latency(model: embedded.TrainedModel, texts: list[str], n: int) -> dict[str, float]:
    """Single-message parses of test messages as new ones (their cached vectors dropped, so the encoder
    runs, as for a customer's new message), then the same messages again (vectors cached)."""
    sample = random.Random(0).sample(texts, min(n, len(texts)))
    model.parse("warm up")
    if model.features.with_embeddings:
        encoder.get().forget(sample)
    figures: dict[str, float] = {}
    for key in ("", "cached_"):
        timings, cpu = [], []
        for text in sample:
            started, started_cpu = time.perf_counter(), time.process_time()
            model.parse(text)
            timings.append((time.perf_counter() - started) * 1000)
            cpu.append((time.process_time() - started_cpu) * 1000)
        # Wall time is what a customer waits; CPU time (all threads) is what the parse costs, the same on
        # a busy machine, where wall time also counts the waits for a core.
        figures |= {f"{key}p50_ms": round(float(np.percentile(timings, 50)), 2),
                    f"{key}p99_ms": round(float(np.percentile(timings, 99)), 2),
                    f"{key}cpu_p50_ms": round(float(np.percentile(cpu, 50)), 2),
                    f"{key}cpu_p99_ms": round(float(np.percentile(cpu, 99)), 2)}
    return {**figures, "messages": len(sample), "load_average": round(os.getloadavg()[0], 1)}


def measure(kind: str, train: TrainingData, test: TrainingData, held_out: int, messages: int) -> dict[str, Any]:
    model, train_cpu = _train(kind, train)
    full = evaluate(model, test, model.thresholds(SETTINGS))
    latency = _latency(model, [t for t, _ in test.examples], messages)
    held = choose_held_out_intents(train, held_out, 0)
    train_k, test_k = hold_out_intents(train, test, held)
    model_k, _ = _train(kind, train_k)
    report = evaluate(model_k, test_k, model_k.thresholds(SETTINGS))
    fixed = evaluate(model_k, test_k, THRESHOLDS) if report.thresholds != THRESHOLDS else report
    return {
        "engine": kind,
        "classifier": model.meta.classifier,
        "train_seconds": model.meta.train_seconds,
        "train_cpu_seconds": round(train_cpu, 1),
        "train_seconds_held_out": model_k.meta.train_seconds,
        **latency,
        "full": {"accuracy": full.intent_accuracy, "macro_f1": full.macro_f1, "ece": full.ece},
        "held_out": {
            "intents": list(held),
            "in_scope_accuracy": report.intent_accuracy,
            "handoff_recall": report.handoff_recall,
            "out_of_scope_rephrased": report.out_of_scope_rephrase_rate,
            "false_handoffs": report.false_handoff_rate,
            "rephrased": report.rephrase_rate,
            "auroc": report.auroc,
            "fpr95": report.fpr95,
            "ece": report.ece,
            "sweep": [p.__dict__ for p in report.sweep],
            "thresholds": {"fallback": report.thresholds.fallback, "handoff": report.thresholds.handoff},
            "at_default_thresholds": {
                "handoff_recall": fixed.handoff_recall, "out_of_scope_rephrased": fixed.out_of_scope_rephrase_rate,
                "false_handoffs": fixed.false_handoff_rate, "rephrased": fixed.rephrase_rate},
        },
        "calibration": model_k.meta.calibration,
    }


def _answered_right(expected: list[str], report: EvaluationReport, results: list[Any]) -> float | None:
    """In-scope messages answered with the right intent at the report's thresholds (not handed off, not
    asked to rephrase): the in-scope accuracy of published rows that count a rejected message as wrong."""
    in_scope = [i for i, label in enumerate(expected) if label != OUT_OF_SCOPE_INTENT]
    if not in_scope:
        return None
    verdicts = [decide(r, 0, report.thresholds) for r in results]
    hits = sum(1 for i in in_scope if results[i].intent == expected[i] and verdicts[i].decision is Decision.ANSWER
               and not verdicts[i].rephrase)
    return round(hits / len(in_scope), 4)


def _scope_figures(model: embedded.TrainedModel, test: TrainingData) -> dict[str, Any]:
    """The out-of-scope figures of one model on a test set with `out_of_scope` messages, at its thresholds."""
    expected = [intent for _, intent in test.examples]
    results = model.parse_many([text for text, _ in test.examples])
    report = evaluate_results(expected, results, model.thresholds(SETTINGS))
    fixed = evaluate_results(expected, results, THRESHOLDS)
    return {
        "in_scope_accuracy": report.intent_accuracy,
        "in_scope_answered_right": _answered_right(expected, report, results),
        "handoff_recall": report.handoff_recall,
        "out_of_scope_rephrased": report.out_of_scope_rephrase_rate,
        "false_handoffs": report.false_handoff_rate,
        "rephrased": report.rephrase_rate,
        "auroc": report.auroc,
        "fpr95": report.fpr95,
        "ece": report.ece,
        "sweep": [p.__dict__ for p in report.sweep],
        "thresholds": {"fallback": report.thresholds.fallback, "handoff": report.thresholds.handoff},
        "at_default_thresholds": {
            "handoff_recall": fixed.handoff_recall, "out_of_scope_rephrased": fixed.out_of_scope_rephrase_rate,
            "false_handoffs": fixed.false_handoff_rate, "rephrased": fixed.rephrase_rate},
    }


def exposure_split(train: TrainingData, test: TrainingData, held: tuple[str, ...], k: int,
                   teach: bool) -> tuple[TrainingData, TrainingData]:
    """K intents besides `held` (seed 1): taught as `out_of_scope` (`teach`) or left out of training;
    their test messages dropped either way, so both variants are tested on the same messages."""
    rest = train.with_examples([(t, i) for t, i in train.examples if i not in held], "without held out")
    exposed = set(choose_held_out_intents(rest, k, 1))
    kept = [(t, OUT_OF_SCOPE_INTENT if i in exposed else i) for t, i in train.examples
            if teach or i not in exposed]
    tag = f"{k} intents {'taught as out_of_scope' if teach else 'left out'}"
    return (train.with_examples(kept, tag),
            test.with_examples([(t, i) for t, i in test.examples if i not in exposed], tag))


def measure_exposure(kind: str, train: TrainingData, test: TrainingData, held_out: int, k: int) -> dict[str, Any]:
    """BANKING77 with `held_out` intents unknown: K other intents left out vs taught as `out_of_scope`."""
    held = choose_held_out_intents(train, held_out, 0)
    train_k, test_k = hold_out_intents(train, test, held)
    rows: dict[str, Any] = {"engine": kind, "held_out": list(held)}
    for teach in (False, True):
        train_x, test_x = exposure_split(train_k, test_k, held, k, teach)
        model, _ = _train(kind, train_x)
        rows["taught" if teach else "left_out"] = {
            "train_seconds": model.meta.train_seconds, **_scope_figures(model, test_x)}
    return rows


def measure_oos(kind: str, splits: dict[str, TrainingData], oos_train: bool, messages: int) -> dict[str, Any]:
    """A dataset with its own out-of-scope split: trained on `train` (+ `oos_train` as out_of_scope),
    tested on `test` + `oos_test`."""
    train = splits["train"]
    if oos_train:
        train = train.with_examples(train.examples + splits["oos_train"].examples, "with oos_train")
    test = splits["test"].with_examples(splits["test"].examples + splits["oos_test"].examples, "test + oos_test")
    model, train_cpu = _train(kind, train)
    in_scope = evaluate(model, splits["test"], model.thresholds(SETTINGS))
    return {
        "engine": kind,
        "classifier": model.meta.classifier,
        "oos_train": oos_train,
        "n_train": len(train.examples),
        "n_test": len(splits["test"].examples),
        "n_oos_test": len(splits["oos_test"].examples),
        "intents": len([i for i in train.intents if i not in HANDOFF_INTENTS]),
        "train_seconds": model.meta.train_seconds,
        "train_cpu_seconds": round(train_cpu, 1),
        "macro_f1": in_scope.macro_f1,
        **_scope_figures(model, test),
        **_latency(model, [t for t, _ in test.examples], messages),
        "calibration": model.meta.calibration,
    }


def _pct(value: float | None) -> str:
    return "  n/a" if value is None else f"{value * 100:5.1f}%"


def _print(rows: list[dict[str, Any]], data: Path) -> None:
    print(f"BANKING77 ({data}); each model at its own thresholds (none set), and at {THRESHOLDS.fallback}/"
          f"{THRESHOLDS.handoff}")
    print(f"machine: {platform.machine()}, Python {platform.python_version()}")
    head = f"{'':28}" + "".join(f"{r['engine']:>12}" for r in rows)
    print(head)

    def line(label: str, values: list[str]) -> None:
        print(f"{label:28}" + "".join(f"{v:>12}" for v in values))

    line("full: accuracy", [_pct(r["full"]["accuracy"]) for r in rows])
    line("full: macro-F1", [f"{r['full']['macro_f1']:.4f}" for r in rows])
    line("held out: in-scope accuracy", [_pct(r["held_out"]["in_scope_accuracy"]) for r in rows])
    line("  handoff recall", [_pct(r["held_out"]["handoff_recall"]) for r in rows])
    line("  OOS asked to rephrase", [_pct(r["held_out"]["out_of_scope_rephrased"]) for r in rows])
    line("  false handoffs", [_pct(r["held_out"]["false_handoffs"]) for r in rows])
    line("  asked to rephrase", [_pct(r["held_out"]["rephrased"]) for r in rows])
    line("  AUROC", [f"{r['held_out']['auroc']:.4f}" for r in rows])
    line("  thresholds (fallback/handoff)", [f"{r['held_out']['thresholds']['fallback']:.2f}/"
                                            f"{r['held_out']['thresholds']['handoff']:.2f}" for r in rows])
    line("  at 0.5/0.2: handoff recall", [_pct(r["held_out"]["at_default_thresholds"]["handoff_recall"]) for r in rows])
    line("  at 0.5/0.2: OOS rephrased", [_pct(r["held_out"]["at_default_thresholds"]["out_of_scope_rephrased"])
                                         for r in rows])
    line("  at 0.5/0.2: false handoffs", [_pct(r["held_out"]["at_default_thresholds"]["false_handoffs"]) for r in rows])
    line("  FPR95", [_pct(r["held_out"]["fpr95"]) for r in rows])
    line("  ECE", [f"{r['held_out']['ece']:.4f}" for r in rows])
    line("train seconds (full)", [f"{r['train_seconds']:.1f}" for r in rows])
    line("train CPU seconds (full)", [f"{r['train_cpu_seconds']:.1f}" for r in rows])
    for key, label in (("", "new message"), ("cached_", "cached vector")):
        line(f"predict p50/p99 ms ({label})", [f"{r[key + 'p50_ms']:.1f}/{r[key + 'p99_ms']:.1f}" for r in rows])
        line(f"  CPU p50/p99 ms ({label})", [f"{r[key + 'cpu_p50_ms']:.1f}/{r[key + 'cpu_p99_ms']:.1f}"
                                             for r in rows])
    line("load average (1 min)", [f"{r['load_average']:.1f}" for r in rows])
    for r in rows:
        print(f"\n{r['engine']}: threshold sweep on the held-out set (both thresholds at t)")
        print(f"  {'t':>5} {'in-scope acc':>13} {'handoff recall':>15} {'false handoffs':>15}")
        for p in r["held_out"]["sweep"][::2]:
            print(f"  {p['threshold']:5.2f} {_pct(p['in_scope_accuracy']):>13} {_pct(p['handoff_recall']):>15} "
                  f"{_pct(p['false_handoff_rate']):>15}")


def _print_scope(label: str, rows: list[dict[str, Any]]) -> None:
    print(label)
    print(f"{'':30}" + "".join(f"{r['engine']:>12}" for r in rows))

    def line(name: str, key: str, fmt: Any = _pct) -> None:
        print(f"{name:30}" + "".join(f"{fmt(r[key]):>12}" for r in rows))

    line("in-scope accuracy (arg-max)", "in_scope_accuracy")
    line("in-scope answered right", "in_scope_answered_right")
    line("handoff recall", "handoff_recall")
    line("OOS asked to rephrase", "out_of_scope_rephrased")
    line("false handoffs", "false_handoffs")
    line("asked to rephrase", "rephrased")
    line("AUROC", "auroc", lambda v: f"{v:.4f}")
    line("FPR95", "fpr95")
    line("ECE", "ece", lambda v: f"{v:.4f}")
    line("thresholds (fallback/handoff)", "thresholds", lambda v: f"{v['fallback']:.2f}/{v['handoff']:.2f}")
    line("at 0.5/0.2: handoff recall", "at_default_thresholds", lambda v: _pct(v["handoff_recall"]))
    line("at 0.5/0.2: false handoffs", "at_default_thresholds", lambda v: _pct(v["false_handoffs"]))
    if all("train_seconds" in r for r in rows):
        line("train seconds", "train_seconds", lambda v: f"{v:.1f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, help="BANKING77 folder (train.csv, test.csv)")
    parser.add_argument("--engines", default="before,after", help="comma-separated: before, after")
    parser.add_argument("--held-out", type=int, default=10)
    parser.add_argument("--messages", type=int, default=500, help="single-message parses timed per engine")
    parser.add_argument("--outlier-exposure", type=int, metavar="K", default=0,
                        help="BANKING77: K more intents taught as out_of_scope vs left out")
    parser.add_argument("--oos-data", type=Path, default=os.environ.get(OOS_DATA_ENV) or None,
                        help=f"a dataset in CLINC150's data_full.json layout (or ${OOS_DATA_ENV})")
    parser.add_argument("--oos-train", action="store_true", help="with --oos-data: teach oos_train as out_of_scope")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    kinds = [k.strip() for k in args.engines.split(",") if k.strip()]
    if args.oos_data is not None:
        try:
            splits = load_oos_json(Path(args.oos_data))
        except TrainingDataError as exc:
            print(exc, file=sys.stderr)
            return 2
        rows = [measure_oos(kind, splits, args.oos_train, args.messages) for kind in kinds]
        if args.json:
            print(json.dumps({"data": str(args.oos_data), "rows": rows}, indent=2))
        else:
            r0 = rows[0]
            _print_scope(f"{args.oos_data}: {r0['intents']} intents, {r0['n_train']} training examples"
                         f"{' (oos_train taught as out_of_scope)' if args.oos_train else ''}; test "
                         f"{r0['n_test']} in scope + {r0['n_oos_test']} out of scope; each model at its own "
                         f"thresholds", rows)
            print(f"{'predict p50/p99 ms (new)':30}" + "".join(f"{r['p50_ms']:.1f}/{r['p99_ms']:.1f}".rjust(12)
                                                            for r in rows))
        return 0
    data = args.data or next((p for p in DEFAULT_DATA if (p / "train.csv").is_file()), None)
    if data is None or not (data / "train.csv").is_file():
        print("BANKING77 not found: pass --data DIR (with train.csv and test.csv)", file=sys.stderr)
        return 2
    if "after" in kinds and not encoder.available():
        print("note: the sentence encoder is not installed: 'after' trains on sparse features", file=sys.stderr)
    train, test = load_labelled(data / "train.csv"), load_labelled(data / "test.csv")
    if args.outlier_exposure:
        exposure = [measure_exposure(kind, train, test, args.held_out, args.outlier_exposure) for kind in kinds]
        if args.json:
            print(json.dumps({"data": str(data), "outlier_exposure": exposure}, indent=2))
        else:
            for variant, label in (("left_out", "left out"), ("taught", "taught as out_of_scope")):
                _print_scope(f"BANKING77, {args.held_out} intents unknown; {args.outlier_exposure} more intents "
                             f"{label}", [{"engine": r["engine"], **r[variant]} for r in exposure])
        return 0
    rows = [measure(kind, train, test, args.held_out, args.messages) for kind in kinds]
    if args.json:
        print(json.dumps({"data": str(data), "rows": rows}, indent=2))
    else:
        _print(rows, data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
