"""Files in internal chat: uploaded first (checked like every other file: sniffed from the bytes, the
allow-list of models/channels/attachments.py), then attached to a message by their uploader only.

An unattached file is seen by its uploader only; an attached one by the participants of its chat.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.channels.attachments import AttachmentStore, check_allowed, safe_filename
from models.errors import Conflict, Forbidden, NotFound
from models.schema.accounts import User
from models.schema.internal import InternalChat, InternalFile, InternalMessage


def do_upload(session: Session, store: AttachmentStore, user: User, data: bytes, filename: str | None,
              max_bytes: int) -> InternalFile:
    """Check and store a file (a refused one is never written); not in any chat until sent."""
    sniffed = check_allowed(data, filename, max_bytes)
    row = InternalFile(uploader_id=user.id, filename=safe_filename(filename, sniffed),
                       content_type=sniffed.content_type, size=len(data), sha256=hashlib.sha256(data).hexdigest(),
                       storage_key=store.put(data))
    session.add(row)
    session.flush()
    return row


def check_attachable(session: Session, user: User, public_id: str) -> InternalFile:
    """A file `user` may send: theirs (403 for someone else's), and not sent already (409)."""
    row = session.scalar(select(InternalFile).where(InternalFile.public_id == public_id).with_for_update())
    if row is None:
        raise NotFound("No such file.", code="no_file")
    if row.uploader_id != user.id:
        raise Forbidden("Only the user who uploaded a file may send it.", code="not_uploader")
    if row.message_id is not None:
        raise Conflict("This file was sent already: upload it again.", code="file_sent")
    return row


def access_file(session: Session, user: User, public_id: str) -> InternalFile:
    """The file, if `user` uploaded it or takes part in the chat it was sent in; otherwise 404."""
    row = session.scalar(select(InternalFile).where(InternalFile.public_id == public_id))
    if row is None:
        raise NotFound("No such file.")
    if row.message_id is None:
        if row.uploader_id != user.id:
            raise NotFound("No such file.")
        return row
    chat = session.scalar(select(InternalChat).join(InternalMessage, InternalMessage.chat_id == InternalChat.id)
                          .where(InternalMessage.id == row.message_id))
    if chat is None or user.id not in (chat.user_a_id, chat.user_b_id):
        raise NotFound("No such file.")
    return row
