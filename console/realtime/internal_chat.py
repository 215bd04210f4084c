"""What internal chat pushes live, and to whom: the realtime listener (listener.py, the one place that
emits) asks these for `(room, payload)` pairs. Every pair names a participant's own `user:<id>` room,
never a team's or the supervisors' room: a third user never hears a word of it.

`internal_message` on `/console`: `{"message", "chat": {"id", "kind", "other"}, "unread", "unread_total"}`,
each participant with their own unread figures (the author's own message is never unread for them).
`internal_unread` on `/console`: `{"chat_id", "unread", "unread_total", "deleted"}` after a read or a
deletion.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from console.realtime.rooms import user_room
from console.serialize_internal import internal_message_json, person_json
from models.db import Database
from models.events import InternalChatChanged, InternalMessageCreated
from models.internal.chats import unread_by_chat
from models.internal.messages import files_of
from models.schema.accounts import User
from models.schema.internal import InternalChat, InternalMessage

Push = tuple[str, dict[str, Any]]


def message_pushes(db: Database, evt: InternalMessageCreated) -> list[Push]:
    """`internal_message` for each active participant, with their own unread figures."""
    out: list[Push] = []
    with db.session() as s:
        msg = s.get(InternalMessage, evt.message_id)
        chat = s.get(InternalChat, evt.chat_id)
        if msg is None or chat is None:
            return out  # deleted since
        users = {u.id: u for u in s.scalars(select(User).where(User.id.in_(evt.user_ids)))}
        payload = internal_message_json(msg, files_of(s, [msg.id]).get(msg.id, []), users.get(evt.author_id))
        for uid in evt.user_ids:
            me = users.get(uid)
            if me is None or not me.active:
                continue
            other = users.get(chat.user_b_id if chat.user_a_id == uid else chat.user_a_id)
            unread = unread_by_chat(s, me)
            out.append((user_room(uid), {"message": payload, "chat": {"id": chat.id, "kind": chat.kind,
                                                                       "other": person_json(other)},
                                         "unread": unread.get(chat.id, 0), "unread_total": sum(unread.values())}))
    return out


def unread_pushes(db: Database, evt: InternalChatChanged) -> list[Push]:
    """`internal_unread` for each active participant."""
    out: list[Push] = []
    with db.session() as s:
        for user in s.scalars(select(User).where(User.id.in_(evt.user_ids))):
            if not user.active:
                continue
            unread = unread_by_chat(s, user)
            out.append((user_room(user.id), {"chat_id": evt.chat_id, "unread": unread.get(evt.chat_id, 0),
                                             "unread_total": sum(unread.values()), "deleted": evt.deleted}))
    return out
