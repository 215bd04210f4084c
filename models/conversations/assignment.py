"""Who works a conversation: assignees are checked against visibility and set in one place."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.audit import audit
from models.conversations.handoff import first_unanswered_customer_message_at
from models.conversations.roles import check_may_assign
from models.conversations.visibility import can_see
from models.db import publish_on_commit
from models.errors import InvalidInput, InvalidState
from models.events import (
    ConversationAssigned,
)
from models.reports.history import record_assignment_periods
from models.schema.accounts import User
from models.schema.base import utcnow
from models.schema.conversations import (
    Assignment,
    Conversation,
    Owner,
    Phase,
    Status,
)


def _assignee_ids(conv: Conversation) -> list[int]:
    return [a.user_id for a in conv.assignments]


def check_assignees(session: Session, conv: Conversation, user_ids: Iterable[Any]) -> list[User]:
    ids: list[int] = []
    for raw in user_ids:
        if not isinstance(raw, int) or isinstance(raw, bool):
            raise InvalidInput("user_ids must be a list of user ids (integers).")
        if raw not in ids:
            ids.append(raw)
    users = list(session.scalars(select(User).where(User.id.in_(ids)))) if ids else []
    found = {u.id for u in users}
    missing = [i for i in ids if i not in found]
    if missing:
        raise InvalidInput(f"Unknown user id(s): {', '.join(map(str, missing))}.", code="unknown_user")
    for u in users:
        if not can_see(u, conv):
            raise InvalidInput(f"{u.email} is not in this conversation's team.", code="not_in_team")
    return sorted(users, key=lambda u: ids.index(u.id))


def do_assign(session: Session, actor: User, conv: Conversation, user_ids: Iterable[Any]) -> None:
    """Replace the set of assignees (several allowed; empty = unassigned), within the role rules of
    models/conversations/roles.py (agents only take or let go; the caller has locked the row)."""
    if conv.status != Status.OPEN.value:
        raise InvalidState("Reopen the conversation before assigning it.")
    users = check_assignees(session, conv, user_ids)
    check_may_assign(actor, conv, _assignee_ids(conv), [u.id for u in users])
    if users and conv.owner == Owner.BOT.value:
        conv.owner = Owner.HUMAN.value
        conv.handed_off_at = utcnow()
        conv.waiting_since = first_unanswered_customer_message_at(session, conv)
    _set_assignees(session, actor, conv, [u.id for u in users])


def _set_assignees(session: Session, actor: User | None, conv: Conversation, user_ids: list[int], *,
                   flush: bool = True) -> None:
    """`actor` None: routing did it (see models/routing/assign.py, which passes `flush=False` to write a
    batch of conversations in one flush)."""
    before = _assignee_ids(conv)
    wanted = list(dict.fromkeys(user_ids))
    if wanted == before:
        return
    now = utcnow()
    for a in list(conv.assignments):
        if a.user_id not in wanted:
            conv.assignments.remove(a)
    for uid in wanted:
        if uid not in before:
            conv.assignments.append(Assignment(user_id=uid, assigned_by_id=actor.id if actor else None,
                                               assigned_at=now))
    record_assignment_periods(session, conv.id, before, wanted, now)
    if conv.owner == Owner.HUMAN.value:
        conv.phase = Phase.ASSIGNED.value if wanted else Phase.WAITING.value
    conv.last_activity_at = now
    if flush:
        session.flush()
    audit(session, "conversation.assigned", actor=actor, conversation=conv, user_ids=wanted, before=before)
    publish_on_commit(session, ConversationAssigned(conv.id, conv.team_id, conv.contact_id,
                                                    tuple(wanted), tuple(before)))
