"""Finding contacts by a channel address, and the addresses a contact has."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.conversations.visibility import can_see
from models.errors import NotFound
from models.schema.accounts import User
from models.schema.contacts import Contact, ContactIdentity
from models.schema.conversations import (
    Conversation,
)
from models.schema.routing import ContactPreset, ConversationAccess, PresetKind


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


PHONE_CHANNELS = ("sms", "whatsapp")


LINKABLE_CHANNELS = PHONE_CHANNELS


def do_find_or_create_phone_contact(session: Session, channel: str, number: str, name: str | None, *,
                                    known: Contact | None = None, looked_up: bool = False) -> tuple[Contact, bool]:
    """The contact of `number` on `channel`, and whether it was created here; one already known by that
    number on the other phone channel gets this identity added; otherwise a new contact (named after
    the profile name), which has no conversation and no presets yet.
    `known`: what `find_contact(session, channel, number)` returned in this transaction, if looked up
    (`looked_up`: None then means nobody, and a first message is not looked up twice)."""
    contact = known if known is not None or looked_up else find_contact(session, channel, number)
    if contact is not None:
        if name and contact.name == number:
            contact.name = name[:200]
        return contact, False
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
        return other, False
    contact = Contact(name=(name or number)[:200], phone=number)
    contact.identities.append(ContactIdentity(channel=channel, external_id=number))
    session.add(contact)
    session.flush()
    return contact, True


def identities_of(session: Session, contact_id: int) -> list[ContactIdentity]:
    return list(session.scalars(select(ContactIdentity).where(ContactIdentity.contact_id == contact_id)
                                .order_by(ContactIdentity.id)))


def address_on(session: Session, contact_id: int, channel: str) -> str | None:
    return session.scalar(select(ContactIdentity.external_id).where(
        ContactIdentity.contact_id == contact_id, ContactIdentity.channel == channel)
        .order_by(ContactIdentity.id.desc()).limit(1))


def confidential_audience(session: Session, contact_id: int) -> set[int] | None:
    """Who may see a confidential contact's details; None when the contact is not confidential.

    A contact is confidential once an admin gave it a visibility preset or one of its conversations
    is restricted. Its name, email, number, identities and journey then say as much as the restricted
    conversation itself, so they go to the same people: those its preset or its restricted
    conversations name, whatever their role (a supervisor does not get around it, as with the
    conversation)."""
    preset = set(session.scalars(select(ContactPreset.user_id).where(
        ContactPreset.contact_id == contact_id, ContactPreset.kind == PresetKind.VISIBLE.value)))
    restricted = select(Conversation.id).where(Conversation.contact_id == contact_id,
                                               Conversation.restricted.is_(True))
    if not preset and session.scalar(restricted.limit(1)) is None:
        return None
    named = set(session.scalars(select(ConversationAccess.user_id).where(
        ConversationAccess.conversation_id.in_(restricted))))
    return preset | named


def may_see_contact(session: Session, user: User, contact_id: int) -> bool:
    """Details of a contact: for a confidential one its audience only; otherwise supervisors and
    admins, and agents who can see one of its conversations."""
    if not user.active:
        return False
    audience = confidential_audience(session, contact_id)
    if audience is not None:
        return user.id in audience
    if user.sees_all_teams:
        return True
    convs = session.scalars(select(Conversation).where(Conversation.contact_id == contact_id))
    return any(can_see(user, c) for c in convs)


def access_contact(session: Session, user: User, contact_id: int) -> Contact:
    """A contact whose details the user may see (`may_see_contact`). Else 404, as unknown."""
    contact = session.get(Contact, contact_id)
    if contact is None or not may_see_contact(session, user, contact_id):
        raise NotFound("No such contact.")
    return contact
