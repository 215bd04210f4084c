"""The end-of-chat rating: 1 to 5 and an optional comment, given by the webchat customer once the
conversation is closed, if its inbox asks for one.

One rating per conversation, and a second one is refused (409 `already_rated`): the figure the agents
report counts is then what the customer said when the chat ended, not whatever they changed it to later.
The rating is credited to the agent assigned when the conversation closed (the first assigned, if
several were): a closed conversation's assignees do not change.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models.db import publish_on_commit
from models.errors import Conflict, Forbidden, InvalidInput, InvalidState, NotFound
from models.events import ConversationRated
from models.feedback.options import feedback_view
from models.schema.base import utcnow
from models.schema.channels import Inbox
from models.schema.contacts import ContactIdentity
from models.schema.conversations import Assignment, Conversation, Status
from models.schema.feedback import ConversationRating

MAX_COMMENT = 1000


def check_rating(raw: Any) -> tuple[int, str | None]:
    """`{"score": 1..5, "comment": optional text ≤ 1000}`: anything else is refused with a reason."""
    if not isinstance(raw, dict):
        raise InvalidInput('Send {"score": 1-5, "comment": "..."}.', code="invalid")
    score = raw.get("score")
    if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
        raise InvalidInput("The rating is a whole number from 1 to 5.", code="bad_score")
    comment = raw.get("comment")
    if comment is not None and not isinstance(comment, str):
        raise InvalidInput("The comment must be text.", code="bad_comment")
    comment = (comment or "").strip()
    if len(comment) > MAX_COMMENT:
        raise InvalidInput(f"The comment is at most {MAX_COMMENT} characters.", code="bad_comment")
    return score, comment or None


def access_visitor_conversation(session: Session, channel: str, visitor_id: str, public_id: Any) -> Conversation:
    """A conversation of this browser's contact on that channel; any other is 404 (no hint it exists)."""
    if not isinstance(public_id, str) or not public_id:
        raise InvalidInput("Say which conversation you rate (conversation_id).", code="invalid")
    conv = session.scalar(select(Conversation).join(
        ContactIdentity, ContactIdentity.contact_id == Conversation.contact_id).where(
        Conversation.public_id == public_id, Conversation.channel == channel,
        ContactIdentity.channel == channel, ContactIdentity.external_id == visitor_id))
    if conv is None:
        raise NotFound("No such conversation.")
    return conv


def rating_enabled(session: Session, conv: Conversation) -> bool:
    inbox = session.get(Inbox, conv.inbox_id) if conv.inbox_id else None
    return inbox is not None and feedback_view(inbox.options)["rating"]


def do_rate(session: Session, conv: Conversation, score: int, comment: str | None) -> ConversationRating:
    """Store the customer's rating of a closed conversation whose inbox asks for one."""
    if not rating_enabled(session, conv):
        raise Forbidden("This chat does not take ratings.", code="rating_off")
    if conv.status != Status.CLOSED.value:
        raise InvalidState("You can rate the chat once it has ended.", code="not_closed")
    if session.scalar(select(ConversationRating.id).where(ConversationRating.conversation_id == conv.id)):
        raise Conflict("You have already rated this chat. Thank you!", code="already_rated")
    agent_id = session.scalar(select(Assignment.user_id).where(Assignment.conversation_id == conv.id)
                              .order_by(Assignment.assigned_at, Assignment.user_id).limit(1))
    rating = ConversationRating(conversation_id=conv.id, score=score, comment=comment, agent_id=agent_id,
                                created_at=utcnow())
    session.add(rating)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:  # the same chat rated twice at once: the other one won
        raise Conflict("You have already rated this chat. Thank you!", code="already_rated") from exc
    publish_on_commit(session, ConversationRated(conv.id, conv.team_id, conv.contact_id, score))
    return rating


def rating_json(rating: ConversationRating | None) -> dict[str, Any] | None:
    if rating is None:
        return None
    return {"score": rating.score, "comment": rating.comment, "agent_id": rating.agent_id,
            "created_at": rating.created_at.isoformat()}


def rating_of(session: Session, conversation_id: int) -> dict[str, Any] | None:
    return rating_json(session.scalar(select(ConversationRating).where(
        ConversationRating.conversation_id == conversation_id)))


def awaiting_rating(session: Session, conv: Conversation) -> bool:
    """Closed, its inbox asks for a rating, and the customer has not given one yet: show the stars."""
    return (conv.status == Status.CLOSED.value and rating_enabled(session, conv)
            and rating_of(session, conv.id) is None)


def ended_notice(session: Session, conversation_id: int) -> dict[str, Any] | None:
    """What a webchat customer is told when their conversation closes: that it ended, and whether they
    may rate it (None: not a webchat conversation, or gone)."""
    conv = session.get(Conversation, conversation_id)
    if conv is None or conv.channel != "webchat" or conv.status != Status.CLOSED.value:
        return None
    return {"conversation_id": conv.public_id, "rating": rating_enabled(session, conv)}
