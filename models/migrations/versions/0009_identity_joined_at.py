"""contact identities: joined_at, when the identity joined its contact (made, linked or merged in)

A webchat browser is shown only what was said since its identity joined the contact, so a merge
never opens the kept contact's earlier conversation to the merged visitor's widget.

Revision ID: 0009_identity_joined_at
Revises: 0008_sessions_tokens
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_identity_joined_at"
down_revision: str | Sequence[str] | None = "0008_sessions_tokens"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("contact_identities") as batch:
        batch.add_column(sa.Column("joined_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE contact_identities SET joined_at = created_at")
    with op.batch_alter_table("contact_identities") as batch:
        batch.alter_column("joined_at", existing_type=sa.DateTime(timezone=True), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("contact_identities") as batch:
        batch.drop_column("joined_at")
