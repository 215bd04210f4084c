"""Erasing a contact (the right to be forgotten), admins only: every conversation of theirs (with its
messages and files, as a deletion would), their identities, presets and blocked messages, and the contact
itself. One audit record stays, naming no personal detail: who, when, the contact's id and how many
conversations went (each deleted conversation leaves its own record too)."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from models.audit import audit
from models.conversations.deletion import check_may_delete, do_delete_conversation
from models.routing.locks import serialize
from models.schema.accounts import AuditEvent, User
from models.schema.contacts import Contact
from models.schema.conversations import Conversation


def do_erase_contact(session: Session, actor: User, contact: Contact) -> list[str]:
    """Erase `contact` and all that is theirs; returns the storage keys of their files, to remove after
    commit (models/conversations/deletion.py `forget_files`)."""
    check_may_delete(actor)
    serialize(session)
    keys: list[str] = []
    convs = list(session.scalars(select(Conversation).where(Conversation.contact_id == contact.id)
                                 .order_by(Conversation.id).with_for_update()))
    for conv in convs:
        keys += do_delete_conversation(session, actor, conv, why="erased")
    contact_id = contact.id
    for ev in session.scalars(select(AuditEvent).where(AuditEvent.kind == "contact.blocked")):
        if (ev.data or {}).get("contact_id") == contact_id and ev.data.get("reason") is not None:
            ev.data = {**ev.data, "reason": None}  # why they were blocked may describe them
    audit(session, "contact.erased", actor=actor, contact_id=contact_id, conversations=len(convs))
    session.expunge(contact)
    session.execute(delete(Contact).where(Contact.id == contact_id))  # identities, presets, blocked: cascade
    session.flush()
    return keys
