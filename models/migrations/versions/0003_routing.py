"""routing: team settings, visibility, presets, offers, transfers, timers; agent capacity and presence

Revision ID: 0003_routing
Revises: 0001
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_routing"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("capacity", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("console_seen_at", TS, nullable=True))
        batch.add_column(sa.Column("auto_offline_from", sa.String(length=20), nullable=True))
    with op.batch_alter_table("team_members") as batch:
        batch.add_column(sa.Column("last_routed_at", TS, nullable=True))
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(sa.Column("restricted", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("queued_at", TS, nullable=True))

    op.create_table(
        "team_routing",
        sa.Column("team_id", sa.Integer(), sa.ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("policy", sa.String(length=20), nullable=False),
        sa.Column("offer_timeout_seconds", sa.Integer(), nullable=True),
        sa.Column("transfer_timeout_seconds", sa.Integer(), nullable=False),
        sa.Column("idle_timeout_seconds", sa.Integer(), nullable=True),
        sa.Column("waiting_timeout_seconds", sa.Integer(), nullable=True),
        sa.Column("closing_message", sa.Text(), nullable=False),
        sa.Column("queue_message", sa.Text(), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_table(
        "conversation_access",
        sa.Column("conversation_id", sa.Integer(), sa.ForeignKey("conversations.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    )
    op.create_index("ix_conversation_access_user_id", "conversation_access", ["user_id"])
    op.create_table(
        "contact_presets",
        sa.Column("contact_id", sa.Integer(), sa.ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("kind", sa.String(length=10), primary_key=True),
    )
    op.create_table(
        "routing_offers",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("conversation_id", sa.Integer(), sa.ForeignKey("conversations.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("decided_at", TS, nullable=True),
    )
    op.create_index("ix_routing_offers_conversation_status", "routing_offers", ["conversation_id", "status"])
    op.create_index("ix_routing_offers_user_status", "routing_offers", ["user_id", "status"])
    op.create_table(
        "routing_transfers",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("conversation_id", sa.Integer(), sa.ForeignKey("conversations.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("from_user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
        sa.Column("to_user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
        sa.Column("to_team_id", sa.Integer(), sa.ForeignKey("teams.id", ondelete="SET NULL"), nullable=True),
        sa.Column("from_team_id", sa.Integer(), sa.ForeignKey("teams.id", ondelete="SET NULL"), nullable=True),
        sa.Column("requested_by_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="SET NULL"),
                  nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=True),
        sa.Column("decided_at", TS, nullable=True),
    )
    op.create_index("ix_routing_transfers_conversation_status", "routing_transfers",
                    ["conversation_id", "status"])
    op.create_index("ix_routing_transfers_to_user_id", "routing_transfers", ["to_user_id"])
    op.create_table(
        "routing_timers",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("conversation_id", sa.Integer(), sa.ForeignKey("conversations.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("ref_id", sa.Integer(), nullable=False),
        sa.Column("due_at", TS, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("kind", "conversation_id", "ref_id", name="uq_routing_timer"),
    )
    op.create_index("ix_routing_timers_due_at", "routing_timers", ["due_at"])


def downgrade() -> None:
    op.drop_table("routing_timers")
    op.drop_table("routing_transfers")
    op.drop_table("routing_offers")
    op.drop_table("contact_presets")
    op.drop_table("conversation_access")
    op.drop_table("team_routing")
    with op.batch_alter_table("conversations") as batch:
        batch.drop_column("queued_at")
        batch.drop_column("restricted")
    with op.batch_alter_table("team_members") as batch:
        batch.drop_column("last_routed_at")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("auto_offline_from")
        batch.drop_column("console_seen_at")
        batch.drop_column("capacity")
