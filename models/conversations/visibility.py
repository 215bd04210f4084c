"""Who may see a conversation: one rule, as a Python check and as a SQL condition.

Agents see their teams' conversations; supervisors and admins see every team's. A restricted
conversation (client confidentiality) is seen by the users named for it and by nobody else, whatever
their role; it can therefore be assigned only among them. Per contact, an admin can preset the users
that the contact's future conversations are restricted to (`visible`) and auto-assigned among
(`assign`). Everything that lists, counts, searches, serves or broadcasts a conversation goes
through this module.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, false, or_, select
from sqlalchemy.orm import Session, object_session

from models.errors import InvalidInput
from models.schema.accounts import User
from models.schema.conversations import (
    Conversation,
)
from models.schema.routing import (
    ConversationAccess,
)


def can_see(user: User, conv: Conversation) -> bool:
    if not user.active:
        return False
    if conv.restricted:
        session = object_session(conv)
        return session is not None and session.get(ConversationAccess, (conv.id, user.id)) is not None
    return user.sees_all_teams or conv.team_id in user.team_ids


def visible_clause(user: User) -> ColumnElement[bool]:
    """`can_see` as a condition on `Conversation`, for lists, counters and search."""
    named = exists().where(ConversationAccess.conversation_id == Conversation.id,
                           ConversationAccess.user_id == user.id)
    if user.sees_all_teams:
        by_team: ColumnElement[bool] = Conversation.id.is_not(None)
    else:
        ids = user.team_ids
        by_team = Conversation.team_id.in_(ids) if ids else false()
    return or_(and_(Conversation.restricted.is_(False), by_team), and_(Conversation.restricted.is_(True), named))


def named_users(session: Session, conversation_ids: Sequence[int]) -> dict[int, list[int]]:
    """For each restricted conversation among these, the users it is visible to (others: absent)."""
    if not conversation_ids:
        return {}
    rows = session.execute(
        select(Conversation.id, ConversationAccess.user_id)
        .outerjoin(ConversationAccess, ConversationAccess.conversation_id == Conversation.id)
        .where(Conversation.id.in_(conversation_ids), Conversation.restricted.is_(True))
        .order_by(ConversationAccess.user_id)
    ).all()
    out: dict[int, list[int]] = {}
    for cid, uid in rows:
        users = out.setdefault(cid, [])  # restricted to nobody (every named user deleted): nobody hears it
        if uid is not None:
            users.append(uid)
    return out


def set_named_users(session: Session, conv: Conversation, user_ids: Iterable[int] | None) -> None:
    """Restrict to these users (None lifts the restriction). The caller checks and audits."""
    session.query(ConversationAccess).filter(ConversationAccess.conversation_id == conv.id).delete(
        synchronize_session="evaluate")
    if user_ids is None:
        conv.restricted = False
    else:
        conv.restricted = True
        for uid in dict.fromkeys(user_ids):
            session.add(ConversationAccess(conversation_id=conv.id, user_id=uid))
    session.flush()

def check_user_ids(session: Session, raw: Any, name: str, *, allow_null: bool) -> list[int] | None:
    if raw is None and allow_null:
        return None
    if not isinstance(raw, list) or any(not isinstance(i, int) or isinstance(i, bool) for i in raw):
        raise InvalidInput(f"{name} must be a list of user ids{' or null' if allow_null else ''}.")
    ids = list(dict.fromkeys(raw))
    found = set(session.scalars(select(User.id).where(User.id.in_(ids), User.active.is_(True)))) if ids else set()
    missing = [i for i in ids if i not in found]
    if missing:
        raise InvalidInput(f"Unknown user id(s): {', '.join(map(str, missing))}.", code="unknown_user")
    return ids
