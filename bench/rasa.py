"""Rasa bench: what Parley adds on top of Rasa, and what each engine costs to train, on data/.

1. Training time of both engines on the same `data/`: the embedded classifier (in process) and a full
   Rasa model (`rasa train` with data/config.yml: NLU and dialogue), from an empty Rasa cache.
2. Parse latency against ONE Rasa server (supervised by Parley, serving the model just trained), in
   the same run, calls interleaved so every row sees the same machine:
   - `rasa /model/parse`: a bare HTTP client straight to Rasa (the baseline);
   - `parley parse`: `RasaEngine.parse` — the same endpoint through Parley's client and mapping;
   - `rasa webhook`: a bare client on Rasa's REST channel (NLU *and* dialogue; the turn baseline);
   - `parley turn`: `RasaEngine.turn` — what a customer message costs in Parley: the same REST channel
     call, the tracker read back, Parley's handoff mapping (conversations of 10 turns).
   Reported: p50/p99/mean (ms) and each row's ratio to its direct-to-Rasa baseline.

    python -m bench.rasa                      # trains both engines, then measures (several minutes)
    python -m bench.rasa --messages 100 --json
    python -m bench.rasa --instance DIR       # reuse DIR's active Rasa model if it matches data/

Needs Rasa's environment (`make rasa`); exits 3 without it, 2 if the Rasa server does not come up.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from bot import embedded
from bot.rasa import store
from bot.rasa.config import RasaSettings
from bot.rasa.engine import RasaEngine
from bot.rasa.server import SupervisedRasa
from bot.rasa.trainer import train as rasa_train
from bot.training_data import load_training_data
from bot.types import TurnContext
from models.settings import Settings

EXIT_OK, EXIT_SERVER, EXIT_NO_RASA = 0, 2, 3
TURNS_PER_CONVERSATION = 10
# Each row and the direct-to-Rasa call it is compared with (the baselines with themselves).
BASELINE_OF = {"rasa /model/parse": "rasa /model/parse", "parley parse": "rasa /model/parse",
               "rasa webhook": "rasa webhook", "parley turn": "rasa webhook"}


def _log(message: str) -> None:
    print(f"[bench.rasa] {message}", file=sys.stderr, flush=True)


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.rasa", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("data"), help="Rasa data directory (data/)")
    parser.add_argument("--messages", type=int, default=300, help="measured messages per row (300)")
    parser.add_argument("--warmup", type=int, default=20, help="unmeasured messages first (20)")
    parser.add_argument("--instance", type=Path, help="instance folder to train into / reuse (default: a temp one)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    if not 1 <= args.messages <= 100_000 or not 0 <= args.warmup <= 10_000:
        parser.error("--messages must be 1..100000 and --warmup 0..10000")
    return args


def _stats(samples: list[float]) -> dict[str, float | None]:
    ordered = sorted(samples)

    def quantile(q: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]

    return {"p50_ms": round(quantile(0.5) * 1000, 2), "p99_ms": round(quantile(0.99) * 1000, 2),
            "mean_ms": round(statistics.fmean(ordered) * 1000, 2), "max_ms": round(ordered[-1] * 1000, 2),
            "n": len(ordered)}


def _train_both(settings: Settings, rasa: RasaSettings) -> dict[str, Any]:
    data = load_training_data(settings.data_dir)
    started = time.perf_counter()
    model = embedded.train(data)
    embedded_s = time.perf_counter() - started
    active = store.active_version(settings)
    reused = False
    if active is not None and store.load_meta(settings, active).data_hash == data.data_hash:
        rasa_s = store.load_meta(settings, active).train_seconds
        reused = True
        _log(f"reusing Rasa model {active} (trained in {rasa_s:.0f}s)")
    else:
        _log("training a Rasa model on data/ (NLU + dialogue; this takes minutes)")
        last = [0.0]

        def progress(share: float, stage: str) -> None:
            if share - last[0] >= 0.1 or share >= 1.0:
                last[0] = share
                _log(f"  rasa train {share * 100:3.0f}% {stage}")

        result = rasa_train(settings, settings.data_dir, rasa=rasa, progress=progress, actor="bench")
        rasa_s = result.meta.train_seconds
    return {"examples": len(data.examples), "intents": len(data.intents),
            "embedded_train_s": round(embedded_s, 2), "embedded_model": model.meta.classifier,
            "rasa_train_s": round(rasa_s, 1), "rasa_reused_model": reused,
            "rasa_over_embedded": round(rasa_s / embedded_s, 1) if embedded_s else None}


def _measure(settings: Settings, server: SupervisedRasa, texts: list[str], warmup: int) -> dict[str, Any]:
    engine = RasaEngine(settings, server)
    client = server.client()
    bare = httpx.Client(base_url=client.url, timeout=30.0, trust_env=False)
    params = {"token": client.token} if client.token else {}
    rows: dict[str, list[float]] = {name: [] for name in BASELINE_OF}
    conversation = 0
    for index, text in enumerate(texts):
        if index % TURNS_PER_CONVERSATION == 0:
            conversation += 1
        measured = index >= warmup
        def direct(t: str = text) -> None:
            bare.post("/model/parse", json={"text": t}, params=params).raise_for_status()

        def parse(t: str = text) -> None:
            engine.parse(t)

        def webhook(t: str = text, c: int = conversation) -> None:
            bare.post("/webhooks/rest/webhook", json={"sender": f"bench-direct-{os.getpid()}-{c}", "message": t}
                      ).raise_for_status()

        def turn(t: str = text, c: int = conversation) -> None:
            engine.turn(t, TurnContext(conversation_id=f"bench-{os.getpid()}-{c}"))

        calls: list[tuple[str, Callable[[], None]]] = [
            ("rasa /model/parse", direct), ("parley parse", parse), ("rasa webhook", webhook), ("parley turn", turn)]
        # Rotate the order so no row always runs first (warm caches) or last.
        shift = index % len(calls)
        for name, call in calls[shift:] + calls[:shift]:
            started = time.perf_counter()
            call()
            if measured:
                rows[name].append(time.perf_counter() - started)
    bare.close()
    stats = {name: _stats(samples) for name, samples in rows.items()}
    for name, row in stats.items():
        base = stats[BASELINE_OF[name]]
        for q in ("p50", "p99"):
            mine, theirs = row[f"{q}_ms"], base[f"{q}_ms"]
            row[f"{q}_ratio"] = round(mine / theirs, 2) if mine is not None and theirs else None
    return stats


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="parley-bench-rasa-") as tmp:
        instance = args.instance or Path(tmp) / "instance"
        settings = Settings.from_env(env={"PARLEY_INSTANCE": str(instance), "PARLEY_DATA": str(args.data.resolve()),
                                          "PARLEY_SECRET_KEY": "bench"}, load_dotenv=False)
        rasa = RasaSettings.from_settings(settings)
        if not rasa.installed:
            _log(f"Rasa is not installed at {rasa.venv}: run `make rasa` first")
            return EXIT_NO_RASA
        training = _train_both(settings, rasa)
        _log(f"embedded trained in {training['embedded_train_s']}s, Rasa in {training['rasa_train_s']}s")
        started = time.perf_counter()
        server = SupervisedRasa(settings, rasa).start()
        try:
            if not server.wait_ready(rasa.start_timeout_s):
                _log(f"the Rasa server did not come up: {server.last_error}")
                for line in server.status()["log_tail"][-20:]:
                    _log("  " + line)
                return EXIT_SERVER
            ready_s = time.perf_counter() - started
            data = load_training_data(settings.data_dir)
            pool = [text for text, _ in data.examples]
            rng = random.Random(args.seed)
            texts = [rng.choice(pool) for _ in range(args.warmup + args.messages)]
            _log(f"server ready in {ready_s:.0f}s; measuring {args.messages} messages per row")
            latency = _measure(settings, server, texts, args.warmup)
        finally:
            server.stop()
    figures = {"machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "system": platform.system()},
               "training": training, "rasa_server_ready_s": round(ready_s, 1), "latency": latency}
    if args.json:
        print(json.dumps(figures, indent=2))
        return EXIT_OK
    print(f"\nTraining on {args.data} ({training['examples']} examples, {training['intents']} intents)")
    print(f"  embedded   {training['embedded_train_s']:>8.2f} s")
    print(f"  rasa       {training['rasa_train_s']:>8.1f} s   ({training['rasa_over_embedded']}x the embedded engine"
          + (", model reused" if training["rasa_reused_model"] else "") + ")")
    print(f"\nRasa server ready in {figures['rasa_server_ready_s']} s; latency over {args.messages} messages:")
    print(f"  {'':<20} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8} {'p50 x':>7} {'p99 x':>7}  vs")
    for name, row in latency.items():
        print(f"  {name:<20} {row['p50_ms']:>8.1f} {row['p99_ms']:>8.1f} {row['mean_ms']:>8.1f} "
              f"{row['p50_ratio']:>7} {row['p99_ratio']:>7}  {BASELINE_OF[name]}")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
