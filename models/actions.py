"""Every change of conversation state, in one place (Zulip's actions layer).

`check_*` validates input and raises a `ParleyError`; `do_*` writes in the caller's transaction
and queues typed events that are published only after that transaction commits. Nothing here
knows of requests, sockets or URLs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import visibility
from models.db import publish_on_commit
from models.errors import Forbidden, InvalidInput, InvalidState, NotFound, TooLong
from models.events import (
    ContactPresenceChanged,
    ConversationAssigned,
    ConversationCreated,
    ConversationHandedOff,
    ConversationRead,
    ConversationStatusChanged,
    MessageCreated,
)
from models.schema import (
    Assignment,
    AuditEvent,
    Channel,
    Contact,
    ContactIdentity,
    Conversation,
    DeliveryStatus,
    Direction,
    HandoffPacket,
    Message,
    Owner,
    Phase,
    ReadMark,
    SenderType,
    Status,
    Team,
    TeamMember,
    User,
    utcnow,
)

DEFAULT_TEAM_NAME = "Support"


def check_text(text: Any, max_length: int) -> str:
    if not isinstance(text, str):
        raise InvalidInput("The message text must be a string.", code="invalid")
    stripped = text.strip()
    if not stripped:
        raise InvalidInput("The message is empty.", code="empty")
    if len(text) > max_length:
        raise TooLong(f"The message is too long ({len(text)} characters; the limit is {max_length}).")
    return text


def audit(session: Session, kind: str, *, actor: User | None = None,
          conversation: Conversation | None = None, **data: Any) -> None:
    session.add(AuditEvent(kind=kind, actor_user_id=actor.id if actor else None,
                           conversation_id=conversation.id if conversation else None, data=data))


def default_team(session: Session) -> Team:
    team = session.scalar(select(Team).order_by(Team.id).limit(1))
    if team is None:
        team = Team(name=DEFAULT_TEAM_NAME)
        session.add(team)
        session.flush()
    return team


# --- contacts and inbound messages -------------------------------------------------------------


def find_contact(session: Session, channel: str, external_id: str) -> Contact | None:
    return session.scalar(
        select(Contact).join(ContactIdentity)
        .where(ContactIdentity.channel == channel, ContactIdentity.external_id == external_id)
    )


def do_find_or_create_contact(session: Session, channel: str, external_id: str, name: str) -> Contact:
    contact = find_contact(session, channel, external_id)
    if contact is not None:
        return contact
    contact = Contact(name=name)
    contact.identities.append(ContactIdentity(channel=channel, external_id=external_id))
    session.add(contact)
    session.flush()
    return contact


def open_conversation_of(session: Session, contact: Contact) -> Conversation | None:
    return session.scalar(
        select(Conversation)
        .where(Conversation.contact_id == contact.id, Conversation.status == Status.OPEN.value)
        .order_by(Conversation.id.desc()).limit(1)
    )


@dataclass(frozen=True)
class Ingested:
    conversation: Conversation
    message: Message
    created: bool  # False when this provider message was stored before (a retry or duplicate)


def do_ingest_inbound(session: Session, *, contact: Contact, channel: str, text: str,
                      provider_message_id: str | None = None) -> Ingested:
    """Store a customer message in the contact's open conversation (a new one if none is open).

    Idempotent on `(channel, provider_message_id)`. A closed conversation is never reused.
    """
    if contact.blacklisted:
        raise Forbidden("This contact is blocked.", code="blocked")
    if provider_message_id is not None:
        existing = session.scalar(select(Message).where(
            Message.channel == channel, Message.provider_message_id == provider_message_id))
        if existing is not None:
            conv = session.get(Conversation, existing.conversation_id)
            assert conv is not None
            return Ingested(conv, existing, created=False)
    conv = open_conversation_of(session, contact)
    now = utcnow()
    if conv is None:
        conv = Conversation(contact_id=contact.id, team_id=default_team(session).id, channel=channel,
                            created_at=now, last_activity_at=now)
        session.add(conv)
        session.flush()
        visibility.apply_contact_presets(session, conv)
        publish_on_commit(session, ConversationCreated(conv.id, conv.team_id, conv.contact_id))
    msg = Message(conversation_id=conv.id, direction=Direction.IN.value, sender_type=SenderType.CONTACT.value,
                  text=text, channel=channel, provider_message_id=provider_message_id,
                  delivery_status=DeliveryStatus.RECEIVED.value, created_at=now)
    session.add(msg)
    conv.last_activity_at = now
    if conv.owner == Owner.HUMAN.value and conv.waiting_since is None:
        conv.waiting_since = now
    session.flush()
    _message_created(session, conv, msg)
    return Ingested(conv, msg, created=True)


def _message_created(session: Session, conv: Conversation, msg: Message) -> None:
    publish_on_commit(session, MessageCreated(conv.id, conv.team_id, conv.contact_id, msg.id,
                                              msg.sender_type, msg.private, msg.channel,
                                              human_owned=conv.owner == Owner.HUMAN.value))


def _outbound_status(channel: str) -> str:
    """Webchat is delivered by the socket emit right after commit (and by history on reconnect), so it
    is `sent` as stored; other channels wait in the outbox as `queued` until the provider accepts."""
    return (DeliveryStatus.SENT if channel == Channel.WEBCHAT.value else DeliveryStatus.QUEUED).value


def do_set_presence(session: Session, contact: Contact, online: bool) -> None:
    if contact.online == online:
        return
    contact.online = online
    contact.last_seen_at = utcnow()
    publish_on_commit(session, ContactPresenceChanged(contact.id, online))


# --- the bot side ---------------------------------------------------------------------------------


def do_send_bot_reply(session: Session, conv: Conversation, text: str, *, intent: str | None,
                      confidence: float | None, decision: str, reason: str | None) -> Message:
    """The bot answers on the channel the customer last wrote from; SMS/WhatsApp go through the outbox."""
    from models.outbox import default_reply_channel, do_enqueue_outbound

    now = utcnow()
    reply_channel = default_reply_channel(session, conv)
    msg = Message(conversation_id=conv.id, direction=Direction.OUT.value, sender_type=SenderType.BOT.value,
                  text=text, channel=reply_channel, delivery_status=_outbound_status(reply_channel),
                  created_at=now, bot_intent=intent, bot_confidence=confidence, bot_decision=decision,
                  bot_reason=reason)
    session.add(msg)
    conv.last_activity_at = now
    session.flush()
    do_enqueue_outbound(session, conv, msg, strict=False)
    _message_created(session, conv, msg)
    return msg


def first_unanswered_customer_message_at(session: Session, conv: Conversation) -> Any:
    """When the oldest customer message that no human agent has answered was sent (None if none)."""
    last_agent = (
        select(func.coalesce(func.max(Message.id), 0))
        .where(Message.conversation_id == conv.id, Message.sender_type == SenderType.AGENT.value,
               Message.private.is_(False))
        .scalar_subquery()
    )
    return session.scalar(
        select(func.min(Message.created_at)).where(
            Message.conversation_id == conv.id, Message.sender_type == SenderType.CONTACT.value,
            Message.id > last_agent)
    )


def do_handoff(session: Session, conv: Conversation, *, reason: str, intent: str | None = None,
               confidence: float | None = None, ranking: Sequence[dict[str, Any]] = (),
               summary: str = "", engine: str | None = None, trigger_message_id: int | None = None,
               actor: User | None = None, stages: Sequence[dict[str, Any]] = ()) -> HandoffPacket:
    """Move a conversation to the human side: queued for its team, the unreplied clock running."""
    if conv.status != Status.OPEN.value:
        raise InvalidState("Only an open conversation can be handed off.")
    now = utcnow()
    packet = HandoffPacket(conversation_id=conv.id, trigger_message_id=trigger_message_id, reason=reason,
                           intent=intent, confidence=confidence, ranking=list(ranking), summary=summary,
                           engine=engine, created_at=now, stages=list(stages))
    session.add(packet)
    conv.owner = Owner.HUMAN.value
    conv.phase = Phase.ASSIGNED.value if conv.assignments else Phase.WAITING.value
    conv.handed_off_at = now
    conv.last_activity_at = now
    conv.waiting_since = first_unanswered_customer_message_at(session, conv) or now
    conv.bot_fallbacks = 0
    audit(session, "conversation.handoff", actor=actor, conversation=conv, reason=reason, intent=intent)
    publish_on_commit(session, ConversationHandedOff(conv.id, conv.team_id, conv.contact_id, reason))
    return packet


# --- the human side -------------------------------------------------------------------------------


def can_see(user: User, conv: Conversation) -> bool:
    return visibility.can_see(user, conv)


def access_conversation(session: Session, user: User, public_id: str, *, lock: bool = False) -> Conversation:
    """The conversation if `user` may see it. Out of reach looks the same as unknown: 404."""
    stmt = select(Conversation).where(Conversation.public_id == public_id)
    if lock:
        stmt = stmt.with_for_update()
    conv = session.scalar(stmt)
    if conv is None or not can_see(user, conv):
        raise NotFound("No such conversation.")
    return conv


def do_agent_message(session: Session, user: User, conv: Conversation, text: str, *,
                     private: bool = False, channel: str | None = None,
                     outbound: dict[str, Any] | None = None) -> Message:
    """An agent's reply (clears unreplied) or private note (does not, and the customer never sees it).

    Replying to a conversation the bot owns takes it over: the bot goes silent and the replier is
    assigned, as in Chatwoot when an agent answers a pending conversation. `channel` is the reply
    channel the agent picked (default: where the customer last wrote from); SMS/WhatsApp replies
    are queued in the outbox in this transaction (`outbound`: e.g. a WhatsApp template), or refused.
    """
    from models.outbox import check_reply_channel, default_reply_channel, do_enqueue_outbound

    if conv.status != Status.OPEN.value and not private:
        raise InvalidState("This conversation is closed; reopen it to reply.")
    reply_channel = check_reply_channel(session, conv, channel) if channel else default_reply_channel(session, conv)
    now = utcnow()
    if not private and conv.owner == Owner.BOT.value:
        conv.owner = Owner.HUMAN.value
        conv.handed_off_at = now
        _set_assignees(session, user, conv, [*_assignee_ids(conv), user.id])
        audit(session, "conversation.taken_over", actor=user, conversation=conv)
    msg = Message(conversation_id=conv.id, direction=Direction.OUT.value,
                  sender_type=SenderType.AGENT.value, author_id=user.id, text=text, private=private,
                  channel=reply_channel,
                  delivery_status=DeliveryStatus.SENT.value if private else _outbound_status(reply_channel),
                  created_at=now)
    session.add(msg)
    if not private:
        conv.waiting_since = None
        conv.last_activity_at = now
    session.flush()
    do_enqueue_outbound(session, conv, msg, payload=outbound)
    _message_created(session, conv, msg)
    _mark_read(session, user, conv, msg.id)
    return msg


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
    """Replace the set of assignees (several allowed; empty = unassigned)."""
    if conv.status != Status.OPEN.value:
        raise InvalidState("Reopen the conversation before assigning it.")
    users = check_assignees(session, conv, user_ids)
    if users and conv.owner == Owner.BOT.value:
        conv.owner = Owner.HUMAN.value
        conv.handed_off_at = utcnow()
        conv.waiting_since = first_unanswered_customer_message_at(session, conv)
    _set_assignees(session, actor, conv, [u.id for u in users])


def _set_assignees(session: Session, actor: User | None, conv: Conversation, user_ids: list[int]) -> None:
    """`actor` None: routing did it (see models/routing.py)."""
    before = _assignee_ids(conv)
    wanted = list(dict.fromkeys(user_ids))
    if wanted == before:
        return
    for a in list(conv.assignments):
        if a.user_id not in wanted:
            conv.assignments.remove(a)
    now = utcnow()
    for uid in wanted:
        if uid not in before:
            conv.assignments.append(Assignment(user_id=uid, assigned_by_id=actor.id if actor else None,
                                               assigned_at=now))
    if conv.owner == Owner.HUMAN.value:
        conv.phase = Phase.ASSIGNED.value if wanted else Phase.WAITING.value
    conv.last_activity_at = now
    session.flush()
    audit(session, "conversation.assigned", actor=actor, conversation=conv, user_ids=wanted, before=before)
    publish_on_commit(session, ConversationAssigned(conv.id, conv.team_id, conv.contact_id,
                                                    tuple(wanted), tuple(before)))


def do_close(session: Session, actor: User | None, conv: Conversation) -> None:
    """`actor` None: the system closed it (a routing timer). An assigned conversation is closed by
    an assignee, a supervisor or an admin; an unassigned one by anybody who can see it."""
    if conv.status == Status.CLOSED.value:
        raise InvalidState("This conversation is already closed.")
    assignees = _assignee_ids(conv)
    if actor is not None and assignees and actor.id not in assignees and not actor.sees_all_teams:
        raise Forbidden("Only an assignee, a supervisor or an admin can close this conversation.")
    now = utcnow()
    conv.status = Status.CLOSED.value
    conv.closed_at = now
    conv.waiting_since = None
    if conv.owner == Owner.HUMAN.value:
        conv.phase = Phase.ENDED.value
    _status_changed(session, actor, conv, "closed")


def do_reopen(session: Session, actor: User, conv: Conversation) -> None:
    if conv.status == Status.OPEN.value:
        raise InvalidState("This conversation is already open.")
    newer = open_conversation_of(session, conv.contact)
    if newer is not None:
        raise InvalidState("This customer already has an open conversation; continue there.",
                           code="has_open_conversation")
    conv.status = Status.OPEN.value
    conv.closed_at = None
    if conv.owner == Owner.HUMAN.value:
        conv.phase = Phase.ASSIGNED.value if conv.assignments else Phase.WAITING.value
        conv.waiting_since = first_unanswered_customer_message_at(session, conv)
    _status_changed(session, actor, conv, "reopened")


def do_return_to_bot(session: Session, actor: User, conv: Conversation) -> None:
    """Give the conversation back to the bot: an explicit act; the bot answers the next message."""
    if conv.status != Status.OPEN.value:
        raise InvalidState("Reopen the conversation before returning it to the bot.")
    if conv.owner == Owner.BOT.value:
        raise InvalidState("The bot already owns this conversation.")
    _set_assignees(session, actor, conv, [])
    conv.owner = Owner.BOT.value
    conv.phase = None
    conv.waiting_since = None
    conv.bot_fallbacks = 0
    # The bot does not answer what was said to the humans; it starts with the next message.
    conv.bot_cursor = session.scalar(
        select(func.coalesce(func.max(Message.id), 0)).where(Message.conversation_id == conv.id)) or 0
    _status_changed(session, actor, conv, "returned_to_bot")


def _status_changed(session: Session, actor: User | None, conv: Conversation, change: str) -> None:
    conv.last_activity_at = utcnow()
    audit(session, f"conversation.{change}", actor=actor, conversation=conv)
    publish_on_commit(session, ConversationStatusChanged(conv.id, conv.team_id, conv.contact_id, change))


def do_mark_read(session: Session, user: User, conv: Conversation) -> None:
    last = session.scalar(
        select(func.coalesce(func.max(Message.id), 0)).where(Message.conversation_id == conv.id)) or 0
    if _mark_read(session, user, conv, last):
        publish_on_commit(session, ConversationRead(conv.id, conv.team_id, conv.contact_id, user.id))


def _mark_read(session: Session, user: User, conv: Conversation, message_id: int) -> bool:
    mark = session.get(ReadMark, (user.id, conv.id))
    if mark is None:
        session.add(ReadMark(user_id=user.id, conversation_id=conv.id, last_read_message_id=message_id))
        return True
    if mark.last_read_message_id >= message_id:
        return False
    mark.last_read_message_id = message_id
    mark.updated_at = utcnow()
    return True


def do_add_member(session: Session, team: Team, user: User) -> None:
    if session.get(TeamMember, (team.id, user.id)) is None:
        session.add(TeamMember(team_id=team.id, user_id=user.id))
        session.flush()
