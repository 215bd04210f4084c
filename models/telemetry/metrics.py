"""Every Prometheus series Parley exports, in one place, and the scrape.

Counters and histograms are recorded where things happen (the bot pipeline, the delivery worker, the
LLM stage, the Rasa supervisor; domain events through `MetricsListener`); what the database already
knows (queues, outbox backlog, due timers) is read at scrape time by `DatabaseCollector`, so every process
reports the same numbers and nothing has to be kept in step.

Under gunicorn several processes serve `/metrics`: with `PROMETHEUS_MULTIPROC_DIR` set (before Python
starts, as prometheus-client requires) every process writes its samples there and a scrape sums them
(`multiprocess_mode` below says how each gauge is combined); unset, the process's own registry is used.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.registry import Collector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

MESSAGES = Counter("parley_messages_total", "Messages stored, by direction (in: from customers; out: to them), "
                   "channel and sender", ["direction", "channel", "sender"])
HANDOFFS = Counter("parley_handoffs_total", "Conversations handed from the bot to people, by reason", ["reason"])
BOT_TURN = Histogram("parley_bot_turn_seconds", "Time one bot engine took to answer one customer message",
                     ["engine"], buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60))
OUTBOX_ATTEMPTS = Counter("parley_outbox_attempts_total", "Sends to a provider, by channel and outcome "
                          "(sent, retry, refused, unconfirmed, error)", ["channel", "outcome"])
OUTBOX_FAILURES = Counter("parley_outbox_failures_total", "Sends given up (the agent sees a failed message)",
                          ["channel"])
SOCKETS = Gauge("parley_open_sockets", "Socket.IO connections open, by namespace", ["namespace"],
                multiprocess_mode="livesum")
JOBS_PENDING = Gauge("parley_jobs_pending", "Background jobs submitted and not yet finished (in-process pool)",
                     multiprocess_mode="livesum")
LLM_TOKENS = Counter("parley_llm_tokens_total", "Tokens the LLM provider counted, by model, purpose "
                     "(bot, summary, assist) and kind (input, output)", ["model", "purpose", "kind"])
RASA_RESTARTS = Counter("parley_rasa_restarts_total", "Times a supervised Rasa server died and was restarted")


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def scrape(*collectors: Collector) -> bytes:
    """The exposition text: this process's series (or every process's, in multiprocess mode), then
    `collectors`' (read now, e.g. from the database)."""
    if multiprocess_dir():
        base = CollectorRegistry()
        MultiProcessCollector(base)
    else:
        base = REGISTRY
    extra = CollectorRegistry(auto_describe=False)
    for collector in collectors:
        extra.register(collector)
    return generate_latest(base) + generate_latest(extra)


def process_exited(pid: int) -> None:
    """Gunicorn's `child_exit` hook calls this so a dead worker's live gauges stop counting."""
    if multiprocess_dir():
        mark_process_dead(pid)


@contextmanager
def timed(histogram: Histogram, *labels: str) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        histogram.labels(*labels).observe(time.perf_counter() - started)


def count_tokens(model: str, purpose: str, input_tokens: int | None, output_tokens: int | None) -> None:
    if input_tokens:
        LLM_TOKENS.labels(model, purpose, "input").inc(input_tokens)
    if output_tokens:
        LLM_TOKENS.labels(model, purpose, "output").inc(output_tokens)


def socket_opened(namespace: str) -> None:
    SOCKETS.labels(namespace).inc()


def socket_closed(namespace: str) -> None:
    SOCKETS.labels(namespace).dec()
