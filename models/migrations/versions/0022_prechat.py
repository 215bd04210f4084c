"""prechat: the end-of-chat rating a webchat customer gives (one per conversation)

Revision ID: 0022_prechat
Revises: 0021_invoices
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022_prechat"
down_revision: str | Sequence[str] | None = "0021_invoices"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "conversation_ratings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("score", sa.SmallInteger(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("score >= 1 AND score <= 5", name="ck_conversation_ratings_score"),
        sa.CheckConstraint("comment IS NULL OR length(comment) <= 1000", name="ck_conversation_ratings_comment"),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["agent_id"], ["users.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("conversation_id"),
    )
    op.create_index("ix_conversation_ratings_agent_id", "conversation_ratings", ["agent_id"])


def downgrade() -> None:
    op.drop_index("ix_conversation_ratings_agent_id", table_name="conversation_ratings")
    op.drop_table("conversation_ratings")
