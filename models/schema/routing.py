"""Routing tables: per-team routing settings, who may see a conversation, per-contact presets,
offers, transfers and durable timers.

Imported at the end of `models.schema`, so `Base.metadata` always has them.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from models.schema.base import Base, utcnow


class Policy(StrEnum):
    MANUAL = "manual"
    ROUND_ROBIN = "round_robin"
    LEAST_LOADED = "least_loaded"


DEFAULT_CLOSING_MESSAGE = ("This conversation has been closed. Write again any time and we'll pick it "
                           "up from here.")


DEFAULT_OUT_OF_HOURS_MESSAGE = ("Thanks for your message. Our team is away right now; we open again "
                                "{{next_opening}} and will answer you here then.")
DEFAULT_QUEUE_MESSAGE = "Thanks for waiting. A member of our team will answer you here shortly."


class TeamRouting(Base):
    """A team's routing settings. A team without a row uses the defaults below (the issue's defaults)."""

    __tablename__ = "team_routing"

    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True)
    policy: Mapped[str] = mapped_column(String(20), default=Policy.LEAST_LOADED.value)
    # Offer and accept: an auto-assigned chat must be accepted within this many seconds (None: off).
    offer_timeout_seconds: Mapped[int | None] = mapped_column(Integer, default=None)
    transfer_timeout_seconds: Mapped[int] = mapped_column(Integer, default=60)
    # Completed automatically after this long without activity while assigned / in the queue (None: never).
    idle_timeout_seconds: Mapped[int | None] = mapped_column(Integer, default=3600)
    waiting_timeout_seconds: Mapped[int | None] = mapped_column(Integer, default=6 * 3600)
    closing_message: Mapped[str] = mapped_column(Text, default=DEFAULT_CLOSING_MESSAGE)
    # Sent on SMS and WhatsApp when a conversation enters the queue ("" sends nothing).
    queue_message: Mapped[str] = mapped_column(Text, default=DEFAULT_QUEUE_MESSAGE)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ConversationAccess(Base):
    """The users a restricted conversation (`conversations.restricted`) is visible to, and only they."""

    __tablename__ = "conversation_access"

    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True,
                                         index=True)


class PresetKind(StrEnum):
    VISIBLE = "visible"  # the contact's new conversations are restricted to these users
    ASSIGN = "assign"  # ... and auto-assigned among these users only


class ContactPreset(Base):
    __tablename__ = "contact_presets"

    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(10), primary_key=True)


class OfferStatus(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"  # the conversation was closed, taken or reassigned meanwhile


class Offer(Base):
    """A chat offered to one agent (phase `assigning`) until they accept or it expires."""

    __tablename__ = "routing_offers"
    __table_args__ = (
        Index("ix_routing_offers_conversation_status", "conversation_id", "status"),
        Index("ix_routing_offers_user_status", "user_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(12), default=OfferStatus.PENDING.value)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    decided_at: Mapped[datetime | None] = mapped_column(default=None)


class TransferStatus(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    EXPIRED = "expired"
    CANCELLED = "cancelled"  # the conversation was closed or reassigned before the answer
    DONE = "done"  # a direct move: to another team's queue, or a supervisor's reassignment


class Transfer(Base):
    __tablename__ = "routing_transfers"
    __table_args__ = (Index("ix_routing_transfers_conversation_status", "conversation_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    from_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    to_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    to_team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    from_team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(12), default=TransferStatus.PENDING.value)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(default=None)
    decided_at: Mapped[datetime | None] = mapped_column(default=None)


class TimerKind(StrEnum):
    OFFER = "offer"  # ref_id: the offer
    TRANSFER = "transfer"  # ref_id: the transfer
    IDLE = "idle"  # an assigned conversation without activity
    WAITING = "waiting"  # a conversation left in the queue


class Timer(Base):
    """A due time, kept in the database so it survives restarts; fired once (claimed under a row lock).

    Idle and waiting timers are re-armed lazily: when one fires early (there was activity since), it
    moves itself to the new due time instead of every message rewriting it.
    """

    __tablename__ = "routing_timers"
    __table_args__ = (UniqueConstraint("kind", "conversation_id", "ref_id", name="uq_routing_timer"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(12))
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    ref_id: Mapped[int] = mapped_column(Integer, default=0)
    due_at: Mapped[datetime] = mapped_column(index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


MAX_CODE = 40


MAX_BODY = 4000


class CannedReply(Base):
    __tablename__ = "canned_replies"
    __table_args__ = (
        UniqueConstraint("team_id", "short_code", name="uq_canned_replies_team_code"),
        UniqueConstraint("user_id", "short_code", name="uq_canned_replies_user_code"),
        CheckConstraint("(team_id IS NULL) <> (user_id IS NULL)", name="ck_canned_replies_one_scope"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), default=None)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), default=None)
    short_code: Mapped[str] = mapped_column(String(MAX_CODE))
    body: Mapped[str] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class TeamHours(Base):
    """A team's opening hours. No row: always open."""

    __tablename__ = "team_hours"

    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True)
    timezone: Mapped[str] = mapped_column(String(64))
    # [{"day": "mon", "start": "09:00", "end": "17:00"}, ...]; `end` may be "24:00".
    intervals: Mapped[list[Any]] = mapped_column()
    out_of_hours_message: Mapped[str] = mapped_column(Text, default=DEFAULT_OUT_OF_HOURS_MESSAGE)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
