"""Editing a contact's name, email and phone number (audited: which fields, by whom; not the values,
so an erased contact leaves no detail behind in the audit log)."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy.orm import Session

from models.audit import audit
from models.contacts.identities import may_see_contact
from models.contacts.merge import check_phone
from models.errors import InvalidInput, NotFound
from models.schema.accounts import User
from models.schema.contacts import Contact

FIELDS = ("name", "email", "phone")
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]{1,189}\.[^@\s.]{2,63}")


def check_contact_changes(raw: dict[str, Any]) -> dict[str, str | None]:
    """The changes asked for, checked: a name of 1 to 200 characters; an email (≤ 254) or null; a number in
    international format or null."""
    unknown = sorted(set(raw) - set(FIELDS))
    if unknown:
        raise InvalidInput(f"Unknown field(s): {', '.join(unknown)}.")
    out: dict[str, str | None] = {}
    if "name" in raw:
        name = raw["name"]
        if not isinstance(name, str) or not name.strip():
            raise InvalidInput("name must be a non-empty string.", code="bad_name")
        if len(name.strip()) > 200:
            raise InvalidInput("name is at most 200 characters.", code="bad_name")
        out["name"] = name.strip()
    if "email" in raw:
        email = raw["email"]
        if email is not None and not isinstance(email, str):
            raise InvalidInput("email must be a string or null.", code="bad_email")
        email = (email or "").strip()
        if email and (len(email) > 254 or not _EMAIL.fullmatch(email)):
            raise InvalidInput("That is not an email address.", code="bad_email")
        out["email"] = email or None
    if "phone" in raw:
        phone = raw["phone"]
        if phone is not None and not isinstance(phone, str):
            raise InvalidInput("phone must be a string or null.", code="bad_number")
        out["phone"] = check_phone(phone) if phone and phone.strip() else None
    return out


def do_update_contact(session: Session, actor: User, contact: Contact, changes: dict[str, str | None]) -> list[str]:
    """Apply checked changes; anybody who may see the contact may correct its details. Returns the
    fields that changed."""
    if not may_see_contact(session, actor, contact.id):
        raise NotFound("No such contact.")
    changed = [f for f, v in changes.items() if getattr(contact, f) != v]
    for field in changed:
        setattr(contact, field, changes[field])
    if changed:
        session.flush()
        audit(session, "contact.edited", actor=actor, contact_id=contact.id, fields=changed)
    return changed
