"""The shape every background worker in `connectors/` shares: a thread that runs passes over stored work.

A pass claims what is due (under a lease, so any number of processes may run one against a database) and
does it. The thread sleeps `poll_s` between idle passes and wakes at once on `notify()`. Passes never
overlap within a process; a `notify()` during a pass makes that pass go round again. Without a thread (a
test, a one-off command) `notify()` hands one pass to `submit` instead.

Subclasses implement `one_pass()` and return how much work it did; a pass that filled its batch goes round
again at once, since more may be waiting.
"""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable

log = logging.getLogger(__name__)


class PollingWorker(ABC):
    name = "parley-worker"
    batch = 50

    def __init__(self, submit: Callable[..., None]) -> None:
        self._submit = submit
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pass = threading.Lock()
        self._again = False

    # --- what a subclass says ------------------------------------------------------------------------

    @property
    @abstractmethod
    def poll_s(self) -> float:
        """Seconds between idle passes."""

    @abstractmethod
    def one_pass(self) -> int:
        """Claim what is due and do it; return how much was done."""

    # --- running -------------------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 15.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def notify(self) -> None:
        """Something is due now."""
        if self._thread is not None:
            self._wake.set()
        else:
            self._submit(self.run_once)

    def _loop(self) -> None:
        log.info("%s started", self.name)
        while not self._stop.is_set():
            try:
                busy = self.run_once()
            except Exception:  # the loop must survive a database hiccup; the work is still stored
                log.exception("%s: pass failed", self.name)
                busy = 0
            if not busy:
                self._wake.wait(self.poll_s)
            self._wake.clear()
        log.info("%s stopped", self.name)

    def run_once(self) -> int:
        """Passes until no more work is due. Returns the work done (0 when another pass was running)."""
        if not self._pass.acquire(blocking=False):
            self._again = True
            return 0
        done = 0
        try:
            while True:
                self._again = False
                n = self.one_pass()
                done += n
                if not self._again and n < self.batch:
                    return done
        finally:
            self._pass.release()
