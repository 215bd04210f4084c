"""Restricting a conversation to named users (client confidentiality), by its assignees, supervisors and admins."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.audit import audit
from models.conversations.assignment import _set_assignees
from models.conversations.visibility import can_see, check_user_ids, set_named_users
from models.db import publish_on_commit
from models.errors import Forbidden, InvalidInput, NotFound
from models.events import (
    ConversationRestricted,
)
from models.routing.assign import withdraw_offers
from models.routing.locks import serialize
from models.schema.accounts import User
from models.schema.conversations import (
    Conversation,
    Phase,
)
from models.schema.routing import (
    Offer,
    OfferStatus,
    Transfer,
    TransferStatus,
)


def do_restrict(session: Session, actor: User, public_id: str, raw_user_ids: Any, now: datetime) -> list[int] | None:
    """Restrict a conversation to named users (None lifts it). Admins may always; supervisors and the
    conversation's assignees if they can see it. Assignees, offers and transfer requests outside the
    named users are undone."""
    serialize(session)
    conv = session.scalar(select(Conversation).where(Conversation.public_id == public_id)
                          .with_for_update().execution_options(populate_existing=True))
    if conv is None or (actor.role != "admin" and not can_see(actor, conv)):
        raise NotFound("No such conversation.")
    if not may_restrict(actor, conv):
        raise Forbidden("Only the conversation's assignees, supervisors and admins restrict who sees it.")
    user_ids = check_user_ids(session, raw_user_ids, "user_ids", allow_null=True)
    if user_ids is not None and not user_ids:
        raise InvalidInput("Name at least one user, or send null to lift the restriction.")
    restrict_to(session, actor, conv, user_ids, now)
    return user_ids


def may_restrict(actor: User, conv: Conversation) -> bool:
    """Assignees, supervisors and admins (who must also be able to see it, checked by the caller)."""
    return actor.role in ("admin", "supervisor") or any(a.user_id == actor.id for a in conv.assignments)


def restrict_to(session: Session, actor: User, conv: Conversation, user_ids: list[int] | None,
                now: datetime) -> None:
    """Restrict a locked conversation to these (checked) users and undo what reaches anybody else;
    the caller decided the actor may. Used by `do_restrict` and by a merge that brings a preset."""
    set_named_users(session, conv, user_ids)
    if user_ids is not None:
        allowed = set(user_ids)
        keep = [a.user_id for a in conv.assignments if a.user_id in allowed]
        if len(keep) != len(conv.assignments):
            _set_assignees(session, actor, conv, keep)
        for offer in session.scalars(select(Offer).where(Offer.conversation_id == conv.id,
                                                         Offer.status == OfferStatus.PENDING.value)):
            if offer.user_id not in allowed:
                withdraw_offers(session, conv, now)
                if conv.phase == Phase.ASSIGNING.value:
                    conv.phase = Phase.WAITING.value
        for t in session.scalars(select(Transfer).where(Transfer.conversation_id == conv.id,
                                                        Transfer.status == TransferStatus.PENDING.value)):
            if t.to_user_id not in allowed:
                t.status = TransferStatus.CANCELLED.value
                t.decided_at = now
                if conv.phase == Phase.TRANSFERRING.value:
                    conv.phase = Phase.ASSIGNED.value if conv.assignments else Phase.WAITING.value
    audit(session, "conversation.visibility", actor=actor, conversation=conv, user_ids=user_ids)
    publish_on_commit(session, ConversationRestricted(conv.id, conv.team_id, conv.contact_id,
                                                      tuple(user_ids or ()), user_ids is not None))
