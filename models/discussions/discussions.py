"""A conversation's internal discussion: agents of the conversation talk about it beside it.

Who: a user who can see the conversation starts it and invites others who can see it (visibility is
never widened: someone a restricted conversation is not visible to cannot be invited; see
docs/discussions.md). Members read and write; supervisors and admins who can see the conversation may
read it without being members (they oversee), but write only once invited. Everyone else: 404.
When: writable while the conversation is open; closing it makes it view-only (409 `discussion_closed`),
reopening makes it writable again. System entries (transfers, handoffs, bound records, closing) are
posted by `models/discussions/journal.py`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.conversations.visibility import can_see, check_user_ids
from models.db import publish_on_commit
from models.discussions.mentions import do_mention, handle_of
from models.errors import Conflict, Forbidden, InvalidInput, NotFound
from models.events import DiscussionEntryPosted
from models.schema.accounts import User
from models.schema.base import utcnow
from models.schema.conversations import Conversation, Status
from models.schema.discussions import Discussion, DiscussionEntry, DiscussionMember, EntryKind, MentionSource


def discussion_of(session: Session, conv: Conversation) -> Discussion | None:
    return session.scalar(select(Discussion).where(Discussion.conversation_id == conv.id))


def member_ids(session: Session, discussion: Discussion) -> list[int]:
    return list(session.scalars(select(DiscussionMember.user_id)
                                .where(DiscussionMember.discussion_id == discussion.id)
                                .order_by(DiscussionMember.id)))


def may_read(user: User, members: Collection[int]) -> bool:
    """Who reads a discussion of a conversation `user` sees: its members, and supervisors and admins.
    The API's reads and the live pushes (console/realtime/discussions.py) both ask this."""
    return user.id in members or user.sees_all_teams


def access_discussion(session: Session, user: User, conv: Conversation) -> tuple[Discussion, list[int]]:
    """The discussion of a conversation `user` already sees (models/conversations/access.py), if they may
    read it: a member, or a supervisor or admin. Otherwise, or when there is none: 404."""
    d = discussion_of(session, conv)
    members = member_ids(session, d) if d is not None else []
    if d is None or not may_read(user, members):
        raise NotFound("This conversation has no discussion you are part of.", code="no_discussion")
    return d, members


def check_writable(conv: Conversation) -> None:
    if conv.status != Status.OPEN.value:
        raise Conflict("The conversation is closed: its discussion is view-only. Reopen the conversation to write.",
                       code="discussion_closed")


def check_invitees(session: Session, conv: Conversation, raw: Any) -> list[User]:
    """Active users who can see the conversation; anyone else is refused (inviting never widens who sees it)."""
    ids = check_user_ids(session, raw, "user_ids", allow_null=False) or []
    users = list(session.scalars(select(User).where(User.id.in_(ids)).order_by(User.id))) if ids else []
    blind = [u.id for u in users if not can_see(u, conv)]
    if blind:
        raise InvalidInput(f"These users cannot see this conversation, so they cannot be invited: "
                           f"{', '.join(map(str, blind))}.", code="cannot_see_conversation")
    return users


def do_invite(session: Session, actor: User, conv: Conversation, raw_user_ids: Any) -> Discussion:
    """Start the discussion (the actor is its first member) or invite more people to it (members only).
    Call with the conversation locked (`access_conversation(..., lock=True)`): one discussion per conversation."""
    check_writable(conv)
    d = discussion_of(session, conv)
    now = utcnow()
    if d is None:
        d = Discussion(conversation_id=conv.id, created_by_id=actor.id, created_at=now)
        session.add(d)
        session.flush()
        session.add(DiscussionMember(discussion_id=d.id, user_id=actor.id, invited_by_id=None, created_at=now))
        members: list[int] = [actor.id]
    else:
        members = member_ids(session, d)
        if actor.id not in members:
            raise Conflict("This conversation already has a discussion; ask one of its members to invite you.",
                           code="discussion_exists")
    invitees = [u for u in check_invitees(session, conv, raw_user_ids) if u.id not in members]
    for u in invitees:
        session.add(DiscussionMember(discussion_id=d.id, user_id=u.id, invited_by_id=actor.id, created_at=now))
    session.flush()
    if invitees:
        names = ", ".join(u.name for u in invitees)
        post_system_entry(session, conv, d, f"{actor.name} invited {names}.")
    return d


def do_post_entry(session: Session, actor: User, conv: Conversation, text: str) -> DiscussionEntry:
    """A member's entry. `@handle` of another member notifies them (models/discussions/mentions.py)."""
    check_writable(conv)
    d = discussion_of(session, conv)
    members = member_ids(session, d) if d is not None else []
    if d is None:
        raise NotFound("This conversation has no discussion you are part of.", code="no_discussion")
    if actor.id not in members:
        if not actor.sees_all_teams:
            raise NotFound("This conversation has no discussion you are part of.", code="no_discussion")
        raise Forbidden("Only members write in a discussion; ask a member to invite you.", code="not_a_member")
    entry = _add_entry(session, conv, d, actor.id, EntryKind.TEXT.value, text)
    do_mention(session, actor, conv, text, MentionSource.DISCUSSION.value, entry.id, among=members)
    return entry


def post_system_entry(session: Session, conv: Conversation, discussion: Discussion, text: str) -> DiscussionEntry:
    return _add_entry(session, conv, discussion, None, EntryKind.SYSTEM.value, text)


def do_post_system_entry(session: Session, conv: Conversation, text: str) -> DiscussionEntry | None:
    """A system line in the conversation's discussion, if it has one (one query when it has none)."""
    d = discussion_of(session, conv)
    return post_system_entry(session, conv, d, text) if d is not None else None


def _add_entry(session: Session, conv: Conversation, d: Discussion, author_id: int | None, kind: str,
               text: str) -> DiscussionEntry:
    entry = DiscussionEntry(discussion_id=d.id, author_id=author_id, kind=kind, text=text, created_at=utcnow())
    session.add(entry)
    session.flush()
    publish_on_commit(session, DiscussionEntryPosted(conv.id, conv.team_id, conv.contact_id, d.id, entry.id))
    return entry


def users_by_id(session: Session, ids: Iterable[int | None]) -> dict[int, User]:
    wanted = {i for i in ids if i is not None}
    return {u.id: u for u in session.scalars(select(User).where(User.id.in_(wanted)))} if wanted else {}


def entry_json(entry: DiscussionEntry, authors: dict[int, User]) -> dict[str, Any]:
    author = authors.get(entry.author_id) if entry.author_id is not None else None
    return {"id": entry.id, "kind": entry.kind, "text": entry.text, "created_at": entry.created_at.isoformat(),
            "author": {"id": author.id, "name": author.name} if author else None}


def discussion_json(session: Session, user: User, conv: Conversation, d: Discussion,
                    members: Sequence[int]) -> dict[str, Any]:
    rows = list(session.scalars(select(DiscussionMember).where(DiscussionMember.discussion_id == d.id)
                                .order_by(DiscussionMember.id)))
    entries = list(session.scalars(select(DiscussionEntry).where(DiscussionEntry.discussion_id == d.id)
                                   .order_by(DiscussionEntry.id)))
    people = users_by_id(session, [*members, *(e.author_id for e in entries), *(m.invited_by_id for m in rows)])
    member = user.id in members
    return {
        "conversation_id": conv.public_id,
        "created_at": d.created_at.isoformat(),
        "writable": member and conv.status == Status.OPEN.value,
        "view_only": conv.status != Status.OPEN.value,
        "member": member,
        "members": [{"id": m.user_id, "name": people[m.user_id].name if m.user_id in people else "",
                     "handle": handle_of(people[m.user_id]) if m.user_id in people else "",
                     "invited_by": m.invited_by_id} for m in rows],
        "entries": [entry_json(e, people) for e in entries],
    }

