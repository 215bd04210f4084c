"""Internal chat (Converso): one-to-one conversations between users, and a user's own notes.

Tables of their own, apart from customer conversations on purpose: no customer list, counter, report,
export, search or webhook reads these tables, so an internal message can never reach one of them.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.schema.base import Base, utcnow


def new_internal_file_id() -> str:
    return "f_" + secrets.token_urlsafe(18)


class InternalChat(Base):
    """One chat per pair of users (`user_a_id` <= `user_b_id`); `self` when both are the same user."""

    __tablename__ = "internal_chats"
    __table_args__ = (UniqueConstraint("user_a_id", "user_b_id", name="uq_internal_chat_pair"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))  # direct | self
    user_a_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    user_b_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_message_at: Mapped[datetime | None] = mapped_column(default=None)


class InternalMessage(Base):
    __tablename__ = "internal_messages"
    __table_args__ = (Index("ix_internal_messages_chat_id_id", "chat_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    chat_id: Mapped[int] = mapped_column(ForeignKey("internal_chats.id", ondelete="CASCADE"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)
    text: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class InternalRead(Base):
    """How far a participant has read a chat (messages after it are unread for them)."""

    __tablename__ = "internal_reads"

    chat_id: Mapped[int] = mapped_column(ForeignKey("internal_chats.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    last_read_message_id: Mapped[int] = mapped_column(Integer, default=0)


class InternalFile(Base):
    """A file uploaded for internal chat: unattached (`message_id` None) until its uploader sends it."""

    __tablename__ = "internal_files"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(40), unique=True, default=new_internal_file_id)
    uploader_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("internal_messages.id", ondelete="CASCADE"),
                                                   default=None, index=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(120))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
