"""Internal chats: one per pair of users (or a user's own notes), seen by its participants only.

A third user gets "not found", whatever their role: admins and supervisors see every customer
conversation of their teams, never colleagues' private chats. Admins may delete one (by id, without
reading it), which leaves an audit record.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, delete, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models.audit import audit
from models.db import publish_on_commit
from models.errors import Conflict, Forbidden, NotFound
from models.events import InternalChatChanged
from models.schema.accounts import Role, User
from models.schema.internal import InternalChat, InternalFile, InternalMessage, InternalRead

DIRECT = "direct"
SELF = "self"


def participants(chat: InternalChat) -> tuple[int, ...]:
    return (chat.user_a_id,) if chat.user_a_id == chat.user_b_id else (chat.user_a_id, chat.user_b_id)


def other_id(chat: InternalChat, user: User) -> int:
    return chat.user_b_id if chat.user_a_id == user.id else chat.user_a_id


def check_partner(session: Session, user: User, partner_id: int) -> User:
    """The user to chat with: any user who exists (404 otherwise) and is active (409: a deactivated
    colleague cannot read, so a new chat with them is refused)."""
    if partner_id == user.id:
        return user
    partner = session.get(User, partner_id)
    if partner is None:
        raise NotFound("No such user.")
    if not partner.active:
        raise Conflict(f"{partner.name} is deactivated: they cannot read messages.", code="user_inactive")
    return partner


def _pair(user: User, partner: User) -> tuple[int, int]:
    return (min(user.id, partner.id), max(user.id, partner.id))


def do_open_chat(session: Session, user: User, partner: User) -> tuple[InternalChat, bool]:
    """The chat between `user` and `partner` (their own notes when the same), made the first time;
    returns it and whether it was made now. Two users opening it at once both get the one row."""
    a, b = _pair(user, partner)
    found = session.scalar(select(InternalChat).where(InternalChat.user_a_id == a, InternalChat.user_b_id == b))
    if found is not None:
        return found, False
    chat = InternalChat(kind=SELF if a == b else DIRECT, user_a_id=a, user_b_id=b)
    try:
        with session.begin_nested():
            session.add(chat)
    except IntegrityError:  # made by the other side just now
        found = session.scalar(select(InternalChat).where(InternalChat.user_a_id == a, InternalChat.user_b_id == b))
        if found is None:
            raise
        return found, False
    return chat, True


def access_chat(session: Session, user: User, chat_id: int) -> InternalChat:
    """The chat, if `user` takes part in it; otherwise 404, as if it did not exist."""
    chat = session.get(InternalChat, chat_id)
    if chat is None or user.id not in (chat.user_a_id, chat.user_b_id):
        raise NotFound("No such chat.")
    return chat


def check_may_delete(actor: User) -> None:
    if actor.role != Role.ADMIN.value or not actor.active:
        raise Forbidden("Only admins delete internal chats.")


def do_delete_chat(session: Session, actor: User, chat_id: int) -> list[str]:
    """Delete a chat with its messages, read marks and files (admins only; audited without any of its
    text). Returns its files' storage keys, to remove after commit (models/conversations/deletion.py
    `forget_files`)."""
    check_may_delete(actor)
    chat = session.get(InternalChat, chat_id)
    if chat is None:
        raise NotFound("No such chat.")
    keys = list(session.scalars(select(InternalFile.storage_key).join(
        InternalMessage, InternalMessage.id == InternalFile.message_id).where(InternalMessage.chat_id == chat.id)))
    count = session.scalar(select(func.count()).select_from(InternalMessage)
                           .where(InternalMessage.chat_id == chat.id)) or 0
    users = participants(chat)
    audit(session, "internal_chat.deleted", actor=actor, chat_id=chat.id, chat_kind=chat.kind, user_ids=list(users),
          messages=count)
    session.execute(delete(InternalFile).where(InternalFile.message_id.in_(
        select(InternalMessage.id).where(InternalMessage.chat_id == chat.id))))
    session.execute(delete(InternalMessage).where(InternalMessage.chat_id == chat.id))
    session.execute(delete(InternalRead).where(InternalRead.chat_id == chat.id))
    session.execute(delete(InternalChat).where(InternalChat.id == chat.id))
    session.expunge(chat)
    publish_on_commit(session, InternalChatChanged(chat_id, users, deleted=True))
    return keys


@dataclass(frozen=True)
class ChatRow:
    chat: InternalChat
    other: User
    last: InternalMessage | None
    unread: int


def unread_by_chat(session: Session, user: User, chat_ids: list[int] | None = None) -> dict[int, int]:
    """Messages of others after the user's read mark, per chat of theirs (only chats with some)."""
    mark = func.coalesce(InternalRead.last_read_message_id, 0)
    stmt = (select(InternalMessage.chat_id, func.count())
            .join(InternalChat, InternalChat.id == InternalMessage.chat_id)
            .outerjoin(InternalRead, and_(InternalRead.chat_id == InternalMessage.chat_id,
                                          InternalRead.user_id == user.id))
            .where(or_(InternalChat.user_a_id == user.id, InternalChat.user_b_id == user.id),
                   or_(InternalMessage.author_id.is_(None), InternalMessage.author_id != user.id),
                   InternalMessage.id > mark)
            .group_by(InternalMessage.chat_id))
    if chat_ids is not None:
        stmt = stmt.where(InternalMessage.chat_id.in_(chat_ids))
    return {cid: n for cid, n in session.execute(stmt).all()}


def chats_of(session: Session, user: User) -> list[ChatRow]:
    """The user's chats, latest activity first, each with the other user, its last message and the
    user's unread figure (four queries, whatever the number of chats)."""
    chats = list(session.scalars(select(InternalChat).where(
        or_(InternalChat.user_a_id == user.id, InternalChat.user_b_id == user.id))))
    if not chats:
        return []
    others = {u.id: u for u in session.scalars(select(User).where(User.id.in_({other_id(c, user) for c in chats})))}
    latest = (select(func.max(InternalMessage.id)).where(InternalMessage.chat_id.in_([c.id for c in chats]))
              .group_by(InternalMessage.chat_id))
    last = {m.chat_id: m for m in session.scalars(select(InternalMessage).where(InternalMessage.id.in_(latest)))}
    unread = unread_by_chat(session, user)
    rows = [ChatRow(c, others[other_id(c, user)], last.get(c.id), unread.get(c.id, 0)) for c in chats
            if other_id(c, user) in others]
    return sorted(rows, key=lambda r: (r.chat.last_message_at or r.chat.created_at, r.chat.id), reverse=True)
