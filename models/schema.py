"""The relational schema: SQLAlchemy 2 typed models.

The schema is changed only through Alembic migrations (`models/migrations`); nothing calls
`create_all` outside tests of the migrations themselves.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

if TYPE_CHECKING:
    from models.channels import Attachment


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_public_id() -> str:
    """A conversation's public id: unguessable, URL-safe, the same in URLs, the API and sockets."""
    return "c_" + secrets.token_urlsafe(15)


class Role(StrEnum):
    ADMIN = "admin"
    SUPERVISOR = "supervisor"
    AGENT = "agent"


class Availability(StrEnum):
    ONLINE = "online"
    AWAY = "away"
    OFFLINE = "offline"


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


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC timestamps on every backend (SQLite would hand back naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime; use models.schema.utcnow()")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


TS = UTCDateTime()


class Base(DeclarativeBase):
    type_annotation_map = {datetime: TS, dict[str, Any]: JSON, list[Any]: JSON}


class Team(Base):
    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    members: Mapped[list[TeamMember]] = relationship(back_populates="team", cascade="all, delete-orphan")


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20), default=Role.AGENT.value)
    availability: Mapped[str] = mapped_column(String(20), default=Availability.OFFLINE.value)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Routing (models/routing.py): most active chats at once (None: the default, 3); when a console
    # of this user was last known connected; what they had chosen before they were set offline for
    # having no console open (restored when one connects again).
    capacity: Mapped[int | None] = mapped_column(Integer, default=None)
    console_seen_at: Mapped[datetime | None] = mapped_column(default=None)
    auto_offline_from: Mapped[str | None] = mapped_column(String(20), default=None)

    memberships: Mapped[list[TeamMember]] = relationship(back_populates="user", cascade="all, delete-orphan")

    @property
    def team_ids(self) -> list[int]:
        return [m.team_id for m in self.memberships]

    @property
    def sees_all_teams(self) -> bool:
        return self.role in (Role.ADMIN.value, Role.SUPERVISOR.value)


class TeamMember(Base):
    __tablename__ = "team_members"

    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    # When routing last gave this member one of the team's chats (round robin, least-loaded ties).
    last_routed_at: Mapped[datetime | None] = mapped_column(default=None)

    team: Mapped[Team] = relationship(back_populates="members")
    user: Mapped[User] = relationship(back_populates="memberships")


class ApiToken(Base):
    """A personal API token; only its SHA-256 is kept."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)


class Contact(Base):
    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(254), default=None)
    phone: Mapped[str | None] = mapped_column(String(32), default=None)
    blacklisted: Mapped[bool] = mapped_column(Boolean, default=False)
    online: Mapped[bool] = mapped_column(Boolean, default=False)
    last_seen_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    identities: Mapped[list[ContactIdentity]] = relationship(
        back_populates="contact", cascade="all, delete-orphan"
    )


class ContactIdentity(Base):
    """One identity of a contact on one channel (a visitor id, a phone number, a WhatsApp id)."""

    __tablename__ = "contact_identities"
    __table_args__ = (UniqueConstraint("channel", "external_id", name="uq_identity_channel_external"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(20))
    external_id: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    contact: Mapped[Contact] = relationship(back_populates="identities")


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
    channel: Mapped[str] = mapped_column(String(20))
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
    # Visible only to the users named in `conversation_access` (models/routing_schema.py).
    restricted: Mapped[bool] = mapped_column(Boolean, default=False)
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


class AuditEvent(Base):
    """An append-only record of who did what. Survives the deletion of what it names."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor_user_id: Mapped[int | None] = mapped_column(Integer, default=None)
    conversation_id: Mapped[int | None] = mapped_column(Integer, default=None, index=True)
    kind: Mapped[str] = mapped_column(String(60))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)


# The channel tables (configs, outbox, attachments) share this metadata and are mapped with it.
# So do the routing tables (team settings, visibility, offers, transfers, timers).
import models.channels  # noqa: E402
import models.llm_schema  # noqa: E402  (knowledge base, LLM records, drafts: 0004_llm)
import models.routing_schema  # noqa: E402
import models.training_schema  # noqa: E402,F401  (bot studio: data versions, runs: 0005_training)
