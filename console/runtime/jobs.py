"""Background work behind one small interface.

In-process threads by default; `InlineJobs` runs work at once (deterministic tests, one-shot CLI
commands). A Redis-backed queue with separate worker processes can implement the same `submit`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Protocol

from models.telemetry.metrics import JOBS_PENDING

log = logging.getLogger(__name__)


class Jobs(Protocol):
    def submit(self, fn: Callable[..., Any], *args: Any) -> None: ...

    def shutdown(self, wait: bool = True) -> None: ...


def _run_logged(fn: Callable[..., Any], *args: Any) -> None:
    try:
        fn(*args)
    except Exception:  # a job's failure is logged; the work it left is picked up again at start
        log.exception("background job %s%r failed", getattr(fn, "__qualname__", fn), args)


class ThreadJobs:
    def __init__(self, workers: int = 4, name: str = "parley-job") -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)
        self._pending: set[Future[None]] = set()
        self._lock = threading.Lock()

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        JOBS_PENDING.inc()
        fut = self._pool.submit(_run_logged, fn, *args)
        with self._lock:
            self._pending.add(fut)
        fut.add_done_callback(self._done)

    def _done(self, fut: Future[None]) -> None:
        JOBS_PENDING.dec()
        with self._lock:
            self._pending.discard(fut)


    def shutdown(self, wait: bool = True) -> None:
        self._pool.shutdown(wait=wait)


class InlineJobs:
    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        _run_logged(fn, *args)

    def shutdown(self, wait: bool = True) -> None:
        return None
