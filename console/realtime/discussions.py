"""What the realtime listener pushes for internal discussions and @mentions (it does the emitting)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from console.realtime.payloads import brief
from console.realtime.rooms import discussion_room, user_room
from models.conversations.visibility import can_see
from models.discussions.discussions import entry_json, may_read, users_by_id
from models.discussions.mentions import mentions_of
from models.events import DiscussionEntryPosted
from models.schema.accounts import Role, User
from models.schema.conversations import Conversation
from models.schema.discussions import DiscussionEntry, DiscussionMember

SEES_ALL_ROLES = (Role.ADMIN.value, Role.SUPERVISOR.value)


def entry_push(session: Session, evt: DiscussionEntryPosted) -> tuple[list[str], dict[str, Any]] | None:
    """`discussion_entry` to everyone who may (still) read the discussion: its members in their own rooms
    (the Discussion button shows a dot when the panel is closed), and the supervisors and admins who are
    not members in the room of their consoles that have the discussion open (`discussion_room`). Who may
    read is `may_read` and the visibility rule, checked now: nobody hears more than the API would show."""
    entry = session.get(DiscussionEntry, evt.entry_id)
    conv = session.get(Conversation, evt.conversation_id)
    if entry is None or conv is None:
        return None
    members = set(session.scalars(select(DiscussionMember.user_id)
                                  .where(DiscussionMember.discussion_id == evt.discussion_id)))
    readers = session.scalars(select(User).options(selectinload(User.memberships)).where(
        User.active.is_(True), or_(User.id.in_(members), User.role.in_(SEES_ALL_ROLES))).order_by(User.id))
    rooms = [user_room(u.id) if u.id in members else discussion_room(evt.discussion_id, u.id)
             for u in readers if may_read(u, members) and can_see(u, conv)]
    return rooms, {"conversation_id": conv.public_id,
                   "entry": entry_json(entry, users_by_id(session, [entry.author_id]))}


def mention_notice(session: Session, conv: Conversation, user_id: int, mention_id: int) -> dict[str, Any]:
    user = session.get(User, user_id)
    found = mentions_of(session, user, [mention_id]) if user is not None else []
    return {"kind": "mention", "conversation": brief(conv), "mention": found[0] if found else None}
