"""Coalesced background pushes: a burst of changes costs one recomputation, never an older state."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Protocol


class Submits(Protocol):
    """What a coalescer needs of a job pool (console/runtime/jobs.py's `Jobs` is one)."""

    def submit(self, fn: Callable[..., Any], *args: Any) -> None: ...


def _timer(delay_s: float, fn: Callable[[], None]) -> None:
    timer = threading.Timer(delay_s, fn)
    timer.daemon = True
    timer.start()


class Coalescer:
    """Runs `fn(keys)` in the background for keys marked since the last run, at most one run queued.

    A burst of 100 changes to one team's conversations costs one recount, not 100. Runs never
    overlap, and each reads the state as it is when it runs, so what listeners hear only moves
    forward: a slow run can never publish an older state after a newer one.

    `pace_s`: runs start at least this far apart. A mark after a quiet spell runs at once; under a
    burst the marks gather for up to `pace_s` and go in one run (the summaries and counters pushed to
    every console of a team: issue 17's burst of 100 handoffs ran the counters ~190 times, 20 frames
    each, while the agents' notifications queued behind them on the same sockets). `later(delay,
    fn)` calls `fn` after `delay` seconds (a timer thread; tests pass their own).
    """

    def __init__(self, jobs: Submits, fn: Callable[[set[Any]], None], *, pace_s: float = 0.0,
                 clock: Callable[[], float] = time.monotonic,
                 later: Callable[[float, Callable[[], None]], None] = _timer) -> None:
        self._jobs = jobs
        self._fn = fn
        self._pace_s = pace_s
        self._clock = clock
        self._later = later
        self._keys: set[Any] = set()
        self._scheduled = False
        self._last_start: float | None = None
        self._lock = threading.Lock()
        self._running = threading.Lock()

    def mark(self, key: Any) -> None:
        with self._lock:
            self._keys.add(key)
            if self._scheduled:
                return
            self._scheduled = True
            wait = 0.0 if self._last_start is None else self._last_start + self._pace_s - self._clock()
        if wait > 0:
            self._later(wait, self._submit_late)
        else:
            self._jobs.submit(self._drain)

    def _submit_late(self) -> None:
        """The paced run, from the timer's thread: the process may have stopped its job pool meanwhile
        (shutting down), and then there is nobody left to push to."""
        try:
            self._jobs.submit(self._drain)
        except RuntimeError:  # ThreadPoolExecutor: "cannot schedule new futures after shutdown"
            return

    def _drain(self) -> None:
        with self._running:
            with self._lock:
                keys, self._keys = self._keys, set()
                self._scheduled = False
                self._last_start = self._clock()
            if keys:
                self._fn(keys)
