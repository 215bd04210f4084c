"""widget SDK: a contact's and a conversation's custom attributes (`Parley.setAttributes`), the page a
webchat conversation started on and its referrer; every webchat inbox gets an identity-verification secret

Revision ID: 0023_widgetsdk
Revises: 0022_prechat
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023_widgetsdk"
down_revision: str | Sequence[str] | None = "0022_prechat"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("contacts") as batch:
        batch.add_column(sa.Column("custom_attributes", sa.JSON(), nullable=True))
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(sa.Column("page_url", sa.String(length=2000), nullable=True))
        batch.add_column(sa.Column("referrer", sa.String(length=2000), nullable=True))
        batch.add_column(sa.Column("custom_attributes", sa.JSON(), nullable=True))
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT id FROM inboxes WHERE kind = 'webchat' AND secret IS NULL")).all()
    for (inbox_id,) in rows:
        bind.execute(sa.text("UPDATE inboxes SET secret = :s WHERE id = :i"),
                     {"s": secrets.token_hex(32), "i": inbox_id})


def downgrade() -> None:
    with op.batch_alter_table("conversations") as batch:
        batch.drop_column("custom_attributes")
        batch.drop_column("referrer")
        batch.drop_column("page_url")
    with op.batch_alter_table("contacts") as batch:
        batch.drop_column("custom_attributes")
