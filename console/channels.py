"""The SMS/WhatsApp channels inside the app: settings, storage, the delivery worker, and the
listener that wakes the worker and shows delivery changes live in the console."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from connectors.webchat import CHANNEL as WEBCHAT
from console import inbox
from console.delivery import DeliveryWorker, MediaLinks
from console.extensions import socketio
from console.realtime import ALL_ROOM, CONSOLE, WEBCHAT_NS, contact_room, team_room, user_room
from console.services import Services
from models.channels.attachments import AttachmentStore
from models.channels.config import do_seed_from_env
from models.channels.settings import ChannelSettings
from models.conversations.visibility import named_users
from models.db import Database
from models.events import Event, MessageCreated, MessageUpdated, OutboundQueued
from models.schema.channels import Attachment, AttachmentState
from models.schema.conversations import Conversation, Message, SenderType

log = logging.getLogger(__name__)
EXTENSION = "parley.channels"


@dataclass
class ChannelRuntime:
    settings: ChannelSettings
    db: Database
    store: AttachmentStore
    links: MediaLinks
    worker: DeliveryWorker
    # Provider configurations by kind, with their expiry (console/webhooks.py).
    config_cache: dict[str, tuple[float, list[Any]]] = field(default_factory=dict)


def runtime(app: Flask | None = None) -> ChannelRuntime:
    rt: ChannelRuntime = (app or current_app).extensions[EXTENSION]
    return rt


class ChannelListener:
    """Wakes the delivery worker when something is queued; shows delivery changes in the console.
    `emit` is Flask-SocketIO's (in an app process, or a queue-only emitter in `parley worker`)."""

    def __init__(self, db: Database, emit: Callable[..., Any], notify: Callable[[], None],
                 links: MediaLinks | None = None) -> None:
        self.db = db
        self.emit = emit
        self.notify = notify
        self.links = links

    def __call__(self, evt: Event) -> None:
        if isinstance(evt, OutboundQueued):
            self.notify()
        elif isinstance(evt, MessageUpdated):
            self._push(evt)
        elif isinstance(evt, MessageCreated) and evt.channel == WEBCHAT and not evt.private \
                and evt.sender_type != SenderType.CONTACT.value and self.links is not None:
            self._files_to_visitor(evt)

    def _files_to_visitor(self, evt: MessageCreated) -> None:
        """Files an agent sent on webchat reach the widget as links (after the message itself)."""
        assert self.links is not None
        with self.db.session() as s:
            files = [{"filename": a.filename, "content_type": a.content_type, "size": a.size,
                      "url": self.links.visitor_url(a.public_id)}
                     for a in s.scalars(select(Attachment).where(Attachment.message_id == evt.message_id,
                                                                 Attachment.state == AttachmentState.READY.value)
                                        .order_by(Attachment.id))]
        if files:
            self.emit("files", {"id": evt.message_id, "files": files}, namespace=WEBCHAT_NS,
                      to=contact_room(evt.contact_id))

    def _push(self, evt: MessageUpdated) -> None:
        with self.db.session() as s:
            row = s.execute(select(Message, Conversation.public_id)
                            .join(Conversation, Conversation.id == Message.conversation_id)
                            .options(selectinload(Message.author), selectinload(Message.attachments))
                            .where(Message.id == evt.message_id)).first()
            if row is None:
                return
            payload = inbox.message_json(row[0], row[1])
            # A restricted conversation is heard only by its named users (models/visibility.py).
            named = named_users(s, [row[0].conversation_id]).get(row[0].conversation_id)
        rooms = [user_room(u) for u in named] if named is not None else [team_room(evt.team_id), ALL_ROOM]
        for room in rooms:
            self.emit("message", payload, namespace=CONSOLE, to=room)


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
    store = AttachmentStore(svc.settings.instance_dir / "attachments")
    links = MediaLinks(svc.settings.secret_key, settings.public_url)
    worker = DeliveryWorker(svc.db, settings, store, links, svc.jobs.submit)
    rt = ChannelRuntime(settings, svc.db, store, links, worker)
    svc.db.bus.subscribe(ChannelListener(svc.db, socketio.emit, worker.notify, links))
    return rt


def init_app(app: Flask, svc: Services) -> ChannelRuntime:
    from console import api_channels, attachments, webhooks

    rt = build(svc)
    app.extensions[EXTENSION] = rt
    app.register_blueprint(webhooks.bp)
    app.register_blueprint(api_channels.bp)
    app.register_blueprint(attachments.bp)
    api_channels.register_pages(app)
    if rt.settings.bench_noop:
        app.add_url_rule("/webhooks/noop", "webhooks_noop", webhooks.noop, methods=["POST"])
    seed(svc.db, rt.settings)
    return rt
