"""reports: agents' availability and assignment history, background exports, and the indexes the reports read by

Availability history starts with this migration: earlier changes are only in the audit log.

Revision ID: 0015_reports
Revises: 0014_integrations
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_reports"
down_revision: str | Sequence[str] | None = "0014_integrations"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = (
    ("ix_conversations_created_at", "conversations", ["created_at"]),
    ("ix_conversations_handed_off_at", "conversations", ["handed_off_at"]),
    ("ix_conversations_closed_at", "conversations", ["closed_at"]),
    ("ix_messages_sender_created", "messages", ["sender_type", "created_at"]),
    ("ix_handoff_packets_created_at", "handoff_packets", ["created_at"]),
    ("ix_audit_events_kind_created", "audit_events", ["kind", "created_at"]),
    ("ix_routing_transfers_decided_at", "routing_transfers", ["decided_at"]),
    ("ix_routing_offers_decided_at", "routing_offers", ["decided_at"]),
    ("ix_assist_drafts_created_at", "assist_drafts", ["created_at"]),
)


def upgrade() -> None:
    op.create_table(
        "availability_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_availability_changes_user_changed", "availability_changes", ["user_id", "changed_at"])
    op.create_table(
        "assignment_periods",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_assignment_periods_conversation_user", "assignment_periods", ["conversation_id", "user_id"])
    op.create_index("ix_assignment_periods_user_started", "assignment_periods", ["user_id", "started_at"])
    # Assignments standing now open a period each; earlier history was not recorded.
    op.execute("INSERT INTO assignment_periods (conversation_id, user_id, started_at) "
               "SELECT conversation_id, user_id, assigned_at FROM assignments")
    op.create_table(
        "export_jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=40), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("format", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("storage_key", sa.String(length=200), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("public_id"),
    )
    op.create_index("ix_export_jobs_user_id", "export_jobs", ["user_id"])
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
    op.drop_index("ix_export_jobs_user_id", table_name="export_jobs")
    op.drop_table("export_jobs")
    op.drop_index("ix_assignment_periods_user_started", table_name="assignment_periods")
    op.drop_index("ix_assignment_periods_conversation_user", table_name="assignment_periods")
    op.drop_table("assignment_periods")
    op.drop_index("ix_availability_changes_user_changed", table_name="availability_changes")
    op.drop_table("availability_changes")
