"""The SMS/WhatsApp channels inside the app: settings, storage, the delivery worker, and the
listener that wakes the worker when something is queued (what consoles hear of deliveries is the
realtime listener's: console/realtime/listener.py)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, current_app
from sqlalchemy.exc import IntegrityError

from connectors.delivery import DeliveryWorker, MediaLinks
from console.runtime.jobs import InlineJobs, Jobs, ThreadJobs
from console.services import Services
from models.channels.attachments import AttachmentStore
from models.channels.config import do_seed_from_env
from models.channels.settings import ChannelSettings
from models.db import Database
from models.events import Event, OutboundQueued
from models.storage import storage_for

log = logging.getLogger(__name__)


EXTENSION = "parley.channels"


@dataclass
class ChannelRuntime:
    settings: ChannelSettings
    db: Database
    store: AttachmentStore
    links: MediaLinks
    worker: DeliveryWorker
    # What a webhook sets off once its message is committed and acknowledged — the pushes of its
    # events, then the bot's wake-up — one after another on a thread of their own (console/webhooks.py).
    after_ack: Jobs = field(default_factory=InlineJobs)
    # Provider configurations by kind, with their expiry (console/webhooks.py).
    config_cache: dict[str, tuple[float, list[Any]]] = field(default_factory=dict)


def runtime(app: Flask | None = None) -> ChannelRuntime:
    rt: ChannelRuntime = (app or current_app).extensions[EXTENSION]
    return rt


def seed(db: Database, settings: ChannelSettings) -> None:
    """Channels from PARLEY_TWILIO_* / PARLEY_WHATSAPP_* (several processes may start at once)."""
    if not settings.seed:
        return
    for attempt in range(3):
        try:
            with db.transaction() as s:
                made = do_seed_from_env(s, settings)
            log.info("channels from the environment: %s", ", ".join(f"{c.kind} #{c.id}" for c in made))
            return
        except IntegrityError:
            if attempt == 2:
                raise


def build(svc: Services) -> ChannelRuntime:
    """The channel runtime of one app (or worker process); the worker thread is not started here."""
    settings = ChannelSettings.from_settings(svc.settings)
    store = AttachmentStore(storage_for(svc.settings))
    links = MediaLinks(svc.settings.secret_key, settings.public_url)
    worker = DeliveryWorker(svc.db, settings, store, links, svc.jobs.submit)
    # One thread, so that what was handed over in order is done in order (inline jobs stay inline: tests).
    after_ack: Jobs = ThreadJobs(workers=1, name="parley-after-ack") if isinstance(svc.jobs, ThreadJobs) else svc.jobs
    rt = ChannelRuntime(settings, svc.db, store, links, worker, after_ack)
    svc.db.bus.subscribe(WakeWorker(worker.notify))
    return rt


class WakeWorker:
    """Wakes the delivery worker when an outbox row is committed (it also polls: this is latency only)."""

    def __init__(self, notify: Callable[[], None]) -> None:
        self.notify = notify

    def __call__(self, evt: Event) -> None:
        if isinstance(evt, OutboundQueued):
            self.notify()


def init_app(app: Flask, svc: Services) -> ChannelRuntime:
    """Build the app's channel runtime and seed channels from the environment (routes: `console.app`)."""
    rt = build(svc)
    app.extensions[EXTENSION] = rt
    seed(svc.db, rt.settings)
    return rt
