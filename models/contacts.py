"""One customer, every channel: identities, linking and merging contacts.

A contact has identities on several channels (a webchat visitor id, an SMS number, a WhatsApp
number). SMS and WhatsApp identities are E.164 numbers, so a number already known on one of them
finds the same contact on the other. Agents link an identity to a contact (to follow up a webchat
customer on WhatsApp) or merge two contacts that turn out to be one person.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from models.actions import audit, can_see, find_contact
from models.errors import Conflict, InvalidInput, InvalidState, NotFound
from models.phone import InvalidNumber, to_e164
from models.schema import Contact, ContactIdentity, Conversation, Status, User

PHONE_CHANNELS = ("sms", "whatsapp")
LINKABLE_CHANNELS = PHONE_CHANNELS


def do_find_or_create_phone_contact(session: Session, channel: str, number: str, name: str | None) -> Contact:
    """The contact of `number` on `channel`; one already known by that number on the other phone
    channel gets this identity added; otherwise a new contact (named after the profile name)."""
    contact = find_contact(session, channel, number)
    if contact is not None:
        if name and contact.name == number:
            contact.name = name[:200]
        return contact
    other = session.scalar(
        select(Contact).join(ContactIdentity)
        .where(ContactIdentity.channel.in_(PHONE_CHANNELS), ContactIdentity.external_id == number)
        .order_by(Contact.id).limit(1))
    if other is None:
        other = session.scalar(select(Contact).where(Contact.phone == number).order_by(Contact.id).limit(1))
    if other is not None:
        other.identities.append(ContactIdentity(channel=channel, external_id=number))
        if not other.phone:
            other.phone = number
        session.flush()
        return other
    contact = Contact(name=(name or number)[:200], phone=number)
    contact.identities.append(ContactIdentity(channel=channel, external_id=number))
    session.add(contact)
    session.flush()
    return contact


def identities_of(session: Session, contact_id: int) -> list[ContactIdentity]:
    return list(session.scalars(select(ContactIdentity).where(ContactIdentity.contact_id == contact_id)
                                .order_by(ContactIdentity.id)))


def address_on(session: Session, contact_id: int, channel: str) -> str | None:
    return session.scalar(select(ContactIdentity.external_id).where(
        ContactIdentity.contact_id == contact_id, ContactIdentity.channel == channel)
        .order_by(ContactIdentity.id.desc()).limit(1))


def access_contact(session: Session, user: User, contact_id: int) -> Contact:
    """A contact the user may see: one with a conversation in a team they see. Else 404."""
    contact = session.get(Contact, contact_id)
    if contact is None:
        raise NotFound("No such contact.")
    if user.sees_all_teams:
        return contact
    convs = session.scalars(select(Conversation).where(Conversation.contact_id == contact_id))
    if not any(can_see(user, c) for c in convs):
        raise NotFound("No such contact.")
    return contact


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
    return identity


def do_merge_contacts(session: Session, actor: User, keep: Contact, other: Contact) -> Contact:
    """Fold `other` into `keep`: identities and conversations move over, blank details are filled,
    `other` is deleted. Refused while both have an open conversation (close one first), so a
    customer never has two open conversations."""
    if keep.id == other.id:
        raise InvalidInput("A contact cannot be merged with itself.")
    open_counts = {cid: session.scalar(select(Conversation.id).where(
        Conversation.contact_id == cid, Conversation.status == Status.OPEN.value).limit(1))
        for cid in (keep.id, other.id)}
    if open_counts[keep.id] is not None and open_counts[other.id] is not None:
        raise InvalidState("Both contacts have an open conversation; close one of them before merging.",
                           code="both_open")
    session.execute(update(ContactIdentity).where(ContactIdentity.contact_id == other.id)
                    .values(contact_id=keep.id))
    session.execute(update(Conversation).where(Conversation.contact_id == other.id).values(contact_id=keep.id))
    for attr in ("email", "phone"):
        if not getattr(keep, attr) and getattr(other, attr):
            setattr(keep, attr, getattr(other, attr))
    keep.blacklisted = keep.blacklisted or other.blacklisted
    keep.online = keep.online or other.online
    merged_id = other.id
    session.flush()
    session.expire(other)
    session.delete(other)
    session.flush()
    session.expire(keep)
    audit(session, "contact.merged", actor=actor, contact_id=keep.id, merged_contact_id=merged_id)
    return keep
