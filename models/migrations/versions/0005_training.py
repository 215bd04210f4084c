"""training: bot studio (training-data versions, training/evaluation runs, model activations, learnt messages)

Revision ID: 0005_training
Revises: 0001
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_training"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "bot_data_versions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("author_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
        sa.Column("author_name", sa.String(length=200), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("data_hash_before", sa.String(length=64), nullable=True),
        sa.Column("data_hash_after", sa.String(length=64), nullable=False),
        sa.Column("files", sa.JSON(), nullable=False),
        sa.Column("restored_from_id", sa.Integer(), nullable=True),
    )
    op.create_index("ix_bot_data_versions_created_at", "bot_data_versions", ["created_at"])
    op.create_index("ix_bot_data_versions_data_hash_after", "bot_data_versions", ["data_hash_after"])

    op.create_table(
        "bot_training_runs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("engine", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("stage", sa.String(length=300), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("requested_by_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
        sa.Column("data_version_id", sa.Integer(), nullable=True),
        sa.Column("model_version", sa.String(length=100), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("started_at", TS, nullable=True),
        sa.Column("finished_at", TS, nullable=True),
        sa.Column("heartbeat_at", TS, nullable=True),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.create_index("ix_bot_training_runs_status", "bot_training_runs", ["status"])
    op.create_index("ix_bot_training_runs_model_version", "bot_training_runs", ["model_version"])
    op.create_index("ix_bot_training_runs_created_at", "bot_training_runs", ["created_at"])

    op.create_table(
        "bot_model_activations",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("engine", sa.String(length=20), nullable=False),
        sa.Column("version", sa.String(length=100), nullable=False),
        sa.Column("previous_version", sa.String(length=100), nullable=True),
        sa.Column("actor_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
        sa.Column("actor_name", sa.String(length=200), nullable=False),
        sa.Column("note", sa.String(length=40), nullable=False),
    )
    op.create_index("ix_bot_model_activations_created_at", "bot_model_activations", ["created_at"])

    op.create_table(
        "bot_learned_messages",
        sa.Column("message_id", sa.Integer(), sa.ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("action", sa.String(length=12), nullable=False),
        sa.Column("intent", sa.String(length=100), nullable=True),
        sa.Column("data_version_id", sa.Integer(), nullable=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
        sa.Column("created_at", TS, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("bot_learned_messages")
    op.drop_index("ix_bot_model_activations_created_at", table_name="bot_model_activations")
    op.drop_table("bot_model_activations")
    op.drop_index("ix_bot_training_runs_created_at", table_name="bot_training_runs")
    op.drop_index("ix_bot_training_runs_model_version", table_name="bot_training_runs")
    op.drop_index("ix_bot_training_runs_status", table_name="bot_training_runs")
    op.drop_table("bot_training_runs")
    op.drop_index("ix_bot_data_versions_data_hash_after", table_name="bot_data_versions")
    op.drop_index("ix_bot_data_versions_created_at", table_name="bot_data_versions")
    op.drop_table("bot_data_versions")
