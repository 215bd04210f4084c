"""`discussion_watch` on `/console`: a console says which conversation's discussion it shows, so that
supervisors and admins reading a discussion they are no member of hear its new entries live.

`{"conversation_id": "<public id>"}` joins this socket to the reader's `discussion_room` once the
caller may read that discussion (the API's own checks: sees the conversation, and a member or a
supervisor or admin); `{"conversation_id": null}` (the panel closed) leaves it. A socket shows one
discussion at a time: watching another leaves the previous one. The answer is the acknowledgement:
`{"ok": true}` or `{"ok": false, "error": {"code", "message"}}` (404 `no_discussion` alike for "none"
and "not yours"). Members hear entries in their own room anyway (console/realtime/discussions.py).
"""

from __future__ import annotations

from typing import Any

from flask import request
from flask_socketio import join_room, leave_room, rooms

from console.extensions import socketio
from console.realtime.presence import consoles
from console.realtime.rooms import CONSOLE, discussion_room
from console.services import services
from models.conversations.access import access_conversation
from models.discussions.discussions import access_discussion
from models.errors import InvalidInput, NotFound, ParleyError
from models.schema.accounts import User

PREFIX = "discussion:"


@socketio.on("discussion_watch", namespace=CONSOLE)
def console_discussion_watch(data: Any = None) -> dict[str, Any]:
    try:
        public_id = _conversation_id(data)
        user_id = consoles.user_of(request.sid)  # type: ignore[attr-defined]
        for room in rooms():
            if room.startswith(PREFIX):
                leave_room(room)
        if public_id is None:
            return {"ok": True}
        with services().db.session() as s:
            user = s.get(User, user_id) if user_id is not None else None
            if user is None or not user.active:
                raise NotFound("This conversation has no discussion you are part of.", code="no_discussion")
            discussion, _ = access_discussion(s, user, access_conversation(s, user, public_id))
            join_room(discussion_room(discussion.id, user.id))
        return {"ok": True}
    except ParleyError as exc:
        return {"ok": False, "error": {"code": exc.code, "message": exc.message}}


def _conversation_id(data: Any) -> str | None:
    value = data.get("conversation_id") if isinstance(data, dict) else ...
    if value is None or (isinstance(value, str) and 0 < len(value) <= 64):
        return value
    raise InvalidInput('Send {"conversation_id": "<conversation id>"}, or null to stop.', code="invalid_input")
