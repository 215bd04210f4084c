"""Files to share in a pre-planned session. While the session is prepared the customer sees nothing, so
a file the agent adds waits on a private note (`do_prepare_file`); when the invitation goes out, each is
shared after the welcome message as an agent message on webchat (the customer's chat page), carrying the
same stored file (`do_share_prepared_files`, called by `do_send_invitation`). A file is shared once:
sending the invitation again (re-engage) shares nothing twice."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from models.channels.attachments import AttachmentStore, do_attach
from models.conversations.messages import do_agent_message
from models.errors import Conflict, NotFound
from models.schema.accounts import User
from models.schema.channels import Attachment, AttachmentState
from models.schema.conversations import Conversation
from models.schema.outreach import Invitation
from models.schema.prepared import PreparedFile


def prepared_files(session: Session, inv: Invitation) -> list[tuple[PreparedFile, Attachment]]:
    return [(p, a) for p, a in session.execute(
        select(PreparedFile, Attachment).join(Attachment, Attachment.id == PreparedFile.attachment_id)
        .where(PreparedFile.invitation_id == inv.id).order_by(PreparedFile.id))]


def do_prepare_file(session: Session, store: AttachmentStore, user: User, conv: Conversation, inv: Invitation, *,
                    data: bytes, filename: str | None, max_bytes: int) -> Attachment:
    """Add a file to share once the invitation goes (before it goes only: 409 after)."""
    if inv.sent_at is not None:
        raise Conflict("The invitation has gone out: send the file in the conversation instead.",
                       code="already_invited")
    note = do_agent_message(session, user, conv, f"File to share when the invitation goes: {filename or 'file'}",
                            private=True)
    att = do_attach(session, store, conv=conv, msg=note, data=data, filename=filename, max_bytes=max_bytes)
    note.text = f"File to share when the invitation goes: {att.filename}"
    session.add(PreparedFile(invitation_id=inv.id, attachment_id=att.id))
    session.flush()
    return att


def do_unprepare_file(session: Session, inv: Invitation, attachment_public_id: str) -> None:
    """Take a file off the list (it stays on the private note)."""
    if inv.sent_at is not None:
        raise Conflict("The invitation has gone out; what was shared stays shared.", code="already_invited")
    att_id = session.scalar(select(Attachment.id).join(PreparedFile, PreparedFile.attachment_id == Attachment.id)
                            .where(Attachment.public_id == attachment_public_id,
                                   PreparedFile.invitation_id == inv.id))
    if att_id is None:
        raise NotFound("No such prepared file.", code="no_file")
    session.execute(delete(PreparedFile).where(PreparedFile.invitation_id == inv.id,
                                               PreparedFile.attachment_id == att_id))


def do_share_prepared_files(session: Session, user: User, conv: Conversation, inv: Invitation) -> int:
    """Share the files not shared yet, in the order they were added. Returns how many."""
    shared = 0
    for prepared, att in prepared_files(session, inv):
        if prepared.shared_message_id is not None or att.state != AttachmentState.READY.value:
            continue
        msg = do_agent_message(session, user, conv, att.filename, channel="webchat")
        # The same stored bytes: both rows belong to this conversation and go with it.
        session.add(Attachment(message_id=msg.id, conversation_id=conv.id, filename=att.filename,
                               content_type=att.content_type, extension=att.extension, size=att.size,
                               sha256=att.sha256, storage_key=att.storage_key, state=AttachmentState.READY.value))
        prepared.shared_message_id = msg.id
        shared += 1
    session.flush()
    return shared
