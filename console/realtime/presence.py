"""Which agents have a console open in this process.

Each process knows only its own sockets; it vouches for them by refreshing `users.console_seen_at`
(at connect, at disconnect, and by the timer runner's heartbeat). An agent no process has vouched
for in 5 minutes — every console closed, or the process holding them died — is set offline by
whichever runner sweeps first (`models.routing.do_sweep_disconnected`).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable


class ConsoleSockets:
    def __init__(self) -> None:
        self._by_sid: dict[str, int] = {}
        # the session or token each socket was opened with: revoking it ends the socket
        self._credential: dict[str, tuple[int | None, int | None]] = {}
        self._count: Counter[int] = Counter()
        self._lock = threading.Lock()

    def add(self, sid: str, user_id: int, *, session_id: int | None = None, token_id: int | None = None) -> None:
        with self._lock:
            self._by_sid[sid] = user_id
            self._credential[sid] = (session_id, token_id)
            self._count[user_id] += 1

    def opened_with(self, user_id: int, session_ids: Iterable[int], token_ids: Iterable[int]) -> list[str]:
        """This process's sockets of `user_id` opened with one of these sessions or tokens."""
        sessions, tokens = set(session_ids), set(token_ids)
        with self._lock:
            return [sid for sid, uid in self._by_sid.items() if uid == user_id and (
                self._credential[sid][0] in sessions or self._credential[sid][1] in tokens)]

    def remove(self, sid: str) -> tuple[int | None, bool]:
        """Forget a socket; also say whether it was that user's last one here."""
        with self._lock:
            user_id = self._by_sid.pop(sid, None)
            self._credential.pop(sid, None)
            if user_id is None:
                return None, False
            self._count[user_id] -= 1
            last = self._count[user_id] <= 0
            if last:
                del self._count[user_id]
            return user_id, last

    def user_of(self, sid: str) -> int | None:
        with self._lock:
            return self._by_sid.get(sid)

    def user_ids(self) -> set[int]:
        with self._lock:
            return set(self._count)


consoles = ConsoleSockets()
