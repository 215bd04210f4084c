"""conversations.awaiting_invitation: a started session whose invitation has not gone out (an agent's
reply then needs no query to know it may not reach the customer)

Revision ID: 0019_awaiting_invitation
Revises: 0018_inbox_default_unique
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019_awaiting_invitation"
down_revision: str | Sequence[str] | None = "0018_inbox_default_unique"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(sa.Column("awaiting_invitation", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.execute(sa.text("UPDATE conversations SET awaiting_invitation = :yes WHERE id IN "
                       "(SELECT conversation_id FROM invitations WHERE sent_at IS NULL)").bindparams(yes=True))


def downgrade() -> None:
    with op.batch_alter_table("conversations") as batch:
        batch.drop_column("awaiting_invitation")
