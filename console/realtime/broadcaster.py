"""The socket broadcaster: one listener on the event bus, turning committed changes into emits.

Rooms on `/console`: `user:<id>` (counters), `team:<id>` (agents of that team), `all` (admins and
supervisors). A user is in `all` or in their team rooms, never both, so nobody hears an event twice.
On `/webchat` each customer's sockets share `contact:<id>`. With REDIS_URL, Flask-SocketIO carries
every emit through Redis, so it reaches sockets held by any process.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from connectors.webchat import CHANNEL as WEBCHAT
from connectors.webchat import customer_message
from console.extensions import socketio
from console.runtime.jobs import Coalescer, Jobs
from console.serialize import conversations_json, iso, message_json
from models.conversations.inbox import counters, users_who_can_see
from models.conversations.visibility import named_users
from models.db import Database
from models.events import (
    BotTyping,
    ContactPresenceChanged,
    ConversationEvent,
    Event,
    MessageCreated,
)
from models.schema.conversations import Assignment, Conversation, Message, SenderType, Status

log = logging.getLogger(__name__)


CONSOLE = "/console"


WEBCHAT_NS = "/webchat"


def team_room(team_id: int) -> str:
    return f"team:{team_id}"


def user_room(user_id: int) -> str:
    return f"user:{user_id}"


def contact_room(contact_id: int) -> str:
    return f"contact:{contact_id}"


ALL_ROOM = "all"


def _to_console(event: str, payload: Any, team_id: int, named: list[int] | None = None) -> None:
    """To the team's room and supervisors' `all` room; a restricted conversation (`named`: the users
    it is visible to) only to those users' own rooms, never to a shared room."""
    if named is not None:
        for user_id in named:
            socketio.emit(event, payload, namespace=CONSOLE, to=user_room(user_id))
        return
    socketio.emit(event, payload, namespace=CONSOLE, to=team_room(team_id))
    socketio.emit(event, payload, namespace=CONSOLE, to=ALL_ROOM)


class Broadcaster:
    """Messages go out at once, in the committing thread, so they arrive in the order they were
    stored (a conversation's commits are already serialised by the pipeline and row locks).
    Conversation summaries and counters are recomputed in the background, coalesced."""

    def __init__(self, db: Database, jobs: Jobs) -> None:
        self.db = db
        self.jobs = jobs
        self._conversations = Coalescer(jobs, self._push_conversations)
        self._counters = Coalescer(jobs, self._push_counters)

    def __call__(self, evt: Event) -> None:
        if isinstance(evt, BotTyping):
            socketio.emit("typing", {"typing": evt.typing, "sender_type": "bot"},
                          namespace=WEBCHAT_NS, to=contact_room(evt.contact_id))
        elif isinstance(evt, ContactPresenceChanged):
            self.jobs.submit(self._push_presence, evt.contact_id, evt.online)
        elif isinstance(evt, ConversationEvent):
            if isinstance(evt, MessageCreated):
                self._push_message(evt)
            self._conversations.mark(evt.conversation_id)
            if not isinstance(evt, MessageCreated) or evt.human_owned:
                self._counters.mark(evt.team_id)

    def _push_message(self, evt: MessageCreated) -> None:
        with self.db.session() as s:
            row = s.execute(select(Message, Conversation.public_id, Conversation.restricted)
                            .join(Conversation, Conversation.id == Message.conversation_id)
                            .options(selectinload(Message.author))
                            .where(Message.id == evt.message_id)).first()
            if row is None:
                return
            msg, public_id, restricted = row
            named = (named_users(s, [evt.conversation_id]).get(evt.conversation_id, [])
                     if restricted else None)
            _to_console("message", message_json(msg, public_id), evt.team_id, named)
            if msg.private or msg.sender_type == SenderType.CONTACT.value or msg.channel != WEBCHAT:
                return  # other channels send through their connectors' outbox
            socketio.emit("message", customer_message(
                id=msg.id, conversation_id=public_id, sender_type=msg.sender_type, text=msg.text,
                created_at=iso(msg.created_at) or ""), namespace=WEBCHAT_NS, to=contact_room(evt.contact_id))

    def _push_conversations(self, conversation_ids: set[int]) -> None:
        with self.db.session() as s:
            convs = list(s.scalars(select(Conversation).options(
                selectinload(Conversation.contact), selectinload(Conversation.team),
                selectinload(Conversation.assignments).selectinload(Assignment.user))
                .where(Conversation.id.in_(conversation_ids))))
            named = named_users(s, [c.id for c in convs])
            for conv, payload in zip(convs, conversations_json(s, None, convs), strict=True):
                _to_console("conversation", payload, conv.team_id, named.get(conv.id))

    def _push_presence(self, contact_id: int, online: bool) -> None:
        with self.db.session() as s:
            rows = s.execute(select(Conversation.id, Conversation.team_id).where(
                Conversation.contact_id == contact_id, Conversation.status == Status.OPEN.value)).all()
            named = named_users(s, [r[0] for r in rows])
        payload = {"contact_id": contact_id, "online": online}
        team_ids = {team_id for cid, team_id in rows if cid not in named}
        for team_id in team_ids:
            socketio.emit("presence", payload, namespace=CONSOLE, to=team_room(team_id))
        if team_ids or not named:
            socketio.emit("presence", payload, namespace=CONSOLE, to=ALL_ROOM)
        for user_id in {u for users in named.values() for u in users}:
            socketio.emit("presence", payload, namespace=CONSOLE, to=user_room(user_id))

    def _push_counters(self, team_ids: set[int]) -> None:
        with self.db.session() as s:
            seen: set[int] = set()
            for team_id in team_ids:
                for user in users_who_can_see(s, team_id):
                    if user.id in seen:
                        continue
                    seen.add(user.id)
                    socketio.emit("counters", counters(s, user), namespace=CONSOLE,
                                  to=user_room(user.id))
