"""Blocking a contact, org-wide, and what becomes of a blocked contact's messages.

A blocked contact's new messages, on any channel, are kept as `BlockedMessage`s: stored once (idempotent
on the provider's id, so a webhook retried is acknowledged and not stored twice), readable by admins,
in no conversation, so they start none and reach no bot or agent. What was said before stays.
Blocking does not close the contact's open conversation: the agent is asked to end it (the API answers
which one is open), so a goodbye can still be sent.

Who: anybody who may see the contact blocks it (an agent from a conversation they can see, as Chatwoot
and Intercom let agents do); lifting a block is a supervisor's or an admin's act.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.audit import audit
from models.contacts.identities import may_see_contact
from models.conversations.ingest import open_conversation_of
from models.conversations.roles import is_supervisor
from models.db import publish_on_commit
from models.errors import Forbidden, InvalidInput, InvalidState, NotFound
from models.events import ContactBlockChanged
from models.schema.accounts import User
from models.schema.base import utcnow
from models.schema.contacts import BlockedMessage, Contact
from models.schema.conversations import Conversation, Message

MAX_REASON = 250


def check_reason(raw: Any) -> str | None:
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise InvalidInput("reason must be a string or null.")
    reason = raw.strip()
    if len(reason) > MAX_REASON:
        raise InvalidInput(f"The reason is too long ({len(reason)} characters; at most {MAX_REASON}).",
                           code="reason_too_long")
    return reason or None


def do_block(session: Session, actor: User, contact: Contact, reason: str | None) -> Conversation | None:
    """Block the contact (the reason already checked); the open conversation, if any, is returned so the
    caller can ask the agent to end it. Blocking a blocked contact again only updates the reason."""
    if not may_see_contact(session, actor, contact.id):
        raise NotFound("No such contact.")
    if contact.blocked_at is None:
        contact.blocked_at = utcnow()
        contact.blocked_by = actor.id
    contact.blocked_reason = reason
    conv = open_conversation_of(session, contact)
    session.flush()
    audit(session, "contact.blocked", actor=actor, conversation=conv, contact_id=contact.id, reason=reason)
    publish_on_commit(session, ContactBlockChanged(contact.id, True))
    return conv


def do_unblock(session: Session, actor: User, contact: Contact) -> None:
    if not is_supervisor(actor):
        raise Forbidden("Only supervisors and admins lift a block.")
    if not may_see_contact(session, actor, contact.id):
        raise NotFound("No such contact.")
    if contact.blocked_at is None:
        raise InvalidState("This contact is not blocked.", code="not_blocked")
    contact.blocked_at = contact.blocked_by = contact.blocked_reason = None
    session.flush()
    audit(session, "contact.unblocked", actor=actor, contact_id=contact.id)
    publish_on_commit(session, ContactBlockChanged(contact.id, False))


def do_keep_blocked(session: Session, *, contact: Contact, channel: str, text: str,
                    provider_message_id: str | None, media_count: int = 0) -> tuple[BlockedMessage | None, bool]:
    """Keep a blocked contact's message apart: `(row, created)`. A provider id already stored (here,
    or as an ordinary message from before the block) is not stored again (`created` False)."""
    if provider_message_id is not None:
        kept = session.scalar(select(BlockedMessage).where(
            BlockedMessage.channel == channel, BlockedMessage.provider_message_id == provider_message_id))
        if kept is not None:
            return kept, False
        if session.scalar(select(Message.id).where(Message.channel == channel,
                                                   Message.provider_message_id == provider_message_id)) is not None:
            return None, False
    row = BlockedMessage(contact_id=contact.id, channel=channel, provider_message_id=provider_message_id,
                         text=text, media_count=media_count, received_at=utcnow())
    session.add(row)
    session.flush()
    return row, True


def blocked_contacts(session: Session, actor: User) -> list[tuple[Contact, str | None, int]]:
    """Admins: every blocked contact, newest block first, with who blocked it and how many messages it
    sent since."""
    if actor.role != "admin":
        raise Forbidden("Only admins see the blocked contacts.")
    names = {u.id: u.name for u in session.scalars(select(User))}
    out = []
    for c in session.scalars(select(Contact).where(Contact.blocked_at.is_not(None))
                             .order_by(Contact.blocked_at.desc(), Contact.id.desc()).limit(500)):
        if not may_see_contact(session, actor, c.id):
            continue  # confidential to others: not even its name
        count = session.scalar(select(func.count(BlockedMessage.id)).where(BlockedMessage.contact_id == c.id))
        out.append((c, names.get(c.blocked_by) if c.blocked_by else None, count or 0))
    return out


def blocked_messages(session: Session, actor: User, contact_id: int) -> list[BlockedMessage]:
    """Admins: what a blocked contact sent, newest first."""
    if actor.role != "admin":
        raise Forbidden("Only admins read a blocked contact's messages.")
    if session.get(Contact, contact_id) is None or not may_see_contact(session, actor, contact_id):
        raise NotFound("No such contact.")
    return list(session.scalars(select(BlockedMessage).where(BlockedMessage.contact_id == contact_id)
                                .order_by(BlockedMessage.id.desc()).limit(200)))
