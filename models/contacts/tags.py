"""Contacts' tags: workspace-wide labels (`vip`, `newsletter`) that group contacts, for finding them and
for broadcasts (models/broadcasts/). A tag is stored lower-case and trimmed, so the same word typed
twice is one tag; who may see a contact still decides who sees its tags."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from models.audit import audit
from models.errors import InvalidInput
from models.schema.accounts import User
from models.schema.broadcasts import ContactTag
from models.schema.contacts import Contact

MAX_TAGS = 20
_TAG = re.compile(r"^[\w][\w .:/+-]{0,49}$")


def normalise_tag(raw: Any) -> str:
    """One tag as stored, or a 400 that says what a tag may be."""
    if not isinstance(raw, str):
        raise InvalidInput("A tag is a string.", code="bad_tag")
    tag = " ".join(raw.split()).lower()
    if not _TAG.match(tag):
        raise InvalidInput(f"{raw[:60]!r} is not a tag: 1-50 letters, digits, spaces or . : / + - _ (starting with "
                           "a letter or digit).", code="bad_tag")
    return tag


def check_tags(raw: Sequence[Any]) -> list[str]:
    tags = sorted({normalise_tag(t) for t in raw})
    if len(tags) > MAX_TAGS:
        raise InvalidInput(f"At most {MAX_TAGS} tags per contact.", code="too_many_tags")
    return tags


def tags_of(session: Session, contact_id: int) -> list[str]:
    return list(session.scalars(select(ContactTag.tag).where(ContactTag.contact_id == contact_id)
                                .order_by(ContactTag.tag)))


def do_set_tags(session: Session, user: User, contact: Contact, tags: list[str]) -> list[str]:
    """Replace the contact's tags with `tags` (checked by `check_tags`), audited when they changed."""
    before = tags_of(session, contact.id)
    if before == tags:
        return tags
    session.execute(delete(ContactTag).where(ContactTag.contact_id == contact.id,
                                             ContactTag.tag.not_in(tags)))
    session.add_all(ContactTag(contact_id=contact.id, tag=t) for t in tags if t not in before)
    session.flush()
    audit(session, "contact.tags", actor=user, contact_id=contact.id, added=[t for t in tags if t not in before],
          removed=[t for t in before if t not in tags])
    return tags


def tag_counts(session: Session) -> list[tuple[str, int]]:
    """Every tag in use and how many contacts carry it, most used first."""
    rows = session.execute(select(ContactTag.tag, func.count()).group_by(ContactTag.tag)
                           .order_by(func.count().desc(), ContactTag.tag))
    return [(str(tag), int(n)) for tag, n in rows]


def contact_ids_with_tag(session: Session, tag: str) -> list[int]:
    return list(session.scalars(select(ContactTag.contact_id).where(ContactTag.tag == tag)
                                .order_by(ContactTag.contact_id)))
