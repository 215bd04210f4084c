"""Outreach: conversations an agent starts, the invitation that carries the customer's personal chat
link, and each team's rule for what an ended session leaves the customer (models/outreach/)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.schema.base import Base, utcnow


class EndBehaviour(StrEnum):
    READ_ONLY = "read_only"  # the customer's link still shows the history, nothing can be written
    NO_ACCESS = "no_access"  # the link opens nothing any more
    WRITE_AGAIN = "write_again"  # the history shows, and writing starts a new conversation


class Invitation(Base):
    """A customer's personal link to the hosted chat page (`/c/<token>`) of one conversation.

    The token signs `(id, nonce)`: re-engaging draws a new nonce, so the old link stops working.
    `sent_at` None: prepared (pre-planned), not sent; the customer has nothing yet. The link works from
    `sent_at` until `expires_at`; the first open sets `joined_at`. `visitor_id` is the webchat identity
    the page opens as, on any device, so presence and live pushes work as for the widget.
    """

    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"),
                                                 unique=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    via: Mapped[str] = mapped_column(String(10))  # sms | email
    address: Mapped[str] = mapped_column(String(254))  # the number or email address it goes to
    visitor_id: Mapped[str] = mapped_column(String(64), unique=True)
    nonce: Mapped[str] = mapped_column(String(32))
    # What the agent prepared: the first message, sent with (SMS) or in (email) the invitation.
    welcome: Mapped[str | None] = mapped_column(Text, default=None)
    # Conversations this link has reached: the invited one, then any the customer started by writing
    # again after an end (a team's `write_again`); the last one is current.
    conversation_ids: Mapped[list[Any]] = mapped_column(default=list)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
    expires_at: Mapped[datetime | None] = mapped_column(default=None)
    joined_at: Mapped[datetime | None] = mapped_column(default=None)
    sends: Mapped[int] = mapped_column(default=0)


class TeamOutreach(Base):
    """A team's outreach rules, set by an admin (absent: the defaults)."""

    __tablename__ = "team_outreach"

    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True)
    end_behaviour: Mapped[str] = mapped_column(String(20), default=EndBehaviour.READ_ONLY.value)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
