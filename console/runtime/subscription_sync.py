"""Webhook subscription changes reach every process (models/integrations/subscriptions.py remembers, per
process, which events anyone subscribed to, so commits with no wanted event pay no query).

A change commits in one process; this listener forgets the memory there and, with Redis, publishes on a
channel of this deployment. Every process listens on that channel from its first commit that asks (a
thread per process, started lazily so it survives gunicorn's fork) and forgets its memory when told.
While the thread is subscribed the memory is kept until told; before it is, or after Redis went away,
the memory expires after `WANTED_TTL_S` as without Redis.
"""

from __future__ import annotations

import logging
import os
import threading
import time

import redis

from models.events import Event, WebhookSubscriptionsChanged
from models.integrations.subscriptions import forget_all_wanted

log = logging.getLogger(__name__)


class SubscriptionSync:
    def __init__(self, redis_url: str | None, channel: str) -> None:
        self.redis_url = redis_url
        self.channel = f"{channel}:webhook-subscriptions"
        self._pid: int | None = None
        self._live = threading.Event()
        self._lock = threading.Lock()

    # --- a bus listener: a change committed here ---------------------------------------------------------

    def __call__(self, evt: Event) -> None:
        if not isinstance(evt, WebhookSubscriptionsChanged):
            return
        forget_all_wanted()
        if self.redis_url:
            try:
                redis.Redis.from_url(self.redis_url).publish(self.channel, "changed")
            except redis.RedisError:  # the others fall back to the short memory once they lose Redis too
                log.exception("could not publish a webhook subscription change")

    # --- the change feed of models/integrations/subscriptions.py -------------------------------------------

    def ensure_listening(self) -> bool:
        if not self.redis_url:
            return False
        pid = os.getpid()
        if self._pid != pid:
            with self._lock:
                if self._pid != pid:  # first use in this process (or a forked child of the one that had it)
                    self._pid = pid
                    self._live = threading.Event()
                    threading.Thread(target=self._listen, args=(pid, self._live), name="parley-webhook-subs",
                                     daemon=True).start()
        return self._live.is_set()

    def _listen(self, pid: int, live: threading.Event) -> None:
        while self._pid == pid:
            try:
                pubsub = redis.Redis.from_url(self.redis_url or "").pubsub()
                pubsub.subscribe(self.channel)
                for message in pubsub.listen():
                    forget_all_wanted()  # the first message confirms the subscription: from now on, told
                    if message.get("type") == "subscribe":
                        live.set()
            except Exception:  # a thread boundary: Redis went away; expire by time until subscribed again
                live.clear()
                forget_all_wanted()
                log.exception("webhook subscription listener failed; resubscribing")
                time.sleep(1)

    @property
    def live(self) -> bool:
        return self._live.is_set()
