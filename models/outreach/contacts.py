"""The customer of a conversation an agent starts: one they may see, or one made from a name and a
phone number or email address (an existing contact with that number or address is reused)."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.contacts.identities import access_contact, find_contact
from models.contacts.phone import InvalidNumber, to_e164
from models.errors import Conflict, Forbidden, InvalidInput
from models.schema.accounts import User
from models.schema.contacts import Contact, ContactIdentity

_EMAIL = re.compile(r"^[^@\s<>()\[\],;:\"\\]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,63}$")


def check_email(raw: Any) -> str:
    value = raw.strip() if isinstance(raw, str) else ""
    if len(value) > 254 or not _EMAIL.match(value) or ".." in value:
        raise InvalidInput("email must be an email address, e.g. kim@example.com.", code="bad_email")
    return value


def check_phone(raw: Any) -> str:
    """E.164 (`+14155550123`); short codes and sender names are not customers' numbers."""
    if not isinstance(raw, str) or not raw.strip() or len(raw) > 32:
        raise InvalidInput("phone must be a phone number in international form, e.g. +14155550123.",
                           code="bad_phone")
    try:
        number = to_e164(raw)
    except InvalidNumber:
        number = ""
    if not number.startswith("+"):
        raise InvalidInput("phone must be a phone number in international form, e.g. +14155550123.",
                           code="bad_phone")
    return number


def check_name(raw: Any) -> str:
    name = raw.strip() if isinstance(raw, str) else ""
    if not name:
        raise InvalidInput("contact.name is required.", code="bad_name")
    if len(name) > 200:
        raise InvalidInput("contact.name is at most 200 characters.", code="bad_name")
    return name


def contact_for_start(session: Session, user: User, *, contact_id: int | None, name: Any, phone: Any,
                      email: Any) -> Contact:
    """The contact to write to; a new one is made from `name` with `phone` and/or `email`."""
    if contact_id is not None:
        contact = access_contact(session, user, contact_id)
        if phone is not None:
            set_phone(session, contact, check_phone(phone))
        if email is not None:
            contact.email = check_email(email)
    else:
        clean_name = check_name(name)
        number = check_phone(phone) if phone is not None else None
        address = check_email(email) if email is not None else None
        if number is None and address is None:
            raise InvalidInput("contact needs a phone or an email.", code="no_address")
        contact = _existing(session, number, address) or Contact(name=clean_name)
        if contact.id is None:
            session.add(contact)
            session.flush()
        if number is not None:
            set_phone(session, contact, number)
        if address is not None and not contact.email:
            contact.email = address
    if contact.blocked:
        raise Forbidden("This contact is blocked.", code="blocked")
    return contact


def _existing(session: Session, number: str | None, address: str | None) -> Contact | None:
    if number is not None:
        found = find_contact(session, "sms", number) or find_contact(session, "whatsapp", number) or session.scalar(
            select(Contact).where(Contact.phone == number).order_by(Contact.id).limit(1))
        if found is not None:
            return found
    if address is not None:
        return session.scalar(select(Contact).where(func.lower(Contact.email) == address.lower())
                              .order_by(Contact.id).limit(1))
    return None


def set_phone(session: Session, contact: Contact, number: str) -> None:
    """The contact's number (and its SMS and WhatsApp identities) is `number` from now on; refused when
    another contact is known by it (merging is a separate, deliberate act)."""
    for channel in ("sms", "whatsapp"):
        other = find_contact(session, channel, number)
        if other is not None and other.id != contact.id:
            raise Conflict(f"{number} belongs to another contact ({other.name}); merge the contacts first.",
                           code="number_taken")
    contact.phone = number
    for channel in ("sms", "whatsapp"):
        ident = session.scalar(select(ContactIdentity).where(
            ContactIdentity.contact_id == contact.id, ContactIdentity.channel == channel)
            .order_by(ContactIdentity.id.desc()).limit(1))
        if ident is None:
            session.add(ContactIdentity(contact_id=contact.id, channel=channel, external_id=number))
        else:
            ident.external_id = number
    session.flush()
