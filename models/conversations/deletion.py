"""Deleting a conversation (admins only): its messages, files, handoff packets, routing and bot records
go; one audit record stays, with who, when and the conversation's ids.

Files live in the shared storage, outside the transaction: `do_delete_conversation` returns their keys
and the caller removes them once the deletion committed (`forget_files`), so a rolled-back deletion
never loses a file. A crash in between leaves bytes no row points to: no URL serves them any more.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from models.audit import audit
from models.channels.attachments import AttachmentStore
from models.conversations.visibility import named_users
from models.db import publish_on_commit
from models.errors import Forbidden, NotFound
from models.events import ConversationDeleted
from models.invoices.guard import check_no_unpaid_invoice
from models.routing.locks import serialize
from models.schema.accounts import AuditEvent, User
from models.schema.channels import Attachment
from models.schema.conversations import Conversation
from models.schema.llm import KnowledgeQuery, LlmTurn
from models.storage.base import StorageError

log = logging.getLogger(__name__)


def check_may_delete(actor: User) -> None:
    if actor.role != "admin" or not actor.active:
        raise Forbidden("Only admins delete conversations.")


def access_for_deletion(session: Session, actor: User, public_id: str) -> Conversation:
    """The conversation to delete, locked. Admins act on any conversation they name, restricted or not
    (as they may restrict any): deleting is the one thing an admin must be able to do to all."""
    check_may_delete(actor)
    serialize(session)
    conv = session.scalar(select(Conversation).where(Conversation.public_id == public_id).with_for_update()
                          .execution_options(populate_existing=True))
    if conv is None:
        raise NotFound("No such conversation.")
    return conv


def do_delete_conversation(session: Session, actor: User, conv: Conversation, *, why: str = "deleted") -> list[str]:
    """Delete `conv` and everything in it (the database's ON DELETE CASCADE takes messages, packets,
    attachments' rows, assignments, offers, timers, outbox; the assistant's records that quote the
    customer are deleted here). Returns the storage keys of its files, for `forget_files` after commit."""
    check_may_delete(actor)
    check_no_unpaid_invoice(session, conv.id, "deleting it")
    keys = [k for k in session.scalars(select(Attachment.storage_key).where(Attachment.conversation_id == conv.id))
            if k]
    named = named_users(session, [conv.id]).get(conv.id) if conv.restricted else None
    evt = ConversationDeleted(conv.id, conv.team_id, conv.contact_id, conv.public_id,
                              tuple(named) if named is not None else None)
    audit(session, f"conversation.{why}", actor=actor, conversation=conv, public_id=conv.public_id,
          contact_id=conv.contact_id, messages_and_files="deleted")
    # the audit log keeps who did what, not what was said: a name given to it may quote the customer
    session.execute(update(AuditEvent).where(AuditEvent.conversation_id == conv.id,
                                             AuditEvent.kind == "conversation.renamed").values(data={"name": None}))
    session.execute(delete(LlmTurn).where(LlmTurn.conversation_id == conv.id))
    session.execute(delete(KnowledgeQuery).where(KnowledgeQuery.conversation_id == conv.id))
    session.execute(delete(Conversation).where(Conversation.id == conv.id))
    session.expunge(conv)
    session.flush()
    publish_on_commit(session, evt)
    return keys


def forget_files(store: AttachmentStore, keys: Iterable[str]) -> int:
    """Remove committed-deleted files from the storage; returns how many could not be (logged)."""
    failed = 0
    for key in keys:
        try:
            store.delete(key)
        except (StorageError, ValueError, OSError):
            failed += 1
            log.warning("could not remove a deleted conversation's file %s", key, exc_info=True)
    return failed
