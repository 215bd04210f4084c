"""The audit log: one append-only record per change an admin may need to account for."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from models.schema.accounts import AuditEvent, User
from models.schema.conversations import (
    Conversation,
)


def audit(session: Session, kind: str, *, actor: User | None = None,
          conversation: Conversation | None = None, **data: Any) -> None:
    session.add(AuditEvent(kind=kind, actor_user_id=actor.id if actor else None,
                           conversation_id=conversation.id if conversation else None, data=data))
