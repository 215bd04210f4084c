"""The durable timer runner: one thread per app process, firing what is due in `routing_timers`.

Every process may run one; each timer still fires once (see `models.timers`). Besides the timers,
the runner sweeps now and then: it vouches for the consoles open in this process, sets offline the
agents nobody has vouched for in 5 minutes, arms timers a crash left unarmed, and routes any queue
with waiting conversations (so a handoff whose routing was interrupted is served all the same).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from console.realtime.presence import consoles
from models.db import Database
from models.routing.assign import drain
from models.routing.availability import OFFLINE_AFTER, do_console_seen, do_sweep_disconnected
from models.routing.queue import teams_with_waiting
from models.routing.timer_handlers import handle
from models.routing.timers import claim, postpone, reconcile
from models.schema.base import utcnow

log = logging.getLogger(__name__)


MAX_PER_TICK = 500


class TimerRunner:
    def __init__(self, db: Database, *, interval: float = 1.0, sweep_every: float = 10.0,
                 heartbeat_every: float = 60.0, offline_after: timedelta = OFFLINE_AFTER,
                 local_users: Callable[[], set[int]] = consoles.user_ids) -> None:
        self.db = db
        self.interval = interval
        self.sweep_every = sweep_every
        self.heartbeat_every = heartbeat_every
        self.offline_after = offline_after
        self.local_users = local_users
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_sweep = 0.0
        self._last_heartbeat = 0.0

    def tick(self, now: datetime | None = None) -> int:
        """Fire every timer due at `now` (default: the current time). Returns how many fired."""
        fired = 0
        started = utcnow()
        while fired < MAX_PER_TICK:
            at = now or utcnow()
            claimed: int | None = None
            try:
                with self.db.transaction() as s:
                    timer = claim(s, at, started)
                    if timer is None:
                        break
                    claimed = timer.id
                    handle(s, timer, at)
                fired += 1
            except Exception:  # one bad timer must not stop the others: postpone it and go on
                log.exception("timer %s failed; postponed", claimed)
                if claimed is None:
                    break
                with self.db.transaction() as s:
                    postpone(s, claimed, at)
        return fired

    def heartbeat(self, now: datetime | None = None) -> None:
        with self.db.transaction() as s:
            do_console_seen(s, self.local_users(), now or utcnow())

    def sweep(self, now: datetime | None = None) -> None:
        at = now or utcnow()
        with self.db.transaction() as s:
            do_sweep_disconnected(s, at, self.offline_after)
        with self.db.transaction() as s:
            reconcile(s, at)
        with self.db.session() as s:
            teams = teams_with_waiting(s)
        for team_id in teams:
            drain(self.db, team_id, at)

    def run_once(self) -> None:
        mono = time.monotonic()
        if mono - self._last_heartbeat >= self.heartbeat_every:
            self._last_heartbeat = mono
            self.heartbeat()
        if mono - self._last_sweep >= self.sweep_every:
            self._last_sweep = mono
            self.sweep()
        self.tick()

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._loop, name="parley-timers", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:  # a database hiccup: log, wait, try again
                log.exception("timer runner round failed")
            self._stop.wait(self.interval)
