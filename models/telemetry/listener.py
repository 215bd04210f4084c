"""Domain events counted as metrics: one bus listener, so no action has to know metrics exist."""

from __future__ import annotations

from models.events import ConversationHandedOff, Event, MessageCreated
from models.telemetry.metrics import HANDOFFS, MESSAGES

CUSTOMER = "contact"


class MetricsListener:
    def __call__(self, evt: Event) -> None:
        if isinstance(evt, MessageCreated):
            if evt.private:  # notes between agents reach no customer
                return
            direction = "in" if evt.sender_type == CUSTOMER else "out"
            MESSAGES.labels(direction, evt.channel, evt.sender_type).inc()
        elif isinstance(evt, ConversationHandedOff):
            HANDOFFS.labels(evt.reason).inc()
