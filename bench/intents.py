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

    python -m bench.intents
    python -m bench.intents --engines after --messages 200 --json
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
from bot.evaluate import choose_held_out_intents, evaluate, hold_out_intents, load_labelled
from bot.policy import Thresholds
from bot.training_data import TrainingData
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, help="BANKING77 folder (train.csv, test.csv)")
    parser.add_argument("--engines", default="before,after", help="comma-separated: before, after")
    parser.add_argument("--held-out", type=int, default=10)
    parser.add_argument("--messages", type=int, default=500, help="single-message parses timed per engine")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    data = args.data or next((p for p in DEFAULT_DATA if (p / "train.csv").is_file()), None)
    if data is None or not (data / "train.csv").is_file():
        print("BANKING77 not found: pass --data DIR (with train.csv and test.csv)", file=sys.stderr)
        return 2
    kinds = [k.strip() for k in args.engines.split(",") if k.strip()]
    if "after" in kinds and not encoder.available():
        print("note: the sentence encoder is not installed: 'after' trains on sparse features", file=sys.stderr)
    train, test = load_labelled(data / "train.csv"), load_labelled(data / "test.csv")
    rows = [measure(kind, train, test, args.held_out, args.messages) for kind in kinds]
    if args.json:
        print(json.dumps({"data": str(data), "rows": rows}, indent=2))
    else:
        _print(rows, data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
