"""Rasa's tracker follows who owns the conversation: paused while a person does, resumed after.

A listener on the event bus, not a step of the pipeline: a conversation is handed off by the bot, by
a routing rule or by an agent, and given back by an agent, and every one of those publishes an event
after its commit. The listener hands the call to Rasa to background work (an agent's click must not
wait on Rasa) and, when it runs, reads the conversation's *current* owner and sends the matching
event, under a per-conversation lock: however late or out of order jobs run, the last one leaves the
tracker as the database says. A resume that cannot reach Rasa is repaired by the engine itself on the
next message (it finds the tracker paused, resumes it and asks again), so no customer goes unanswered.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

from bot.rasa.client import RasaError
from bot.rasa.engine import RasaEngine
from models.db import Database
from models.events import ConversationHandedOff, ConversationStatusChanged, Event
from models.schema.conversations import Conversation, Owner

log = logging.getLogger(__name__)

Submit = Callable[..., None]  # jobs.submit(fn, *args)


class TrackerSync:
    def __init__(self, db: Database, engines: Sequence[RasaEngine], submit: Submit) -> None:
        self.db = db
        self.engines = list(engines)
        self.submit = submit
        self._locks = [threading.Lock() for _ in range(64)]

    def __call__(self, evt: Event) -> None:
        if isinstance(evt, ConversationHandedOff) or (
            isinstance(evt, ConversationStatusChanged) and evt.change == "returned_to_bot"
        ):
            self.submit(self.sync, evt.conversation_id)

    def sync(self, conversation_id: int) -> str | None:
        """Pause or resume the conversation's tracker as its owner says; returns what was sent."""
        with self._locks[conversation_id % len(self._locks)]:
            with self.db.session() as session:
                conv = session.get(Conversation, conversation_id)
                if conv is None:
                    return None
                public_id, owner = conv.public_id, conv.owner
            action = "pause" if owner == Owner.HUMAN.value else "resume"
            for engine in self.engines:
                try:
                    (engine.pause if action == "pause" else engine.resume)(public_id)
                except RasaError as exc:
                    log.warning("could not %s Rasa tracker %s: %s", action, public_id, exc)
            return action


def install(db: Database, engines: Sequence[Any], submit: Submit) -> TrackerSync | None:
    """Subscribe a `TrackerSync` when the pipeline has a Rasa engine; returns it (or None)."""
    rasa = [e for e in engines if isinstance(e, RasaEngine)]
    if not rasa:
        return None
    sync = TrackerSync(db, rasa, submit)
    db.bus.subscribe(sync)
    return sync
