"""Sockets end when the session or token they were opened with ends.

`AccessRevoked` is published after commit in the process that revoked (a web process at logout or a
password change, the CLI at `parley user revoke-token`). That process closes the sockets it holds at
once. With `REDIS_URL` the revocation is also published on a Redis channel of this deployment, and
every web process (`start()`: a subscriber thread) closes the sockets it holds — the other processes'
sockets are not known here, so they are reached through the queue rather than by checking the session
on each socket event (the console namespace receives no events after connect to check on).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import redis

from console.realtime.presence import consoles
from models.events import AccessRevoked, Event

log = logging.getLogger(__name__)


class SocketRevocations:
    """An event-bus listener; `disconnect(sid)` closes one of this process's /console sockets."""

    def __init__(self, disconnect: Callable[[str], None], *, redis_url: str | None, channel: str) -> None:
        self.disconnect = disconnect
        self.redis_url = redis_url
        self.channel = f"{channel}:revoked"
        self._started = False
        self._lock = threading.Lock()

    def __call__(self, evt: Event) -> None:
        if not isinstance(evt, AccessRevoked):
            return
        self.end_local(evt.user_id, evt.session_ids, evt.token_ids)
        if self.redis_url:
            message = {"user_id": evt.user_id, "session_ids": list(evt.session_ids),
                       "token_ids": list(evt.token_ids)}
            redis.Redis.from_url(self.redis_url).publish(self.channel, json.dumps(message))

    def end_local(self, user_id: int, session_ids: Any, token_ids: Any) -> int:
        sids = consoles.opened_with(user_id, session_ids, token_ids)
        for sid in sids:
            self.disconnect(sid)
        return len(sids)

    def start(self) -> None:
        """Hear revocations made in other processes (only with Redis; idempotent)."""
        with self._lock:
            if self._started or not self.redis_url:
                return
            self._started = True
        ready = threading.Event()
        threading.Thread(target=self._listen, args=(ready,), name="parley-revocations", daemon=True).start()
        ready.wait(5)

    def _listen(self, ready: threading.Event) -> None:
        while True:
            try:
                pubsub = redis.Redis.from_url(self.redis_url or "").pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(self.channel)
                ready.set()
                for message in pubsub.listen():
                    data = json.loads(message["data"])
                    self.end_local(int(data["user_id"]), data["session_ids"], data["token_ids"])
            except Exception:  # a thread boundary: Redis went away; log, wait, subscribe again
                log.exception("revocation subscriber failed; resubscribing")
                ready.set()
                time.sleep(1)
