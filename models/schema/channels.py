"""Tables of the SMS and WhatsApp channels: provider configurations, the outbox, attachments.

Imported at the end of `models.schema`, so `Base.metadata` (migrations, tests) always sees them.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from models.schema.base import Base, utcnow


class ProviderKind(StrEnum):
    TWILIO = "twilio"
    WHATSAPP_CLOUD = "whatsapp_cloud"


class OutboxState(StrEnum):
    PENDING = "pending"  # stored, waiting for its (next) attempt
    SENDING = "sending"  # claimed by a worker until `lease_until`
    UNCONFIRMED = "unconfirmed"  # the request may have reached the provider: reconcile, never resend blindly
    SENT = "sent"  # the provider accepted it (its id is on the message)
    FAILED = "failed"  # given up: shown to the agent with a retry action


class AttachmentState(StrEnum):
    PENDING = "pending"  # inbound media not fetched yet
    READY = "ready"
    REFUSED = "refused"  # too large, or a type that is not allowed
    FAILED = "failed"  # could not be fetched


# Delivery statuses only move forward. `failed` ranks above `sent` (a failure report beats the
# earlier "sent") but below `delivered`/`read` (proof it arrived beats a late or stray failure).
DELIVERY_RANK = {"queued": 0, "sent": 1, "failed": 2, "delivered": 3, "read": 4}


@dataclass(frozen=True)
class StatusReport:
    """A provider's delivery status for a message we sent (connectors map their words to ours)."""

    provider_message_id: str
    status: str  # queued | sent | delivered | read | failed
    error_code: str | None = None
    error_message: str | None = None
    ref: str | None = None  # our outbox reference, echoed back by the provider


def new_attachment_id() -> str:
    return "a_" + secrets.token_urlsafe(18)


class ChannelConfig(Base):
    """One provider account/number. Secrets live in `secrets` and are never shown back or logged."""

    __tablename__ = "channel_configs"
    __table_args__ = (UniqueConstraint("kind", "address", name="uq_channel_config_kind_address"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(120))
    # Twilio: our number in E.164. Cloud API: the phone number id.
    address: Mapped[str] = mapped_column(String(64))
    # Twilio: the account SID. Cloud API: the WhatsApp Business Account id (optional).
    account: Mapped[str | None] = mapped_column(String(64), default=None)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    secrets: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Non-secret options (e.g. Twilio `messaging_service_sid`, `whatsapp: true`).
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # [{"name": "order_update", "provider_id": "HX…|template_name", "language": "en",
    #   "body": "Your order {{1}} …", "variables": ["order number"]}]
    templates: Mapped[list[Any]] = mapped_column(default=list)
    source: Mapped[str] = mapped_column(String(10), default="admin")  # "admin" | "env"
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    def secret(self, key: str) -> str:
        value = (self.secrets or {}).get(key)
        return value if isinstance(value, str) else ""

    def __repr__(self) -> str:  # never the secrets
        return f"<ChannelConfig {self.id} {self.kind} {self.address}>"


class InboxKind(StrEnum):
    WEBCHAT = "webchat"
    SMS = "sms"
    WHATSAPP = "whatsapp"


def new_widget_key() -> str:
    return "wk_" + secrets.token_urlsafe(18)


class Inbox(Base):
    """Where a conversation lands: one channel endpoint owned by a team. A webchat widget (a site: its
    own `widget_key` in the script tag, its allowed origins, greeting, colour and title in `options`),
    or an SMS / WhatsApp number (`channel_config_id`). A new conversation goes to its inbox's team.
    `is_default` marks the inbox a channel's traffic lands in when nothing names another."""

    __tablename__ = "inboxes"
    __table_args__ = (
        UniqueConstraint("channel_config_id", "kind", name="uq_inbox_config_kind"),
        # One default per kind, held by the database: two processes making the first webchat inbox at once
        # cannot both mark theirs the default (the loser re-reads the winner's).
        Index("uq_inbox_default_kind", "kind", unique=True, sqlite_where=text("is_default"),
              postgresql_where=text("is_default")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(20))
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"), index=True)
    channel_config_id: Mapped[int | None] = mapped_column(
        ForeignKey("channel_configs.id", ondelete="SET NULL"), default=None)
    widget_key: Mapped[str | None] = mapped_column(String(40), unique=True, default=None)
    # The widget's identity-verification secret (HMAC of a site's user id), never shown back in lists.
    secret: Mapped[str | None] = mapped_column(String(64), default=None)
    # Webchat: {"origins": [...], "greeting": str, "color": "#rrggbb", "title": str, ...}.
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:
        return f"<Inbox {self.id} {self.kind} {self.name!r}>"


class OutboxItem(Base):
    """One outbound message to send through a provider: stored in the same transaction as the
    message, sent by the worker, retried with backoff, never sent twice (see models/outbox.py)."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_state_due", "state", "next_attempt_at"),
        Index("ix_outbox_conversation_state", "conversation_id", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), unique=True)
    # A conversation's messages go out in order: a later one waits while an earlier one is in flight.
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(20))
    channel_config_id: Mapped[int | None] = mapped_column(
        ForeignKey("channel_configs.id", ondelete="SET NULL"), default=None)
    to_address: Mapped[str] = mapped_column(String(64))
    # {"template": {"name", "language", "variables"}} and/or {"attachments": [attachment ids]}
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    state: Mapped[str] = mapped_column(String(12), default=OutboxState.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    lease_until: Mapped[datetime | None] = mapped_column(default=None)
    # Who holds the current claim: a worker records its result only while its token still holds.
    claim_token: Mapped[str | None] = mapped_column(String(32), default=None)
    # When the attempt that may have reached the provider began (reconciliation looks from here).
    attempt_started_at: Mapped[datetime | None] = mapped_column(default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    error_code: Mapped[str | None] = mapped_column(String(40), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Attachment(Base):
    """A file on a message. Served only to users who may see its conversation, by an unguessable id."""

    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(40), unique=True, default=new_attachment_id)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), index=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(255), default="file")
    # The sniffed type once stored (never the one the sender claimed).
    content_type: Mapped[str | None] = mapped_column(String(120), default=None)
    extension: Mapped[str | None] = mapped_column(String(10), default=None)
    size: Mapped[int | None] = mapped_column(Integer, default=None)
    sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    storage_key: Mapped[str | None] = mapped_column(String(80), default=None)
    state: Mapped[str] = mapped_column(String(10), default=AttachmentState.PENDING.value)
    error: Mapped[str | None] = mapped_column(String(300), default=None)
    # Inbound: where to fetch it (a Twilio media URL or a Cloud API media id) and with which account.
    source_ref: Mapped[str | None] = mapped_column(Text, default=None)
    channel_config_id: Mapped[int | None] = mapped_column(
        ForeignKey("channel_configs.id", ondelete="SET NULL"), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
