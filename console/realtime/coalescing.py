"""Coalesced background pushes: a burst of changes costs one recomputation, never an older state."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Protocol


class Submits(Protocol):
    """What a coalescer needs of a job pool (console/runtime/jobs.py's `Jobs` is one)."""

    def submit(self, fn: Callable[..., Any], *args: Any) -> None: ...


class Coalescer:
    """Runs `fn(keys)` in the background for keys marked since the last run, at most one run queued.

    A burst of 100 changes to one team's conversations costs one recount, not 100. Runs never
    overlap, and each reads the state as it is when it runs, so what listeners hear only moves
    forward: a slow run can never publish an older state after a newer one.
    """

    def __init__(self, jobs: Submits, fn: Callable[[set[Any]], None]) -> None:
        self._jobs = jobs
        self._fn = fn
        self._keys: set[Any] = set()
        self._scheduled = False
        self._lock = threading.Lock()
        self._running = threading.Lock()

    def mark(self, key: Any) -> None:
        with self._lock:
            self._keys.add(key)
            if self._scheduled:
                return
            self._scheduled = True
        self._jobs.submit(self._drain)

    def _drain(self) -> None:
        with self._running:
            with self._lock:
                keys, self._keys = self._keys, set()
                self._scheduled = False
            if keys:
                self._fn(keys)
