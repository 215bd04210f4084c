"""What one customer message costs the server, CPU and statements, without sockets or a load generator.

A loaded machine makes latencies swing by ±40% between runs (bench/README.md); the CPU time a process
spends per message and the SQL statements it sends swing far less, and they are what limits
throughput. This bench builds the real app (the embedded bot trained from data/, SQLite in a fresh
instance) with every background job run inline, drives `--visitors` webchat visitors through
Flask-SocketIO's test client (the real socket handlers), and reports per answered message: process CPU
ms (p50 over `--rounds` rounds of all visitors' messages), wall ms, and SQL statements, split into the
steps they were sent from (`--steps`). `--profile FILE` also writes a py-spy-free cProfile of the run.
The texts repeat, so the sentence encoder's cache answers them; `--new-messages` drops each text's cached
vector before it is sent, so every message costs what a customer's new wording costs (the encoder runs).

    python -m bench.per_message
    python -m bench.per_message --new-messages
    python -m bench.per_message --visitors 5 --messages 20 --json
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import statistics
import sys
import tempfile
import time
import traceback
from collections import Counter
from typing import Any

from sqlalchemy import event

TEXTS = ("where is my order", "what are your opening hours", "how long does shipping take", "hi")
# Where a statement comes from: the first of these found on its stack (innermost first).
STEPS = (
    ("console/realtime/listener.py", "_push_conversations", "push: conversation summary"),
    ("console/realtime/listener.py", "_push_counters", "push: counters"),
    ("console/realtime/listener.py", "_push_message", "push: message"),
    ("console/realtime/listener.py", "", "push: other"),
    ("bot/pipeline.py", "_store", "bot: store the turn"),
    ("bot/pipeline.py", "", "bot: claim and look"),
    ("console/sockets.py", "", "socket: store the customer's message"),
)


def _step() -> str:
    frame = sys._getframe(2)
    stack = []
    while frame is not None:
        stack.append((frame.f_code.co_filename, frame.f_code.co_name))
        frame = frame.f_back  # type: ignore[assignment]
    for path, func, name in STEPS:
        for filename, code in stack:
            if filename.endswith(path) and (not func or code == func):
                return name
    return "other"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.per_message", description=__doc__.split("\n")[0])
    parser.add_argument("--visitors", type=int, default=5)
    parser.add_argument("--messages", type=int, default=20, help="measured messages per visitor (20)")
    parser.add_argument("--steps", action="store_true", help="attribute each statement to a step (slower)")
    parser.add_argument("--profile", help="write a cProfile of the measured messages here")
    parser.add_argument("--new-messages", action="store_true",
                        help="drop each text's cached sentence vector first: the encoder runs for every message")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="parley-bench-per-message-") as instance:
        os.environ.update(PARLEY_INSTANCE=instance, DATABASE_URL="", REDIS_URL="",
                          PARLEY_RATE_LIMIT_WEBCHAT_MESSAGES="1000000/minute",
                          PARLEY_RATE_LIMIT_WEBCHAT_MESSAGES_PER_ADDRESS="1000000/minute",
                          PARLEY_RATE_LIMIT_WEBCHAT_CONVERSATIONS="1000000/hour",
                          PARLEY_RATE_LIMIT_WEBCHAT_CONVERSATIONS_PER_ADDRESS="1000000/hour")
        from console.app import build_engines, create_app
        from console.extensions import socketio
        from console.runtime.jobs import InlineJobs
        from console.runtime.serve import prepare
        from models.settings import Settings

        settings = Settings.from_env()
        prepare(settings)
        app = create_app(settings, engines=build_engines(settings), jobs=InlineJobs())
        engine = app.extensions["parley"].db.engine
        statements: Counter[str] = Counter()
        counting = {"on": False}

        def before(*_: Any) -> None:
            if counting["on"]:
                statements[_step() if args.steps else "all"] += 1

        event.listen(engine, "before_cursor_execute", before)
        clients = [socketio.test_client(app, namespace="/webchat") for _ in range(args.visitors)]

        def say(client: Any, text: str) -> None:
            ack = client.emit("message", {"text": text}, namespace="/webchat", callback=True)
            if not (isinstance(ack, dict) and ack.get("ok")):
                raise SystemExit(f"message refused: {ack}")
            client.get_received("/webchat")

        for client in clients:  # warm-up: each visitor's conversation exists, caches are warm
            say(client, "hi")
            say(client, TEXTS[0])
        from bot import encoder

        forget = encoder.get().forget if args.new_messages and encoder.available() else (lambda texts: None)
        cpu, wall = [], []
        profiler = cProfile.Profile() if args.profile else None
        counting["on"] = True
        try:
            for n in range(args.messages):
                for client in clients:
                    forget([TEXTS[n % len(TEXTS)]])
                    c0, w0 = time.process_time(), time.perf_counter()
                    if profiler:
                        profiler.enable()
                    say(client, TEXTS[n % len(TEXTS)])
                    if profiler:
                        profiler.disable()
                    cpu.append((time.process_time() - c0) * 1000)
                    wall.append((time.perf_counter() - w0) * 1000)
        except Exception:
            traceback.print_exc()
            return 1
        finally:
            counting["on"] = False
        if profiler and args.profile:
            profiler.dump_stats(args.profile)
        total = len(cpu)
        steps = {k: v / total for k, v in sorted(statements.items())}
        result: dict[str, Any] = {
            "messages": total,
            "cpu_ms_p50": statistics.median(cpu), "cpu_ms_mean": statistics.fmean(cpu),
            "wall_ms_p50": statistics.median(wall),
            "statements_per_message": sum(statements.values()) / total,
            "steps": steps,
        }
        app.extensions["parley"].db.dispose()
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"per message ({total} messages, {args.visitors} visitors, jobs inline, embedded bot, SQLite"
              f"{', each a new message for the encoder' if args.new_messages else ''}):")
        print(f"  CPU p50 {result['cpu_ms_p50']:.2f} ms (mean {result['cpu_ms_mean']:.2f}), "
              f"wall p50 {result['wall_ms_p50']:.2f} ms, {result['statements_per_message']:.1f} SQL statements")
        for step, share in steps.items():
            print(f"    {step:<40}{share:6.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
