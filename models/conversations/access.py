"""Fetching a conversation for a user: visible or 404, optionally locked for a change."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.conversations.visibility import can_see
from models.errors import NotFound
from models.schema.accounts import User
from models.schema.conversations import (
    Conversation,
)


def access_conversation(session: Session, user: User, public_id: str, *, lock: bool = False) -> Conversation:
    """The conversation if `user` may see it. Out of reach looks the same as unknown: 404."""
    stmt = select(Conversation).where(Conversation.public_id == public_id)
    if lock:
        stmt = stmt.with_for_update()
    conv = session.scalar(stmt)
    if conv is None or not can_see(user, conv):
        raise NotFound("No such conversation.")
    return conv
