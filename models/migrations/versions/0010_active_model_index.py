"""the active bot model is decided by the database: index an engine's newest activation

Revision ID: 0010_active_model_index
Revises: 0009_identity_joined_at
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0010_active_model_index"
down_revision: str | Sequence[str] | None = "0009_identity_joined_at"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_bot_model_activations_engine_id", "bot_model_activations", ["engine", "id"])


def downgrade() -> None:
    op.drop_index("ix_bot_model_activations_engine_id", table_name="bot_model_activations")
