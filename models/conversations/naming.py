"""Naming a conversation: a label agents give it, shown in lists and the header, and searched."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from models.audit import audit
from models.db import publish_on_commit
from models.errors import InvalidInput
from models.events import ConversationRenamed
from models.schema.accounts import User
from models.schema.conversations import Conversation

MAX_NAME = 200


def check_name(raw: Any) -> str | None:
    """At most 200 characters; blank or null clears the name."""
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise InvalidInput("name must be a string or null.", code="bad_name")
    name = " ".join(raw.split())
    if len(name) > MAX_NAME:
        raise InvalidInput(f"The name is too long ({len(name)} characters; at most {MAX_NAME}).", code="bad_name")
    return name or None


def do_name_conversation(session: Session, actor: User, conv: Conversation, name: str | None) -> None:
    """Anybody who can see the conversation (the caller fetched it through `access_conversation`) names it."""
    if conv.name == name:
        return
    conv.name = name
    session.flush()
    audit(session, "conversation.renamed", actor=actor, conversation=conv, name=name)
    publish_on_commit(session, ConversationRenamed(conv.id, conv.team_id, conv.contact_id, name))
