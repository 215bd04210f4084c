"""Which agents have a console open in this process.

Each process knows only its own sockets; it vouches for them by refreshing `users.console_seen_at`
(at connect, at disconnect, and by the timer runner's heartbeat). An agent no process has vouched
for in 5 minutes — every console closed, or the process holding them died — is set offline by
whichever runner sweeps first (`models.routing.do_sweep_disconnected`).
"""

from __future__ import annotations

import threading
from collections import Counter


class ConsoleSockets:
    def __init__(self) -> None:
        self._by_sid: dict[str, int] = {}
        self._count: Counter[int] = Counter()
        self._lock = threading.Lock()

    def add(self, sid: str, user_id: int) -> None:
        with self._lock:
            self._by_sid[sid] = user_id
            self._count[user_id] += 1

    def remove(self, sid: str) -> tuple[int | None, bool]:
        """Forget a socket; also say whether it was that user's last one here."""
        with self._lock:
            user_id = self._by_sid.pop(sid, None)
            if user_id is None:
                return None, False
            self._count[user_id] -= 1
            last = self._count[user_id] <= 0
            if last:
                del self._count[user_id]
            return user_id, last

    def user_ids(self) -> set[int]:
        with self._lock:
            return set(self._count)


consoles = ConsoleSockets()
