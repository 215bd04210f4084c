"""A crowd of visitors against one server, and the figures it produced.

Every visitor connects and sends its warm-up messages first; the measured window starts when all
are ready (or the wait for them runs out) and ends when the last one has its last reply, so
throughput is measured messages answered over that wall-clock window.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from bench.visitor import Outcome, Visitor, VisitorError

# Room for scheduling on a loaded machine, on top of the per-message reply timeout.
SLACK_S = 15.0
CLOSE_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class LoadPlan:
    visitors: int
    messages: int
    warmup: int
    reply_timeout_s: float
    texts: tuple[str, ...]

    def text(self, visitor: int, turn: int) -> str:
        return self.texts[(visitor + turn) % len(self.texts)]


@dataclass
class _VisitorRun:
    """What one visitor thread did; written by that thread, read after it is joined or abandoned."""

    visitor: Visitor | None = None
    connect_s: float | None = None
    connect_error: str | None = None
    warmup_errors: Counter[str] = field(default_factory=Counter)
    outcomes: list[Outcome] = field(default_factory=list)
    finished_at: float | None = None
    ready: threading.Event = field(default_factory=threading.Event)


@dataclass(frozen=True)
class Summary:
    """The figures of one target; latencies in milliseconds."""

    messages: int
    ok: int
    failed: int
    errors: dict[str, int]
    warmup_errors: dict[str, int]
    p50_ms: float | None
    p99_ms: float | None
    mean_ms: float | None
    max_ms: float | None
    throughput: float | None
    window_s: float
    connect_p50_ms: float | None

    @property
    def failure_rate(self) -> float:
        return self.failed / self.messages if self.messages else 1.0


def percentile(values: list[float], pct: int) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[pct - 1]


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * 1000.0


def _prepare(url: str, index: int, plan: LoadPlan, run: _VisitorRun) -> None:
    """Connect and send the warm-up messages, which are not measured."""
    run.visitor = Visitor(url, plan.reply_timeout_s)
    try:
        run.connect_s = run.visitor.connect(plan.reply_timeout_s)
    except VisitorError as exc:
        run.connect_error = str(exc)
        return
    for turn in range(plan.warmup):
        outcome = run.visitor.send(plan.text(index, turn))
        if outcome.error:
            run.warmup_errors[outcome.error] += 1


def _visit(url: str, index: int, plan: LoadPlan, run: _VisitorRun, go: threading.Event,
           go_timeout_s: float) -> None:
    try:
        _prepare(url, index, plan, run)
    finally:
        run.ready.set()
    if run.visitor is None or run.connect_error or not go.wait(go_timeout_s):
        return
    for turn in range(plan.messages):
        run.outcomes.append(run.visitor.send(plan.text(index, plan.warmup + turn)))
    run.finished_at = time.perf_counter()


def _wait_all_ready(runs: list[_VisitorRun], timeout_s: float) -> None:
    deadline = time.perf_counter() + timeout_s
    for run in runs:
        run.ready.wait(max(0.0, deadline - time.perf_counter()))


def _join_all(threads: list[threading.Thread], timeout_s: float) -> None:
    deadline = time.perf_counter() + timeout_s
    for thread in threads:
        thread.join(max(0.0, deadline - time.perf_counter()))


def close_all(visitors: list[Visitor], at_once: int = 64) -> None:
    """Disconnect everyone, `at_once` at a time (websocket-client may wait up to 3 s for each close
    handshake; a thousand closing together is a burst of threads on a shared machine). Gives up after
    CLOSE_TIMEOUT_S: the server is stopped right after anyway."""
    pending = list(visitors)
    lock = threading.Lock()

    def close_some() -> None:
        while True:
            with lock:
                if not pending:
                    return
                visitor = pending.pop()
            visitor.close()

    closers = [threading.Thread(target=close_some, name="close-visitor", daemon=True)
               for _ in range(min(at_once, len(visitors)))]
    for closer in closers:
        closer.start()
    _join_all(closers, CLOSE_TIMEOUT_S)


def _summarize(plan: LoadPlan, runs: list[_VisitorRun], started: float) -> Summary:
    expected = plan.visitors * plan.messages
    latencies = [o.latency_s for run in runs for o in run.outcomes if o.latency_s is not None]
    errors: Counter[str] = Counter(o.error for run in runs for o in run.outcomes if o.error)
    for run in runs:
        missing = plan.messages - len(run.outcomes)
        if missing:
            errors["connect_failed" if run.connect_error else "unfinished"] += missing
    warmup_errors: Counter[str] = sum((run.warmup_errors for run in runs), Counter())
    ends = [run.finished_at for run in runs if run.finished_at is not None]
    window_s = (max(ends) if ends else time.perf_counter()) - started
    connects = [run.connect_s for run in runs if run.connect_s is not None]
    return Summary(
        messages=expected, ok=len(latencies), failed=expected - len(latencies),
        errors=dict(errors), warmup_errors=dict(warmup_errors),
        p50_ms=_ms(percentile(latencies, 50)), p99_ms=_ms(percentile(latencies, 99)),
        mean_ms=_ms(statistics.fmean(latencies)) if latencies else None,
        max_ms=_ms(max(latencies)) if latencies else None,
        throughput=len(latencies) / window_s if latencies and window_s > 0 else None,
        window_s=window_s, connect_p50_ms=_ms(percentile(connects, 50)),
    )


def run_load(url: str, plan: LoadPlan) -> Summary:
    """Drive `plan.visitors` concurrent visitors against `url` and summarize the measured phase."""
    runs = [_VisitorRun() for _ in range(plan.visitors)]
    go = threading.Event()
    ready_timeout_s = plan.reply_timeout_s * (1 + plan.warmup) + SLACK_S
    threads = [
        threading.Thread(target=_visit, args=(url, i, plan, run, go, ready_timeout_s),
                         name=f"visitor-{i}", daemon=True)
        for i, run in enumerate(runs)
    ]
    for thread in threads:
        thread.start()
    _wait_all_ready(runs, ready_timeout_s)
    started = time.perf_counter()
    go.set()
    _join_all(threads, plan.reply_timeout_s * plan.messages + SLACK_S)
    summary = _summarize(plan, runs, started)
    close_all([run.visitor for run in runs if run.visitor is not None])
    return summary
