"""What the realtime listener pushes for internal discussions and @mentions (it does the emitting)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from console.realtime.payloads import brief
from console.realtime.rooms import user_room
from models.conversations.visibility import can_see
from models.discussions.discussions import entry_json, users_by_id
from models.discussions.mentions import mentions_of
from models.events import DiscussionEntryPosted
from models.schema.accounts import User
from models.schema.conversations import Conversation
from models.schema.discussions import DiscussionEntry, DiscussionMember


def entry_push(session: Session, evt: DiscussionEntryPosted) -> tuple[list[str], dict[str, Any]] | None:
    """`discussion_entry` to the own rooms of the members who (still) see the conversation."""
    entry = session.get(DiscussionEntry, evt.entry_id)
    conv = session.get(Conversation, evt.conversation_id)
    if entry is None or conv is None:
        return None
    members = session.scalars(select(User).options(selectinload(User.memberships))
                              .join(DiscussionMember, DiscussionMember.user_id == User.id)
                              .where(DiscussionMember.discussion_id == evt.discussion_id, User.active.is_(True)))
    rooms = [user_room(u.id) for u in members if can_see(u, conv)]
    return rooms, {"conversation_id": conv.public_id,
                   "entry": entry_json(entry, users_by_id(session, [entry.author_id]))}


def mention_notice(session: Session, conv: Conversation, user_id: int, mention_id: int) -> dict[str, Any]:
    user = session.get(User, user_id)
    found = mentions_of(session, user, [mention_id]) if user is not None else []
    return {"kind": "mention", "conversation": brief(conv), "mention": found[0] if found else None}
