"""Row locks for routing changes, in one order (conversation, then user), and SQLite's write lock.

One exception, which cannot deadlock: a routing batch (models/routing/assign.py `route_some`) locks its
team's online agents first, in id order, and only then takes conversations, with SKIP LOCKED: it never
waits for a conversation while it holds an agent.
"""

from __future__ import annotations

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from models.conversations.visibility import can_see
from models.errors import NotFound
from models.schema.accounts import User
from models.schema.conversations import (
    Conversation,
)


def serialize(session: Session) -> None:
    """SQLite: take the write lock now, so what this transaction reads stays true until it commits.

    PostgreSQL needs nothing here: the row locks taken below do the job, per row. A no-op UPDATE is
    the portable way to make pysqlite begin the transaction and SQLite grant the write lock (waiting
    up to its busy timeout for another writer to finish).
    """
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text("UPDATE teams SET name = name WHERE id = -1"))


def lock_conversation(session: Session, conversation_id: int) -> Conversation | None:
    return session.scalar(select(Conversation).where(Conversation.id == conversation_id)
                          .with_for_update().execution_options(populate_existing=True))


def lock_user(session: Session, user_id: int) -> User | None:
    # FOR NO KEY UPDATE: excludes other routers and availability changes, not inserts that merely
    # reference the user (an assignment made by a supervisor meanwhile).
    return session.scalar(select(User).where(User.id == user_id).with_for_update(key_share=True)
                          .execution_options(populate_existing=True))


def access_locked(session: Session, user: User, public_id: str) -> Conversation:
    """The conversation, locked and freshly read, if `user` may see it (else 404, as unknown)."""
    serialize(session)
    conv = session.scalar(select(Conversation).where(Conversation.public_id == public_id)
                          .with_for_update().execution_options(populate_existing=True))
    if conv is None or not can_see(user, conv):
        raise NotFound("No such conversation.")
    return conv
