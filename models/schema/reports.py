"""Reporting tables: agents' availability history, assignment history and background exports; and the
indexes the reports read by (declared here, beside the tables they serve, so the report queries' needs
are in one place).

Availability was only in the audit log before (a JSON payload, stamped by the database's clock);
`availability_changes` is written by `models.routing.availability.do_set_availability` with the time
of the change, from migration 0015_reports on: time online/away is known from then.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.schema.accounts import AuditEvent
from models.schema.base import Base, utcnow
from models.schema.conversations import Conversation, HandoffPacket, Message
from models.schema.llm import AssistDraft
from models.schema.routing import Offer, Transfer


class AvailabilityChange(Base):
    """An agent's availability from `changed_at` until their next change."""

    __tablename__ = "availability_changes"
    __table_args__ = (Index("ix_availability_changes_user_changed", "user_id", "changed_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(20))
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)


class AssignmentPeriod(Base):
    """An agent assigned to a conversation from `started_at` until `ended_at` (None: still assigned).

    `assignments` holds only who is assigned now; this keeps who was, written where assignees change
    (`models.conversations.assignment._set_assignees`), from migration 0015_reports on (which opened a
    period for every assignment standing then)."""

    __tablename__ = "assignment_periods"
    __table_args__ = (Index("ix_assignment_periods_conversation_user", "conversation_id", "user_id"),
                      Index("ix_assignment_periods_user_started", "user_id", "started_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(default=None)


class ExportStatus:
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class ExportJob(Base):
    """A large export written to shared storage in the background, fetched by its owner when done."""

    __tablename__ = "export_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(40), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    format: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(10), default=ExportStatus.RUNNING)
    total: Mapped[int] = mapped_column(Integer, default=0)
    done: Mapped[int] = mapped_column(Integer, default=0)
    storage_key: Mapped[str] = mapped_column(String(200))
    error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)


# What the reports filter on by time (migration 0015_reports).
REPORT_INDEXES = (
    Index("ix_conversations_created_at", Conversation.created_at),
    Index("ix_conversations_handed_off_at", Conversation.handed_off_at),
    Index("ix_conversations_closed_at", Conversation.closed_at),
    Index("ix_messages_sender_created", Message.sender_type, Message.created_at),
    Index("ix_handoff_packets_created_at", HandoffPacket.created_at),
    Index("ix_audit_events_kind_created", AuditEvent.kind, AuditEvent.created_at),
    Index("ix_routing_transfers_decided_at", Transfer.decided_at),
    Index("ix_routing_offers_decided_at", Offer.decided_at),
    Index("ix_assist_drafts_created_at", AssistDraft.created_at),
)
