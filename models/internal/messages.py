"""Messages of internal chats: send (text, a file, or both), read a page, mark read.

`do_send` publishes `InternalMessageCreated` after commit; the realtime listener tells the
participants' own rooms and nobody else.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.conversations.messages import check_text
from models.db import publish_on_commit
from models.errors import InvalidInput
from models.events import InternalChatChanged, InternalMessageCreated
from models.internal.chats import participants
from models.internal.files import check_attachable
from models.schema.accounts import User
from models.schema.internal import InternalChat, InternalFile, InternalMessage, InternalRead

PAGE = 50


def do_send(session: Session, user: User, chat: InternalChat, text: str | None, file_id: str | None,
            max_length: int) -> InternalMessage:
    """Write a message in `chat` (the caller checked that `user` takes part: `access_chat`). Its author
    has read it, so it never counts as unread for them."""
    if file_id is None and not (text or "").strip():
        raise InvalidInput("Write a message or attach a file.", code="empty")
    if text:
        text = check_text(text, max_length).strip()
    attached = check_attachable(session, user, file_id) if file_id is not None else None
    msg = InternalMessage(chat_id=chat.id, author_id=user.id, text=(text or "").strip())
    session.add(msg)
    session.flush()
    if attached is not None:
        attached.message_id = msg.id
    chat.last_message_at = msg.created_at
    _mark(session, user.id, chat.id, msg.id)
    publish_on_commit(session, InternalMessageCreated(chat.id, msg.id, user.id, participants(chat)))
    return msg


def _mark(session: Session, user_id: int, chat_id: int, message_id: int) -> bool:
    """Move the user's read mark forward to `message_id` (never back); whether it moved."""
    row = session.get(InternalRead, (chat_id, user_id), with_for_update=True)
    if row is None:
        session.add(InternalRead(chat_id=chat_id, user_id=user_id, last_read_message_id=message_id))
        session.flush()
        return True
    if row.last_read_message_id >= message_id:
        return False
    row.last_read_message_id = message_id
    return True


def do_mark_read(session: Session, user: User, chat: InternalChat, up_to: int | None = None) -> int:
    """The user has read `chat` up to message `up_to` (default: its last message). Returns the mark."""
    last = session.scalar(select(InternalMessage.id).where(InternalMessage.chat_id == chat.id)
                          .order_by(InternalMessage.id.desc()).limit(1)) or 0
    target = last if up_to is None else min(up_to, last)
    if target < 0:
        raise InvalidInput("up_to must not be negative.")
    if target and _mark(session, user.id, chat.id, target):
        publish_on_commit(session, InternalChatChanged(chat.id, (user.id,)))
    row = session.get(InternalRead, (chat.id, user.id))
    return row.last_read_message_id if row is not None else 0


def page(session: Session, chat: InternalChat, before: int | None, limit: int = PAGE) \
        -> tuple[list[InternalMessage], dict[int, list[InternalFile]], bool]:
    """Messages older than `before` (default: the latest), oldest first; their files; whether there
    are older ones still."""
    stmt = select(InternalMessage).where(InternalMessage.chat_id == chat.id)
    if before is not None:
        stmt = stmt.where(InternalMessage.id < before)
    rows = list(session.scalars(stmt.order_by(InternalMessage.id.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = list(reversed(rows[:limit]))
    return rows, files_of(session, [m.id for m in rows]), more


def files_of(session: Session, message_ids: list[int]) -> dict[int, list[InternalFile]]:
    out: dict[int, list[InternalFile]] = {}
    if message_ids:
        for f in session.scalars(select(InternalFile).where(InternalFile.message_id.in_(message_ids))
                                 .order_by(InternalFile.id)):
            out.setdefault(f.message_id or 0, []).append(f)
    return out


def read_mark(session: Session, user: User, chat: InternalChat) -> int:
    row = session.get(InternalRead, (chat.id, user.id))
    return row.last_read_message_id if row is not None else 0

