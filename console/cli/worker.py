"""`parley worker`: delivery worker processes, separate from the web processes."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from typing import Any

import click

from console.cli.support import migrated_db
from models.db import Database
from models.settings import Settings

log = logging.getLogger(__name__)


@click.command("worker", help="Send the SMS/WhatsApp outbox and fetch inbound media (run as many as you like).")
def worker() -> None:
    from connectors.delivery import DeliveryWorker, MediaLinks
    from console.runtime.channels import seed
    from models.channels.attachments import AttachmentStore
    from models.channels.settings import ChannelSettings
    from models.storage import storage_for

    settings = Settings.from_env()
    database = migrated_db()
    chs = ChannelSettings.from_settings(settings)
    seed(database, chs)
    runner = DeliveryWorker(database, chs, AttachmentStore(storage_for(settings)),
                            MediaLinks(settings.secret_key, chs.public_url), submit=_inline)
    _push_updates_through_redis(database, settings)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    runner.start()
    click.echo("delivery worker running; Ctrl+C stops it")
    stop.wait()
    runner.stop()


def _inline(fn: Callable[..., Any], *args: Any) -> None:
    fn(*args)


def _push_updates_through_redis(database: Database, settings: Settings) -> None:
    """Delivery changes reach the consoles of the app processes through the Socket.IO queue."""
    if not settings.redis_url:
        log.warning("no REDIS_URL: delivery changes made here show in consoles only after a refresh")
        return
    from flask_socketio import SocketIO

    from console.realtime.listener import RealtimeListener
    from console.runtime.jobs import InlineJobs
    from models.events import Event, MessageUpdated

    emitter = SocketIO(message_queue=settings.redis_url, channel=settings.socketio_channel)
    realtime = RealtimeListener(database, InlineJobs(), emitter.emit)

    def delivery_changes(evt: Event) -> None:  # all a delivery worker changes that consoles show
        if isinstance(evt, MessageUpdated):
            realtime.message_updated(evt)

    database.bus.subscribe(delivery_changes)
