"""A user leaves routing for good (deactivated): the chats they hold go back to their teams.

Each open conversation assigned to them loses them as an assignee; one left with nobody goes back to its
team's queue with a fresh place, so routing offers it to someone who can answer. Offers still pending for
them are withdrawn (the conversation waits on and is offered again).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.conversations.assignment import _set_assignees
from models.db import publish_on_commit
from models.events import OfferEnded
from models.routing.locks import lock_conversation
from models.routing.queue import do_requeue
from models.schema.accounts import User
from models.schema.conversations import Assignment, Conversation, Owner, Status
from models.schema.routing import Offer, OfferStatus

REASON = "assignee_deactivated"


def do_release_user(session: Session, actor: User | None, user: User, now: datetime) -> int:
    """Returns how many conversations went back to a queue."""
    held = list(session.scalars(
        select(Conversation.id).join(Assignment, Assignment.conversation_id == Conversation.id)
        .where(Assignment.user_id == user.id, Conversation.status == Status.OPEN.value)
        .order_by(Conversation.id)))
    requeued = 0
    for conversation_id in held:
        conv = lock_conversation(session, conversation_id)
        if conv is None:
            continue
        remaining = [a.user_id for a in conv.assignments if a.user_id != user.id]
        _set_assignees(session, actor, conv, remaining)
        if not remaining and conv.owner == Owner.HUMAN.value:
            do_requeue(session, conv, now, REASON)
            requeued += 1
    for offer in session.scalars(select(Offer).where(Offer.user_id == user.id,
                                                     Offer.status == OfferStatus.PENDING.value)):
        offer.status = OfferStatus.WITHDRAWN.value
        offer.decided_at = now
        conv = session.get(Conversation, offer.conversation_id)
        if conv is not None:
            publish_on_commit(session, OfferEnded(conv.id, conv.team_id, conv.contact_id, offer.id, offer.user_id,
                                                  offer.status))
    return requeued
