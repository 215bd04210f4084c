"""Pushes of channel changes (delivery ticks, attachments) to consoles and customers."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from connectors.delivery import MediaLinks
from connectors.webchat import CHANNEL as WEBCHAT
from console.realtime.broadcaster import ALL_ROOM, CONSOLE, WEBCHAT_NS, contact_room, team_room, user_room
from console.serialize import message_json
from models.conversations.visibility import named_users
from models.db import Database
from models.events import Event, MessageCreated, MessageUpdated, OutboundQueued
from models.schema.channels import Attachment, AttachmentState
from models.schema.conversations import Conversation, Message, SenderType

log = logging.getLogger(__name__)


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
            payload = message_json(row[0], row[1])
            # A restricted conversation is heard only by its named users (models/visibility.py).
            named = named_users(s, [row[0].conversation_id]).get(row[0].conversation_id)
        rooms = [user_room(u) for u in named] if named is not None else [team_room(evt.team_id), ALL_ROOM]
        for room in rooms:
            self.emit("message", payload, namespace=CONSOLE, to=room)
