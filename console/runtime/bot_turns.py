"""Bot turns as durable work: threads of their own that claim conversations with unanswered customer
messages and run the bot on them, in `parley worker` (and inside `parley run`).

Why not RQ, Dramatiq or Celery: the work item already is durable — a committed customer message
after the conversation's `bot_cursor` *is* the job, and the database says which conversations have
one. A queue beside it would be a second truth to keep in step (a job enqueued for a message whose
transaction rolled back, a job lost between commit and enqueue). So, as the outbox worker does, a
worker claims in the database (a lease per conversation, models/conversations/bot_claims.py) and a
sweep every `poll_s` finds whatever nobody holds: a message whose process was killed a moment after
committing it, or whose worker died mid-turn (its lease expires). Wake-ups make it fast: in-process
`notify` when the same process committed the message, Redis pub/sub (`BotWake`) from web processes.

Bot turns never share threads with live pushes (console/runtime/jobs.py) or routing: a slow LLM
turn holds one of these threads and nothing else.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable

from bot.pipeline import BotPipeline, Claimed

log = logging.getLogger(__name__)


class BotTurns:
    def __init__(self, pipeline: BotPipeline, *, concurrency: int = 4, poll_s: float = 1.0) -> None:
        if concurrency < 1:
            raise ValueError("bot turn concurrency must be at least 1")
        self.pipeline = pipeline
        self.concurrency = concurrency
        self.poll_s = poll_s
        self._queue: queue.Queue[int | Claimed | None] = queue.Queue()
        self._queued: set[int] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def notify(self, conversation_id: int) -> None:
        """A customer message was committed: run the bot on its conversation soon (once queued)."""
        with self._lock:
            if conversation_id in self._queued or self._stop.is_set():
                return
            self._queued.add(conversation_id)
        self._queue.put(conversation_id)

    def resume(self, claimed: Claimed) -> None:
        """A customer message was committed with the bot's claim (bot/pipeline.py `Claimed`): answer it
        on a bot thread. Stopping: the claim is given back at once."""
        if self._stop.is_set():
            self.pipeline.resume(claimed)  # stopping: gives the claim back, answers nothing
            return
        self._queue.put(claimed)

    def start(self) -> None:
        if self._threads:
            return
        for n in range(self.concurrency):
            self._threads.append(threading.Thread(target=self._run, name=f"parley-bot-{n}", daemon=True))
        self._threads.append(threading.Thread(target=self._sweep_loop, name="parley-bot-sweep", daemon=True))
        for thread in self._threads:
            thread.start()

    def stop(self, grace_s: float = 20.0) -> list[int]:
        """Graceful shutdown: claim nothing new, let turns under way be stored (up to `grace_s`),
        then give back every claim still held. Returns the conversations given back unfinished."""
        self._stop.set()
        self.pipeline.stop()
        for _ in range(self.concurrency):
            self._queue.put(None)
        deadline = time.monotonic() + grace_s
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._give_back_queued()
        released = self.pipeline.release_held()
        if released:
            log.warning("shutdown: gave back %d conversation(s) mid-turn: %s", len(released), released)
        return released

    def _give_back_queued(self) -> None:
        """Claims taken with customer messages but never started: given back now (the pipeline is
        stopping), so another process answers them at once instead of when their leases end."""
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if isinstance(item, Claimed):
                try:
                    self.pipeline.resume(item)  # stopping: releases, answers nothing
                except Exception:  # shutting down: the lease expires and a sweep takes it
                    log.exception("could not give back the claim on conversation %s", item.conversation_id)

    def sweep(self) -> int:
        """Queue the conversations with unanswered messages that nobody holds. Returns how many."""
        if self._queue.qsize() >= 2 * self.concurrency:
            return 0  # busy already: what is waiting here goes first
        ids = self.pipeline.pending_conversation_ids(claimable_only=True, limit=4 * self.concurrency)
        for conversation_id in ids:
            self.notify(conversation_id)
        return len(ids)

    def _run(self) -> None:
        while not self._stop.is_set():
            item = self._queue.get()
            if item is None:
                return
            if isinstance(item, Claimed):
                conversation_id = item.conversation_id
            else:
                conversation_id = item
                with self._lock:
                    self._queued.discard(conversation_id)
            try:
                if isinstance(item, Claimed):
                    self.pipeline.resume(item)
                else:
                    self.pipeline.process(conversation_id)
            except Exception:  # a database hiccup: the claim expires, the sweep takes it again
                log.exception("bot turn on conversation %s failed", conversation_id)

    def _sweep_loop(self) -> None:
        renew_every = max(self.pipeline.lease_s / 3, 0.2)
        last_renew = time.monotonic()
        while not self._stop.wait(self.poll_s):
            try:
                if time.monotonic() - last_renew >= renew_every:
                    last_renew = time.monotonic()
                    self.pipeline.renew_held()
                self.sweep()
            except Exception:  # the database is away for a moment: try again next round
                log.exception("bot sweep failed")


class BotWake:
    """Web processes tell worker processes "this conversation has a new customer message" over Redis
    pub/sub. Only latency rides on it: a wake-up lost (no worker listening, Redis restarting) is
    found by the next sweep."""

    def __init__(self, redis_url: str, channel: str) -> None:
        import redis

        self._redis = redis.Redis.from_url(redis_url)
        self.channel = channel

    def publish(self, conversation_id: int) -> None:
        try:
            self._redis.publish(self.channel, str(conversation_id))
        except Exception:  # latency only: the workers' sweep finds the message anyway
            log.warning("could not wake a bot worker through Redis; its sweep will find conversation %s",
                        conversation_id, exc_info=True)

    def listen(self, on_wake: Callable[[int], None], stop: threading.Event) -> threading.Thread:
        """Call `on_wake(conversation_id)` for every wake-up until `stop` is set (a thread of its own)."""

        def loop() -> None:
            while not stop.is_set():
                try:
                    pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
                    pubsub.subscribe(self.channel)
                    while not stop.is_set():
                        message = pubsub.get_message(timeout=1.0)
                        data = message.get("data") if message else None
                        if isinstance(data, bytes) and data.isdigit():
                            on_wake(int(data))
                    pubsub.close()
                except Exception:  # Redis restarting: the sweep covers meanwhile; reconnect shortly
                    log.warning("bot wake-up listener lost Redis; retrying", exc_info=True)
                    stop.wait(1.0)

        thread = threading.Thread(target=loop, name="parley-bot-wake", daemon=True)
        thread.start()
        return thread
