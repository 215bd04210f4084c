"""A customer's message arrives: find or create the contact and its open conversation, store the message."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from models.contacts.presets import apply_contact_presets
from models.conversations.messages import _message_created
from models.db import publish_on_commit
from models.errors import Forbidden
from models.events import (
    ContactPresenceChanged,
    ConversationCreated,
)
from models.inboxes.routing import inbox_for_channel
from models.schema.base import utcnow
from models.schema.channels import Inbox
from models.schema.contacts import Contact, ContactIdentity
from models.schema.conversations import (
    Conversation,
    DeliveryStatus,
    Direction,
    Message,
    Owner,
    SenderType,
    Status,
)


def open_conversation_of(session: Session, contact: Contact) -> Conversation | None:
    return session.scalar(
        select(Conversation)
        .where(Conversation.contact_id == contact.id, Conversation.status == Status.OPEN.value)
        .order_by(Conversation.id.desc()).limit(1)
    )


LOOK_UP = object()  # `do_ingest_inbound(open_conversation=...)` not given: look it up


def contact_and_open_conversation(session: Session, channel: str,
                                  external_id: str) -> tuple[Contact | None, Conversation | None]:
    """The contact known by this address and its open conversation, in one query (a customer's
    every message needs both)."""
    row = session.execute(
        select(Contact, Conversation)
        .join(ContactIdentity, ContactIdentity.contact_id == Contact.id)
        .outerjoin(Conversation, and_(Conversation.contact_id == Contact.id,
                                      Conversation.status == Status.OPEN.value))
        .where(ContactIdentity.channel == channel, ContactIdentity.external_id == external_id)
        .order_by(Conversation.id.desc()).limit(1)).first()
    return (row[0], row[1]) if row is not None else (None, None)


@dataclass(frozen=True)
class Ingested:
    conversation: Conversation
    message: Message
    created: bool  # False when this provider message was stored before (a retry or duplicate)


def do_ingest_inbound(session: Session, *, contact: Contact, channel: str, text: str,
                      provider_message_id: str | None = None, inbox: Inbox | None = None,
                      open_conversation: Any = LOOK_UP, via_channel_id: int | None = None,
                      look_for_duplicate: bool = True, new_contact: bool = False) -> Ingested:
    """Store a customer message in the contact's open conversation (a new one if none is open).

    A new conversation lands in `inbox` (the widget's or the number's, found by the caller with
    `models.inboxes.routing`), or else the channel's default inbox, and in that inbox's team queue.

    Idempotent on `(channel, provider_message_id)`. A closed conversation is never reused. A blocked
    contact is refused here whatever the caller: channels keep its messages apart first
    (models/contacts/blocking.py). `open_conversation`: what `open_conversation_of` returned in this
    transaction, when the caller already looked (None: the contact has none open). `via_channel_id`:
    the provider configuration it came through (stored with the message, not updated after it).
    `look_for_duplicate` False: the caller expects a new message and will retry with the look should
    the insert hit the unique `(channel, provider_message_id)` (a query saved on every webchat message).
    `new_contact`: the contact was created in this transaction, so it has no presets to apply (an
    admin sets them on a contact that exists).
    """
    if contact.blocked_at is not None:
        raise Forbidden("This contact is blocked.", code="blocked")
    if provider_message_id is not None and look_for_duplicate:
        existing = session.scalar(select(Message).where(
            Message.channel == channel, Message.provider_message_id == provider_message_id))
        if existing is not None:
            conv = session.get(Conversation, existing.conversation_id)
            assert conv is not None
            return Ingested(conv, existing, created=False)
    conv = open_conversation_of(session, contact) if open_conversation is LOOK_UP else open_conversation
    now = utcnow()
    if conv is None:
        inbox = inbox or inbox_for_channel(session, channel)
        conv = Conversation(contact_id=contact.id, team_id=inbox.team_id, inbox_id=inbox.id, channel=channel,
                            created_at=now, last_activity_at=now)
        session.add(conv)
        session.flush()
        if not new_contact:
            apply_contact_presets(session, conv)
        publish_on_commit(session, ConversationCreated(conv.id, conv.team_id, conv.contact_id))
    msg = Message(conversation_id=conv.id, direction=Direction.IN.value, sender_type=SenderType.CONTACT.value,
                  text=text, channel=channel, provider_message_id=provider_message_id,
                  delivery_status=DeliveryStatus.RECEIVED.value, created_at=now, via_channel_id=via_channel_id)
    session.add(msg)
    conv.last_activity_at = now
    if conv.owner == Owner.HUMAN.value and conv.waiting_since is None:
        conv.waiting_since = now
    session.flush()
    _message_created(session, conv, msg)
    return Ingested(conv, msg, created=True)


def do_set_presence(session: Session, contact: Contact, online: bool) -> None:
    if contact.online == online:
        return
    contact.online = online
    contact.last_seen_at = utcnow()
    publish_on_commit(session, ContactPresenceChanged(contact.id, online))
