"""Contacts (one person across channels) and their per-channel identities."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.schema.base import Base, utcnow

if TYPE_CHECKING:
    pass


class Contact(Base):
    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(254), default=None)
    phone: Mapped[str | None] = mapped_column(String(32), default=None)
    # Blocked org-wide (models/contacts/blocking.py): new messages are kept apart as `BlockedMessage`s
    # and start nothing. `blocked_by` is the user's id (None: that user was deleted).
    blocked_at: Mapped[datetime | None] = mapped_column(default=None)
    blocked_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)
    blocked_reason: Mapped[str | None] = mapped_column(String(250), default=None)
    online: Mapped[bool] = mapped_column(Boolean, default=False)
    last_seen_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The site's own facts about this person, from the widget's `Parley.setAttributes` (flat, size-limited:
    # models/contacts/widget_sdk.py). Shown in the console's About pane, given to the bots.
    custom_attributes: Mapped[dict[str, Any] | None] = mapped_column(default=None)

    identities: Mapped[list[ContactIdentity]] = relationship(
        back_populates="contact", cascade="all, delete-orphan"
    )

    @property
    def blocked(self) -> bool:
        return self.blocked_at is not None


class ContactIdentity(Base):
    """One identity of a contact on one channel (a visitor id, a phone number, a WhatsApp id)."""

    __tablename__ = "contact_identities"
    __table_args__ = (UniqueConstraint("channel", "external_id", name="uq_identity_channel_external"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(20))
    external_id: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # When it joined this contact (made, linked, or moved here by a merge): a webchat browser sees
    # only what was said on webchat since then (models/contacts/widget.py).
    joined_at: Mapped[datetime] = mapped_column(default=utcnow)

    contact: Mapped[Contact] = relationship(back_populates="identities")


class BlockedMessage(Base):
    """A message a blocked contact sent: kept (admins may read it), idempotent on the provider's id
    like `Message`, but in no conversation, so it reaches no bot and no agent."""

    __tablename__ = "blocked_messages"
    __table_args__ = (UniqueConstraint("channel", "provider_message_id", name="uq_blocked_channel_provider_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(20))
    provider_message_id: Mapped[str | None] = mapped_column(String(200), default=None)
    text: Mapped[str] = mapped_column(Text)
    # Files the provider announced (not fetched: nothing of a blocked contact is downloaded).
    media_count: Mapped[int] = mapped_column(Integer, default=0)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
