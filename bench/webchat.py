"""Webchat bench: visitor message → bot reply latency and throughput, Parley against a bare baseline.

N visitors connect to `/webchat` over a real Socket.IO websocket, wait for `session`, and after a
warm-up send M messages one at a time, each timed from `emit("message")` to the bot's reply. The
same client code then drives a bare python-socketio echo server (`bench/echo_server.py`, Werkzeug's
`run_simple(threaded=True)` in threading mode with simple-websocket: the baseline kept since the
first figures). Parley is measured as `parley run` (SQLite, one process) and as the production stack
(`parley web` under gunicorn + `parley worker`, PostgreSQL + Redis). The Parley/baseline ratios are
the figures to compare between runs and machines; absolute numbers depend on the machine, and the
clients share it with the server.

    python -m bench.webchat                      # start Parley and the baseline, measure both
    python -m bench.webchat --url http://127.0.0.1:8000   # a Parley already running
    python -m bench.webchat --baseline-only --json

Exit status: 0 fine; 1 more than 1% of the measured messages of a target failed; 2 a server did not
come up.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import asdict
from typing import Any

from bench.load import LoadPlan, Summary, run_load
from bench.servers import (
    STACK_THREADS,
    ServerError,
    baseline_server,
    parley_program,
    parley_server,
    production_stack,
    stack_urls,
    threads_for,
    wait_healthy,
)

# Texts the shop bot answers itself; none of them asks for a human, so every one gets a bot reply.
TEXTS = (
    "where is my order",
    "what are your opening hours",
    "how long does shipping take",
    "hi",
)
MAX_FAILURE_RATE = 0.01
EXIT_OK, EXIT_FAILURES, EXIT_SERVER = 0, 1, 2


def _bounded_int(low: int, high: int) -> Callable[[str], int]:
    def parse(value: str) -> int:
        number = int(value)
        if not low <= number <= high:
            raise argparse.ArgumentTypeError(f"must be between {low} and {high}")
        return number

    return parse


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.webchat",
        description="Webchat message→bot-reply latency and throughput, Parley against a bare baseline.")
    parser.add_argument("--visitors", type=_bounded_int(1, 500), default=20, help="concurrent visitors (20)")
    parser.add_argument("--messages", type=_bounded_int(1, 10_000), default=10,
                        help="measured messages per visitor (10)")
    parser.add_argument("--warmup", type=_bounded_int(0, 100), default=2,
                        help="unmeasured messages per visitor first (2)")
    parser.add_argument("--timeout", type=float, default=10.0, help="reply timeout per message, s (10)")
    parser.add_argument("--start-timeout", type=float, default=120.0,
                        help="how long to wait for a started Parley's /healthz, s (120)")
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--url", help="bench this running Parley (http://host:port) instead of starting one")
    target.add_argument("--baseline-only", action="store_true", help="measure the baseline alone")
    target.add_argument("--parley-cmd", help="program to run as `<cmd> run --host H --port P` "
                                            "instead of the venv's `parley`")
    parser.add_argument("--stack", choices=("run", "prod", "both"), default="both",
                        help="what to start: `parley run` (SQLite, one process), the production stack "
                             "(`parley web` under gunicorn + `parley worker`, PostgreSQL from DATABASE_URL "
                             "and REDIS_URL; skipped with a note when they are not set), or both (default)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON instead of a table")
    args = parser.parse_args(argv)
    if not 0 < args.timeout <= 120 or not 0 < args.start_timeout <= 600:
        parser.error("--timeout must be in (0, 120] and --start-timeout in (0, 600]")
    return args


def _log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def _measure(name: str, server: AbstractContextManager[str], plan: LoadPlan) -> Summary:
    with server as url:
        _log(f"{name}: {plan.visitors} visitors x {plan.messages} messages against {url}")
        return run_load(url, plan)


@contextmanager
def _external(url: str) -> Iterator[str]:
    """A server someone else runs: only check that it is up."""
    wait_healthy(url, 10.0)
    yield url


def _ratio(parley: float | None, baseline: float | None) -> float | None:
    return parley / baseline if parley is not None and baseline else None


def _ratios(parley: Summary, baseline: Summary) -> dict[str, float | None]:
    return {
        "p50": _ratio(parley.p50_ms, baseline.p50_ms),
        "p99": _ratio(parley.p99_ms, baseline.p99_ms),
        "throughput": _ratio(parley.throughput, baseline.throughput),
    }


def _fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _table(plan: LoadPlan, results: dict[str, Summary]) -> str:
    lines = [
        f"webchat: {plan.visitors} visitors x {plan.messages} messages (+{plan.warmup} warm-up each), "
        f"reply timeout {plan.reply_timeout_s:g} s, {os.cpu_count()} CPUs",
        f"{'target':<12}{'ok':>7}{'failed':>8}{'p50 ms':>10}{'p99 ms':>10}{'max ms':>10}{'msg/s':>10}"
        f"{'window s':>10}{'connect p50 ms':>16}",
    ]
    for name, s in results.items():
        lines.append(f"{name:<12}{s.ok:>7}{s.failed:>8}{_fmt(s.p50_ms):>10}{_fmt(s.p99_ms):>10}"
                     f"{_fmt(s.max_ms):>10}{_fmt(s.throughput):>10}{_fmt(s.window_s, 2):>10}"
                     f"{_fmt(s.connect_p50_ms):>16}")
    for name in results:
        if name == "baseline" or "baseline" not in results:
            continue
        r = _ratios(results[name], results["baseline"])
        lines.append(f"{name[:6] + '/base':<12}{'':>15}{_fmt(r['p50'], 2) + 'x':>10}{_fmt(r['p99'], 2) + 'x':>10}"
                     f"{'':>10}{_fmt(r['throughput'], 2) + 'x':>10}")
    for name, s in results.items():
        if s.errors or s.warmup_errors:
            lines.append(f"{name} errors: {s.errors or '{}'}; warm-up errors: {s.warmup_errors or '{}'}")
    return "\n".join(lines)


def _json(plan: LoadPlan, results: dict[str, Summary], server_error: str | None) -> str:
    document: dict[str, Any] = {
        "bench": "webchat",
        "config": {"visitors": plan.visitors, "messages": plan.messages, "warmup": plan.warmup,
                   "reply_timeout_s": plan.reply_timeout_s, "texts": list(plan.texts)},
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform()},
        "results": {name: {**asdict(s), "failure_rate": s.failure_rate} for name, s in results.items()},
    }
    if "baseline" in results:
        document["ratio"] = {name: _ratios(s, results["baseline"]) for name, s in results.items()
                             if name != "baseline"}
    if server_error:
        document["server_error"] = server_error
    return json.dumps(document, indent=2)


def _targets(args: argparse.Namespace) -> dict[str, AbstractContextManager[str]]:
    targets: dict[str, AbstractContextManager[str]] = {"baseline": baseline_server()}
    if args.url:
        targets["parley"] = _external(args.url.rstrip("/"))
    elif not args.baseline_only:
        program = parley_program(args.parley_cmd)
        if args.stack in ("run", "both"):
            # Each visitor's open websocket holds a server thread: room for all of them.
            targets["parley"] = parley_server(program, args.start_timeout, threads=threads_for(args.visitors))
        if args.stack in ("prod", "both"):
            urls = stack_urls()
            if urls is None:
                _log("production stack skipped: set DATABASE_URL=postgresql://… and REDIS_URL")
            else:
                targets["prod"] = production_stack(program, args.start_timeout, *urls,
                                                   web_threads=threads_for(args.visitors, STACK_THREADS))
    return targets


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    plan = LoadPlan(visitors=args.visitors, messages=args.messages, warmup=args.warmup,
                    reply_timeout_s=args.timeout, texts=TEXTS)
    results: dict[str, Summary] = {}
    server_error: str | None = None
    try:
        for name, server in _targets(args).items():
            results[name] = _measure(name, server, plan)
    except ServerError as exc:
        server_error = str(exc)
        _log(server_error)
    print(_json(plan, results, server_error) if args.json else _table(plan, results))
    if server_error:
        return EXIT_SERVER
    failing = [name for name, s in results.items() if s.failure_rate > MAX_FAILURE_RATE]
    if failing:
        _log(f"more than {MAX_FAILURE_RATE:.0%} of messages failed: {', '.join(failing)}")
        return EXIT_FAILURES
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
