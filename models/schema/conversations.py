"""Conversations and what they are made of: messages, assignments, read marks, handoff packets."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.schema.accounts import Team, User
from models.schema.base import Base, new_public_id, utcnow
from models.schema.contacts import Contact

if TYPE_CHECKING:
    from models.schema.channels import Attachment


class Status(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class Owner(StrEnum):
    BOT = "bot"
    HUMAN = "human"


class Phase(StrEnum):
    """The human-side phase, as the customer journey shows it."""

    WAITING = "waiting"
    ASSIGNING = "assigning"
    ASSIGNED = "assigned"
    TRANSFERRING = "transferring"
    ENDED = "ended"
    FAILED = "failed"


class Direction(StrEnum):
    IN = "in"
    OUT = "out"


class SenderType(StrEnum):
    CONTACT = "contact"
    BOT = "bot"
    AGENT = "agent"
    SYSTEM = "system"


class DeliveryStatus(StrEnum):
    RECEIVED = "received"
    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"


class Channel(StrEnum):
    WEBCHAT = "webchat"
    SMS = "sms"
    WHATSAPP = "whatsapp"


class Conversation(Base):
    __tablename__ = "conversations"
    __table_args__ = (
        Index("ix_conversations_contact_status", "contact_id", "status"),
        Index("ix_conversations_team_status_owner", "team_id", "status", "owner"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(40), unique=True, default=new_public_id)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"))
    # The inbox it came in through (or was started from); None only for rows older than inboxes.
    inbox_id: Mapped[int | None] = mapped_column(ForeignKey("inboxes.id", ondelete="SET NULL"), default=None,
                                                 index=True)
    channel: Mapped[str] = mapped_column(String(20))
    # A name agents give it (shown in lists and the header, searchable); None: the contact's name shows.
    name: Mapped[str | None] = mapped_column(String(200), default=None)
    status: Mapped[str] = mapped_column(String(10), default=Status.OPEN.value)
    owner: Mapped[str] = mapped_column(String(10), default=Owner.BOT.value)
    phase: Mapped[str | None] = mapped_column(String(20), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_activity_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The first customer message no human has answered yet, while a human owns the conversation.
    waiting_since: Mapped[datetime | None] = mapped_column(default=None)
    handed_off_at: Mapped[datetime | None] = mapped_column(default=None)
    closed_at: Mapped[datetime | None] = mapped_column(default=None)
    # The last customer message the bot pipeline has dealt with (answered, or passed over while silent).
    bot_cursor: Mapped[int] = mapped_column(Integer, default=0)
    # "Please rephrase" turns in a row, for the repeated-fallback policy.
    bot_fallbacks: Mapped[int] = mapped_column(Integer, default=0)
    # Who runs the bot on it right now, and until when (models/conversations/bot_claims.py): one process
    # at a time across all hosts; a lease a dead process held simply expires.
    bot_claim_token: Mapped[str | None] = mapped_column(String(32), default=None)
    bot_claim_until: Mapped[datetime | None] = mapped_column(default=None)
    # Webchat: the page the customer was on when the conversation started and how they came to it, and
    # the site's attributes as of then (kept current while it is open): models/contacts/widget_sdk.py.
    page_url: Mapped[str | None] = mapped_column(String(2000), default=None)
    referrer: Mapped[str | None] = mapped_column(String(2000), default=None)
    custom_attributes: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    # Visible only to the users named in `conversation_access` (models/routing_schema.py).
    restricted: Mapped[bool] = mapped_column(Boolean, default=False)
    # A session an agent started whose invitation has not gone out (prepared, or its email was refused):
    # nothing an agent writes reaches the customer yet (models/outreach/). Kept here so a reply needs no query.
    awaiting_invitation: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The intent of the bot's first answer with one (what the reports group "by intent"), set as it is
    # sent: stored so that reports need not look for it among the messages.
    first_intent: Mapped[str | None] = mapped_column(String(100), default=None)
    # When the bot first wrote in it (None: it never did), set likewise: the bot report's conversations.
    bot_first_at: Mapped[datetime | None] = mapped_column(default=None)
    # When it last entered its team's queue (None: at `handed_off_at`); the queue is served oldest first.
    queued_at: Mapped[datetime | None] = mapped_column(default=None)

    contact: Mapped[Contact] = relationship()
    team: Mapped[Team] = relationship()
    assignments: Mapped[list[Assignment]] = relationship(
        back_populates="conversation", cascade="all, delete-orphan", order_by="Assignment.assigned_at"
    )


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("channel", "provider_message_id", name="uq_message_channel_provider_id"),
        Index("ix_messages_conversation_id_id", "conversation_id", "id"),
        Index("ix_messages_conversation_sender", "conversation_id", "sender_type", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    direction: Mapped[str] = mapped_column(String(3))
    sender_type: Mapped[str] = mapped_column(String(10))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)
    text: Mapped[str] = mapped_column(Text)
    private: Mapped[bool] = mapped_column(Boolean, default=False)
    channel: Mapped[str] = mapped_column(String(20))
    provider_message_id: Mapped[str | None] = mapped_column(String(200), default=None)
    delivery_status: Mapped[str] = mapped_column(String(12), default=DeliveryStatus.RECEIVED.value)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # For bot messages: what the bot made of the customer message it answered.
    bot_intent: Mapped[str | None] = mapped_column(String(100), default=None)
    bot_confidence: Mapped[float | None] = mapped_column(Float, default=None)
    bot_decision: Mapped[str | None] = mapped_column(String(10), default=None)
    bot_reason: Mapped[str | None] = mapped_column(String(40), default=None)
    # Outbound on SMS/WhatsApp: the provider's error when it could not be delivered.
    error_code: Mapped[str | None] = mapped_column(String(40), default=None)
    error_message: Mapped[str | None] = mapped_column(String(500), default=None)
    # Inbound on SMS/WhatsApp: the provider configuration it came through (replies go out the same way).
    via_channel_id: Mapped[int | None] = mapped_column(Integer, default=None)
    # Bot messages: buttons and an image beside the text (models/conversations/rich.py); None: text only.
    rich: Mapped[dict[str, Any] | None] = mapped_column(default=None)

    author: Mapped[User | None] = relationship()
    attachments: Mapped[list[Attachment]] = relationship(order_by="Attachment.id", viewonly=True)


class Assignment(Base):
    __tablename__ = "assignments"

    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    assigned_at: Mapped[datetime] = mapped_column(default=utcnow)
    assigned_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    conversation: Mapped[Conversation] = relationship(back_populates="assignments")
    user: Mapped[User] = relationship(foreign_keys=[user_id])


class ReadMark(Base):
    """How far a user has seen a conversation: unread is counted from here."""

    __tablename__ = "read_marks"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True
    )
    last_read_message_id: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class HandoffPacket(Base):
    """What the agent taking over needs to know, pinned on top of the conversation."""

    __tablename__ = "handoff_packets"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    trigger_message_id: Mapped[int | None] = mapped_column(
        ForeignKey("messages.id", ondelete="SET NULL"), default=None
    )
    reason: Mapped[str] = mapped_column(String(40))
    intent: Mapped[str | None] = mapped_column(String(100), default=None)
    confidence: Mapped[float | None] = mapped_column(Float, default=None)
    ranking: Mapped[list[Any]] = mapped_column(default=list)
    summary: Mapped[str] = mapped_column(Text, default="")
    engine: Mapped[str | None] = mapped_column(String(40), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Every bot stage's view (bot.types.StageView.to_json()), e.g. the intent engine's guess, then what
    # the LLM agent searched and found. None on packets made before migration 0004_llm.
    stages: Mapped[list[Any] | None] = mapped_column(default=list)
