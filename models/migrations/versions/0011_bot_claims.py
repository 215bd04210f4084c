"""bot claims: the lease one process holds while it runs the bot on a conversation

Revision ID: 0011_bot_claims
Revises: 0010_active_model_index
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_bot_claims"
down_revision: str | Sequence[str] | None = "0010_active_model_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(sa.Column("bot_claim_token", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("bot_claim_until", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("conversations") as batch:
        batch.drop_column("bot_claim_until")
        batch.drop_column("bot_claim_token")
