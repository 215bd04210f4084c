"""Broadcasts (one message to many contacts), the contacts' tags that pick them, and SMS opt-outs
(models/broadcasts/)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.schema.base import Base, utcnow


class ContactTag(Base):
    """A tag on a contact (workspace-wide; stored lower-case, so `VIP` and `vip` are one tag)."""

    __tablename__ = "contact_tags"
    __table_args__ = (Index("ix_contact_tags_tag", "tag"),)

    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True)
    tag: Mapped[str] = mapped_column(String(50), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class OptOut(Base):
    """An address that asked for no more messages on a channel (SMS `STOP`), until it says `START`.

    Keyed like a `ContactIdentity` (channel, address) rather than by contact, so a merge or a new
    contact for the same number keeps the customer's choice."""

    __tablename__ = "opt_outs"

    channel: Mapped[str] = mapped_column(String(20), primary_key=True)
    external_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    keyword: Mapped[str] = mapped_column(String(20))
    opted_out_at: Mapped[datetime] = mapped_column(default=utcnow)


class Broadcast(Base):
    """One message sent to many contacts, each in their own conversation. The skip counts are fixed
    when it is made; the rest is read from the recipients' messages (their delivery statuses)."""

    __tablename__ = "broadcasts"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)
    channel: Mapped[str] = mapped_column(String(20))  # sms | whatsapp
    inbox_id: Mapped[int | None] = mapped_column(ForeignKey("inboxes.id", ondelete="SET NULL"), default=None)
    tag: Mapped[str | None] = mapped_column(String(50), default=None)
    text: Mapped[str] = mapped_column(Text)  # what each recipient's conversation shows
    template: Mapped[dict[str, Any] | None] = mapped_column(default=None)  # WhatsApp: the outbox payload
    state: Mapped[str] = mapped_column(String(20), default="sending")  # sending | done
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)


class BroadcastRecipient(Base):
    """One contact of a broadcast: `outcome` pending (not processed yet) · queued · skipped_blocked ·
    skipped_opted_out · skipped_no_address · failed (could not be queued: `error`)."""

    __tablename__ = "broadcast_recipients"
    __table_args__ = (Index("ix_broadcast_recipients_broadcast", "broadcast_id", "outcome"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    broadcast_id: Mapped[int] = mapped_column(ForeignKey("broadcasts.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    outcome: Mapped[str] = mapped_column(String(30), default="pending")
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id", ondelete="SET NULL"),
                                                        default=None)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"), default=None)
    error: Mapped[str | None] = mapped_column(String(500), default=None)
