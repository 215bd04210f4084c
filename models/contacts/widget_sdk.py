"""What a site tells Parley about its visitor through the widget's SDK (`window.Parley`): who they are
(`setUser`, verified by the inbox's identifier hash: models/inboxes/identity.py), facts about them
(`setAttributes`), and the page the conversation started on.

A verified user id is a `webchat_user` identity of a contact. Each browser that proves it is linked to
that contact, and is shown the contact's webchat conversation since the user identity joined it (so a
second browser resumes the history), which models/contacts/widget.py reads from the browser identity's
`joined_at`. Nothing here matches by email or phone: only a signed id claims a contact.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.contacts.identities import find_contact
from models.db import publish_on_commit
from models.errors import InvalidInput, TooLong
from models.events import ContactUpdated
from models.inboxes.identity import check_identifier_hash
from models.schema.channels import Inbox
from models.schema.contacts import Contact, ContactIdentity
from models.schema.conversations import Conversation, Status

WEBCHAT = "webchat"
USER = "webchat_user"  # the site's own user id, verified
MAX_ATTRIBUTES = 50
MAX_ATTRIBUTES_BYTES = 4096
MAX_VALUE_CHARS = 500
MAX_URL = 2000
_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,39}$")
_EMAIL = re.compile(r"^[^@\s<>]{1,64}@[^@\s<>]{1,189}\.[^@\s<>]{1,63}$")
_PHONE = re.compile(r"^\+?[0-9 ()./-]{3,31}$")


def check_user_id(raw: object) -> str:
    if isinstance(raw, int) and not isinstance(raw, bool):
        raw = str(raw)
    if not isinstance(raw, str) or not raw.strip() or len(raw.strip()) > 200 or not raw.strip().isprintable():
        raise InvalidInput("setUser needs the user's id: text of 1 to 200 characters.", code="invalid_user_id")
    return raw.strip()


def check_profile(raw: object) -> dict[str, str]:
    """name, email, phone from setUser's second argument (each optional, each checked)."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise InvalidInput("setUser's second argument is {name, email, phone}.", code="invalid_profile")
    unknown = set(raw) - {"name", "email", "phone"}
    if unknown:
        raise InvalidInput(f"setUser does not take {', '.join(sorted(unknown))}: use setAttributes.",
                           code="invalid_profile")
    out: dict[str, str] = {}
    for field, limit, pattern in (("name", 200, None), ("email", 254, _EMAIL), ("phone", 32, _PHONE)):
        value = raw.get(field)
        if value is None or value == "":
            continue
        if not isinstance(value, str) or len(value.strip()) > limit or not value.strip().isprintable() \
                or (pattern is not None and not pattern.match(value.strip())):
            raise InvalidInput(f"{field} is not a valid {field} (at most {limit} characters).",
                               code="invalid_profile")
        out[field] = value.strip()
    return out


def check_attributes(raw: object) -> dict[str, str | int | float | bool | None]:
    """A flat object: keys like `plan` or `account.id`, values text, numbers, true/false, or null (which
    removes the key). Bounded, so a page cannot fill the database or the bot's prompt."""
    if not isinstance(raw, dict) or not raw:
        raise InvalidInput("setAttributes takes a non-empty object of {name: value}.", code="invalid_attributes")
    if len(raw) > MAX_ATTRIBUTES:
        raise TooLong(f"At most {MAX_ATTRIBUTES} attributes.", code="invalid_attributes")
    out: dict[str, str | int | float | bool | None] = {}
    for key, value in raw.items():
        if not isinstance(key, str) or not _KEY.match(key):
            raise InvalidInput("An attribute's name is a letter then up to 39 letters, digits, _ . or -.",
                               code="invalid_attributes")
        if isinstance(value, str):
            if len(value) > MAX_VALUE_CHARS:
                raise TooLong(f"{key}: at most {MAX_VALUE_CHARS} characters.", code="invalid_attributes")
        elif isinstance(value, float) and not math.isfinite(value):
            raise InvalidInput(f"{key}: not a finite number.", code="invalid_attributes")
        elif value is not None and not isinstance(value, (bool, int, float)):
            raise InvalidInput(f"{key}: values are text, numbers, true/false or null (no objects or lists).",
                               code="invalid_attributes")
        out[key] = value
    return out


def _merged(current: dict[str, Any] | None, change: dict[str, Any]) -> dict[str, Any]:
    merged = dict(current or {})
    for key, value in change.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    if len(merged) > MAX_ATTRIBUTES or len(json.dumps(merged)) > MAX_ATTRIBUTES_BYTES:
        raise TooLong(f"A contact keeps at most {MAX_ATTRIBUTES} attributes, {MAX_ATTRIBUTES_BYTES} bytes in all.",
                      code="invalid_attributes")
    return merged


def check_page(raw: object) -> tuple[str | None, str | None]:
    """The page URL and referrer the widget reports: http(s) only, cut to the column's size."""
    if not isinstance(raw, dict):
        return None, None
    return _url(raw.get("url")), _url(raw.get("referrer"))


def _url(value: object) -> str | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        scheme = urlsplit(value).scheme
    except ValueError:
        return None
    return value[:MAX_URL] if scheme in ("http", "https") else None


def do_record_page(conv: Conversation, contact: Contact, page: tuple[str | None, str | None]) -> None:
    """A conversation that has just started: where the customer was, and the site's attributes then."""
    conv.page_url, conv.referrer = page
    if contact.custom_attributes:
        conv.custom_attributes = dict(contact.custom_attributes)


def do_set_attributes(session: Session, contact: Contact, change: dict[str, Any]) -> dict[str, Any]:
    """Onto the contact and its open conversation (which the bot reads without another query)."""
    contact.custom_attributes = _merged(contact.custom_attributes, change)
    conv = _open_conversation(session, contact)
    if conv is not None:
        conv.custom_attributes = dict(contact.custom_attributes)
    publish_on_commit(session, ContactUpdated(contact.id, "attributes"))
    return contact.custom_attributes


def _open_conversation(session: Session, contact: Contact) -> Conversation | None:
    return session.scalar(select(Conversation).where(
        Conversation.contact_id == contact.id, Conversation.status == Status.OPEN.value)
        .order_by(Conversation.id.desc()).limit(1))


def _identity(session: Session, channel: str, external_id: str) -> ContactIdentity | None:
    return session.scalar(select(ContactIdentity).where(
        ContactIdentity.channel == channel, ContactIdentity.external_id == external_id))


def do_identify(session: Session, inbox: Inbox | None, visitor_id: str, user_id: str,
                profile: dict[str, str], given_hash: object) -> Contact:
    """Link this browser to the contact of a verified user id (made now if the id is new: this browser's
    own contact, if it has one, becomes that user's). Refused, with nothing written, unless the hash is
    the inbox's signature of the id."""
    check_identifier_hash(inbox, user_id, given_hash)
    user = _identity(session, USER, user_id)
    browser = _identity(session, WEBCHAT, visitor_id)
    if user is None:
        # This browser's anonymous contact becomes the user's; not one another user already signed in as.
        reuse = browser is not None and not any(i.channel == USER for i in browser.contact.identities)
        contact = browser.contact if browser is not None and reuse else Contact(
            name=profile.get("name") or user_id[:200])
        if not reuse:
            session.add(contact)
        user = ContactIdentity(channel=USER, external_id=user_id)
        if browser is not None and reuse:  # what this browser said before signing in stays in its history
            user.joined_at = browser.joined_at
        contact.identities.append(user)
        session.flush()
    contact = user.contact
    if browser is None:
        browser = ContactIdentity(channel=WEBCHAT, external_id=visitor_id, joined_at=user.joined_at)
        contact.identities.append(browser)
    elif browser.contact_id != contact.id:  # this browser chatted anonymously before: it moves over
        browser.contact = contact
        browser.joined_at = user.joined_at
    elif browser.joined_at > user.joined_at:
        browser.joined_at = user.joined_at
    for field, value in profile.items():
        setattr(contact, field, value)
    session.flush()
    publish_on_commit(session, ContactUpdated(contact.id, "identified"))
    return contact


def contact_of_visitor(session: Session, visitor_id: str) -> Contact | None:
    return find_contact(session, WEBCHAT, visitor_id)
