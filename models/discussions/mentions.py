"""@mentions in private notes and discussion entries.

The handle rule: `@` followed by the local part of the user's email address, case-insensitive
(`@ada` for ada@example.com; `@ada.lovelace` for ada.lovelace@example.com). Every active user whose
address has that local part is mentioned — only if they can see the conversation (anyone else is
ignored, never told), and, in a discussion, only if they are one of its members. Mentioning yourself
does nothing. The console's composers offer the handles of who can be mentioned.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from models.conversations.visibility import can_see, visible_clause
from models.db import publish_on_commit
from models.errors import NotFound
from models.events import MentionCreated
from models.schema.accounts import User
from models.schema.base import utcnow
from models.schema.conversations import Conversation, Message
from models.schema.discussions import DiscussionEntry, Mention, MentionSource

HANDLE = re.compile(r"(?<![\w.@+-])@([A-Za-z0-9][A-Za-z0-9._+-]{0,63})")
LIST_LIMIT = 100
EXCERPT = 200


def handle_of(user: User) -> str:
    return user.email.split("@", 1)[0].lower()


def handles(text: str) -> set[str]:
    """The handles written in `text` (a trailing full stop is punctuation, not part of it)."""
    return {m.group(1).rstrip(".").lower() for m in HANDLE.finditer(text)} - {""}


def _like(handle: str) -> str:
    return handle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "@%"


def do_mention(session: Session, author: User, conv: Conversation, text: str, source: str, source_id: int, *,
               among: Collection[int] | None = None) -> list[Mention]:
    """Mentions of the users `text` names. No `@` handle in it: no query at all."""
    wanted = handles(text)
    if not wanted:
        return []
    users = session.scalars(select(User).options(selectinload(User.memberships)).where(
        User.active.is_(True), User.id != author.id,
        or_(*(func.lower(User.email).like(_like(h), escape="\\") for h in sorted(wanted)))).order_by(User.id))
    now = utcnow()
    made = []
    for user in users:
        if handle_of(user) not in wanted or (among is not None and user.id not in among) or not can_see(user, conv):
            continue
        m = Mention(user_id=user.id, conversation_id=conv.id, source=source, source_id=source_id,
                    author_id=author.id, created_at=now)
        session.add(m)
        made.append(m)
    if made:
        session.flush()
        for m in made:
            publish_on_commit(session, MentionCreated(conv.id, conv.team_id, conv.contact_id, m.id, m.user_id))
    return made


def do_note_mentions(session: Session, author: User, conv: Conversation, note: Message) -> list[Mention]:
    return do_mention(session, author, conv, note.text or "", MentionSource.NOTE.value, note.id)


def _excerpts(session: Session, mentions: list[Mention]) -> dict[tuple[str, int], str]:
    notes = [m.source_id for m in mentions if m.source == MentionSource.NOTE.value]
    entries = [m.source_id for m in mentions if m.source == MentionSource.DISCUSSION.value]
    out: dict[tuple[str, int], str] = {}
    if notes:
        for mid, text in session.execute(select(Message.id, Message.text).where(Message.id.in_(notes))):
            out[(MentionSource.NOTE.value, mid)] = (text or "")[:EXCERPT]
    if entries:
        for eid, text in session.execute(select(DiscussionEntry.id, DiscussionEntry.text)
                                         .where(DiscussionEntry.id.in_(entries))):
            out[(MentionSource.DISCUSSION.value, eid)] = text[:EXCERPT]
    return out


def mention_json(m: Mention, public_id: str, author: User | None, excerpt: str) -> dict[str, Any]:
    return {"id": m.id, "conversation_id": public_id, "source": m.source, "source_id": m.source_id,
            "author": {"id": author.id, "name": author.name} if author else None, "text": excerpt,
            "created_at": m.created_at.isoformat(), "read_at": m.read_at.isoformat() if m.read_at else None}


def mentions_of(session: Session, user: User, mention_ids: Collection[int] | None = None) -> list[dict[str, Any]]:
    """The user's mentions in conversations they still see: unread first, newest first within each."""
    stmt = (select(Mention, Conversation.public_id).join(Conversation, Conversation.id == Mention.conversation_id)
            .where(Mention.user_id == user.id, visible_clause(user))
            .order_by(Mention.read_at.is_not(None), Mention.id.desc()).limit(LIST_LIMIT))
    if mention_ids is not None:
        stmt = stmt.where(Mention.id.in_(list(mention_ids)))
    rows = session.execute(stmt).all()
    mentions = [m for m, _ in rows]
    authors = {u.id: u for u in session.scalars(select(User).where(
        User.id.in_({m.author_id for m in mentions if m.author_id is not None})))} if mentions else {}
    texts = _excerpts(session, mentions)
    return [mention_json(m, pid, authors.get(m.author_id) if m.author_id else None,
                         texts.get((m.source, m.source_id), "")) for m, pid in rows]


def unread_count(session: Session, user: User) -> int:
    return session.scalar(select(func.count(Mention.id)).join(Conversation, Conversation.id == Mention.conversation_id)
                          .where(Mention.user_id == user.id, Mention.read_at.is_(None), visible_clause(user))) or 0


def do_mark_mention_read(session: Session, user: User, mention_id: int) -> Mention:
    m = session.get(Mention, mention_id)
    conv = session.get(Conversation, m.conversation_id) if m is not None and m.user_id == user.id else None
    if m is None or conv is None or not can_see(user, conv):
        raise NotFound("No such mention.")
    if m.read_at is None:
        m.read_at = utcnow()
    return m
