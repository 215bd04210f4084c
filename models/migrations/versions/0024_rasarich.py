"""rasarich: a bot message's buttons and image (`messages.rich`, JSON)

Revision ID: 0024_rasarich
Revises: 0023_widgetsdk
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024_rasarich"
down_revision: str | Sequence[str] | None = "0023_widgetsdk"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("rich", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("rich")
