"""Linking a number to a contact and merging two contacts into one."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from models.audit import audit
from models.contacts.identities import LINKABLE_CHANNELS, find_contact, may_see_contact
from models.contacts.phone import InvalidNumber, to_e164
from models.contacts.presets import merged_presets, presets_of, write_presets
from models.conversations.restrict import restrict_to
from models.conversations.roles import is_supervisor
from models.db import publish_on_commit
from models.errors import Conflict, Forbidden, InvalidInput, InvalidState, NotFound
from models.events import ContactUpdated
from models.routing.locks import serialize
from models.schema.accounts import User
from models.schema.base import utcnow
from models.schema.contacts import BlockedMessage, Contact, ContactIdentity
from models.schema.conversations import Conversation, Status
from models.schema.routing import PresetKind


def check_phone(raw: Any) -> str:
    if not isinstance(raw, str) or not raw.strip().startswith("+"):
        raise InvalidInput("Give the number in international format, e.g. +4915112345678.", code="bad_number")
    try:
        number = to_e164(raw)
    except InvalidNumber as exc:
        raise InvalidInput("That is not a valid phone number.", code="bad_number") from exc
    if not number.startswith("+"):
        raise InvalidInput("That is not a valid phone number.", code="bad_number")
    return number


def do_link_identity(session: Session, actor: User, contact: Contact, channel: str, address: str) -> ContactIdentity:
    """Give a contact an identity on a phone channel (e.g. to follow a webchat customer up on WhatsApp)."""
    if channel not in LINKABLE_CHANNELS:
        raise InvalidInput(f"channel must be one of: {', '.join(LINKABLE_CHANNELS)}.")
    owner = find_contact(session, channel, address)
    if owner is not None:
        if owner.id == contact.id:
            raise Conflict("This contact already has that identity.", code="exists")
        raise Conflict(f"{address} on {channel} belongs to another contact (#{owner.id}); merge the two "
                       "contacts instead.", code="identity_taken")
    identity = ContactIdentity(contact_id=contact.id, channel=channel, external_id=address)
    session.add(identity)
    if not contact.phone:
        contact.phone = address
    session.flush()
    audit(session, "contact.identity_linked", actor=actor, contact_id=contact.id, channel=channel)
    publish_on_commit(session, ContactUpdated(contact.id, "identity_linked"))
    return identity


def do_merge_contacts(session: Session, actor: User, keep: Contact, other: Contact) -> Contact:
    """Fold `other` into `keep`: identities and conversations move over, blank details are filled,
    `other` is deleted. Supervisors and admins only, and only between contacts whose details they
    may see: a merge moves a customer's future conversations, so it is never an agent's act. Refused
    while both have an open conversation (close one first), so a customer never has two open
    conversations. Presets are not lost with `other`: `keep` gets them merged (the strictest
    visibility wins) and its open conversation is restricted accordingly."""
    if not is_supervisor(actor):
        raise Forbidden("Only supervisors and admins merge contacts.")
    for contact in (keep, other):
        if not may_see_contact(session, actor, contact.id):
            raise NotFound("No such contact.")
    if keep.id == other.id:
        raise InvalidInput("A contact cannot be merged with itself.")
    open_counts = {cid: session.scalar(select(Conversation.id).where(
        Conversation.contact_id == cid, Conversation.status == Status.OPEN.value).limit(1))
        for cid in (keep.id, other.id)}
    if open_counts[keep.id] is not None and open_counts[other.id] is not None:
        raise InvalidState("Both contacts have an open conversation; close one of them before merging.",
                           code="both_open")
    presets = merged_presets(presets_of(session, keep.id), presets_of(session, other.id))
    # joined_at: the merged visitor's widget shows only what is said from now on (models/contacts/widget.py)
    session.execute(update(ContactIdentity).where(ContactIdentity.contact_id == other.id)
                    .values(contact_id=keep.id, joined_at=utcnow()))
    session.execute(update(Conversation).where(Conversation.contact_id == other.id).values(contact_id=keep.id))
    session.execute(update(BlockedMessage).where(BlockedMessage.contact_id == other.id).values(contact_id=keep.id))
    for attr in ("email", "phone"):
        if not getattr(keep, attr) and getattr(other, attr):
            setattr(keep, attr, getattr(other, attr))
    if keep.blocked_at is None and other.blocked_at is not None:  # a block is not lost with `other`
        keep.blocked_at, keep.blocked_by, keep.blocked_reason = other.blocked_at, other.blocked_by, other.blocked_reason
    keep.online = keep.online or other.online
    merged_id = other.id
    session.flush()
    write_presets(session, keep.id, presets)
    _restrict_open_conversations(session, actor, keep.id, presets[PresetKind.VISIBLE.value])
    session.expire(other)
    session.delete(other)
    session.flush()
    session.expire(keep)
    audit(session, "contact.merged", actor=actor, contact_id=keep.id, merged_contact_id=merged_id)
    publish_on_commit(session, ContactUpdated(keep.id, "merged"))
    return keep


def _restrict_open_conversations(session: Session, actor: User, contact_id: int, visible: list[int]) -> None:
    """A merged contact with a visibility preset: its open, unrestricted conversation (the one the
    customer writes into next) becomes restricted like a new one would."""
    if not visible:
        return
    serialize(session)
    for conv in session.scalars(select(Conversation).where(
            Conversation.contact_id == contact_id, Conversation.status == Status.OPEN.value,
            Conversation.restricted.is_(False)).with_for_update().execution_options(populate_existing=True)):
        restrict_to(session, actor, conv, visible, utcnow())
