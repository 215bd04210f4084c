"""Idle sockets bench: what 1,000 idle customer webchat sockets cost one web process, and what they do to
an active visitor's answer.

One web process (`parley run`, and/or the production stack's `parley web`) is started with a thread for
every socket the bench opens (each open websocket holds one of gunicorn's threads; see bench/README.md).
One visitor sends `--warmup` then `--messages` messages, each timed to the bot's reply, alone; then
`--idle` more visitors connect to `/webchat`, get their session and stay silent (the widget open on a
page, the commonest customer socket), and the same visitor measurement runs again among them. The
server's worker process is read from /proc before and after the idle sockets connected: RSS (memory
per socket = the difference / sockets), threads, open files against its limit.

    python -m bench.idle                         # 1,000 idle sockets on `parley run`
    python -m bench.idle --stack both --json     # and on the production stack (PostgreSQL + Redis)

Exit status: 0 fine; 1 idle sockets failed to connect or were dropped, or more than 1% of the active
visitor's messages failed; 2 a server did not come up.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass
from typing import Any

from bench.load import LoadPlan, Summary, close_all, run_load
from bench.servers import (
    ProcessUsage,
    ServerError,
    parley_program,
    parley_server,
    production_stack,
    raise_open_files_limit,
    serving_pid,
    sockets_threads,
    stack_urls,
    usage,
)
from bench.visitor import Visitor, VisitorError
from bench.webchat import TEXTS

SETTLE_S = 3.0  # after the last idle socket connected, before the server is read
FILES_PER_SOCKET = 2  # the bench's end and the server's end, both children of this shell's limit
EXIT_OK, EXIT_FAILURES, EXIT_SERVER = 0, 1, 2


@dataclass(frozen=True)
class Result:
    stack: str
    threads: int
    idle_requested: int
    idle_connected: int
    idle_open_at_end: int
    connect_s: float
    alone: Summary
    among_idle: Summary
    before: ProcessUsage
    after: ProcessUsage

    @property
    def kb_per_socket(self) -> float | None:
        return (self.after.rss_kb - self.before.rss_kb) / self.idle_connected if self.idle_connected else None

    def ratios(self) -> dict[str, float | None]:
        def ratio(a: float | None, b: float | None) -> float | None:
            return a / b if a is not None and b else None

        return {"p50": ratio(self.among_idle.p50_ms, self.alone.p50_ms),
                "p99": ratio(self.among_idle.p99_ms, self.alone.p99_ms)}


def _log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def _connect_idle(url: str, count: int, workers: int, timeout_s: float) -> tuple[list[Visitor], float]:
    """`count` visitors connected and given their session, `workers` at a time; the ones that made it."""
    connected: list[Visitor] = []
    lock = threading.Lock()

    def one(_: int) -> None:
        visitor = Visitor(url, timeout_s)
        try:
            visitor.connect(timeout_s)
        except VisitorError:
            visitor.close()
            return
        with lock:
            connected.append(visitor)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="idle-connect") as pool:
        list(pool.map(one, range(count)))
    return connected, time.perf_counter() - started


def measure(stack: str, server: AbstractContextManager[str], threads: int, plan: LoadPlan, idle: int,
            workers: int) -> Result:
    with server as url:
        pid = serving_pid(url)
        _log(f"{stack}: one visitor alone, {plan.messages} messages (server worker pid {pid})")
        alone = run_load(url, plan)
        before = usage(pid)
        _log(f"{stack}: connecting {idle} idle visitors, {workers} at a time")
        visitors, connect_s = _connect_idle(url, idle, workers, plan.reply_timeout_s)
        time.sleep(SETTLE_S)
        after = usage(pid)
        _log(f"{stack}: {len(visitors)} idle connected in {connect_s:.1f} s; the visitor again among them")
        among = run_load(url, plan)
        still_open = sum(1 for v in visitors if v.connected)
        close_all(visitors)
    return Result(stack, threads, idle, len(visitors), still_open, connect_s, alone, among, before, after)


def _fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _table(r: Result) -> str:
    rows = [("alone", r.alone), (f"among {r.idle_connected} idle", r.among_idle)]
    ratios = r.ratios()
    lines = [f"idle sockets ({r.stack}, --threads {r.threads}, {os.cpu_count()} CPUs): one visitor, "
             f"{r.alone.messages} messages → bot reply",
             f"{'':<20}{'ok':>6}{'p50 ms':>10}{'p99 ms':>10}{'max ms':>10}{'connect p50 ms':>16}"]
    lines += [f"{name:<20}{s.ok:>6}{_fmt(s.p50_ms):>10}{_fmt(s.p99_ms):>10}{_fmt(s.max_ms):>10}"
              f"{_fmt(s.connect_p50_ms):>16}" for name, s in rows]
    lines.append(f"{'among idle / alone':<20}{'':>6}{_fmt(ratios['p50'], 2) + 'x':>10}"
                 f"{_fmt(ratios['p99'], 2) + 'x':>10}")
    b, a = r.before, r.after
    lines += [f"server worker (pid {a.pid}): RSS {b.rss_kb / 1024:,.1f} → {a.rss_kb / 1024:,.1f} MB = "
              f"{_fmt(r.kb_per_socket)} KB per idle socket; threads {b.threads} → {a.threads}; "
              f"open files {b.open_files} → {a.open_files} (limit {a.max_open_files})",
              f"idle sockets: {r.idle_connected}/{r.idle_requested} connected in {r.connect_s:.1f} s, "
              f"{r.idle_open_at_end} still open at the end"]
    for name, s in rows:
        if s.errors or s.warmup_errors:
            lines.append(f"{name} errors: {s.errors or '{}'}; warm-up errors: {s.warmup_errors or '{}'}")
    return "\n".join(lines)


def _document(r: Result) -> dict[str, Any]:
    return {**asdict(r), "kb_per_socket": r.kb_per_socket, "ratio_among_idle_to_alone": r.ratios()}


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.idle", description=__doc__.split("\n\n")[0])
    parser.add_argument("--idle", type=int, default=1000, help="idle customer sockets (1000)")
    parser.add_argument("--messages", type=int, default=50, help="the active visitor's measured messages (50)")
    parser.add_argument("--warmup", type=int, default=3, help="its unmeasured messages first (3)")
    parser.add_argument("--timeout", type=float, default=10.0, help="reply and connect timeout, s (10)")
    parser.add_argument("--connect-workers", type=int, default=16, help="idle sockets connecting at once (16)")
    parser.add_argument("--start-timeout", type=float, default=180.0)
    parser.add_argument("--stack", choices=("run", "prod", "both"), default="run",
                        help="`parley run` (default), the production stack (`parley web` + `parley worker` on "
                             "PostgreSQL from PARLEY_BENCH_DATABASE_URL or DATABASE_URL, and REDIS_URL), or both")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if not (1 <= args.idle <= 5000 and 1 <= args.messages <= 10_000 and 0 <= args.warmup <= 100
            and 0 < args.timeout <= 120 and 1 <= args.connect_workers <= 128):
        parser.error("--idle 1..5000, --messages 1..10000, --warmup 0..100, --timeout (0, 120], "
                     "--connect-workers 1..128")
    return args


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    plan = LoadPlan(visitors=1, messages=args.messages, warmup=args.warmup, reply_timeout_s=args.timeout,
                    texts=TEXTS)
    threads = sockets_threads(args.idle + 1)
    program = parley_program(None)
    stacks: dict[str, AbstractContextManager[str]] = {}
    if args.stack in ("run", "both"):
        stacks["run"] = parley_server(program, args.start_timeout, threads=threads)
    if args.stack in ("prod", "both"):
        urls = stack_urls()
        if urls is None:
            _log("production stack skipped: set PARLEY_BENCH_DATABASE_URL=postgresql://… and REDIS_URL")
        else:
            stacks["prod"] = production_stack(program, args.start_timeout, *urls, web_threads=threads)
    results: list[Result] = []
    try:
        limit = raise_open_files_limit(FILES_PER_SOCKET * (args.idle + 1) + 1024)
        _log(f"open files limit for this bench and its servers: {limit}")
        for name, server in stacks.items():
            results.append(measure(name, server, threads, plan, args.idle, args.connect_workers))
    except ServerError as exc:
        _log(str(exc))
        return EXIT_SERVER
    print(json.dumps([_document(r) for r in results], indent=2) if args.json
          else "\n\n".join(_table(r) for r in results))
    broken = [r.stack for r in results if r.idle_open_at_end < r.idle_requested
              or max(r.alone.failure_rate, r.among_idle.failure_rate) > 0.01]
    if broken:
        _log(f"idle sockets lost or messages failed: {', '.join(broken)}")
        return EXIT_FAILURES
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
