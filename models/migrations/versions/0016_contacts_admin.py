"""contacts admin: blocking with who/when/why (replaces `blacklisted`), blocked contacts' messages kept
apart, conversation names

A contact that was blacklisted becomes blocked as of the upgrade, by nobody in particular, with no reason.

Revision ID: 0016_contacts_admin
Revises: 0015_reports
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0016_contacts_admin"
down_revision: str | Sequence[str] | None = "0015_reports"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("contacts") as batch:
        batch.add_column(sa.Column("blocked_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("blocked_by", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("blocked_reason", sa.String(length=250), nullable=True))
        batch.create_foreign_key("fk_contacts_blocked_by", "users", ["blocked_by"], ["id"], ondelete="SET NULL")
    op.get_bind().execute(sa.text("UPDATE contacts SET blocked_at = :now WHERE blacklisted"),
                          {"now": datetime.now(UTC)})
    with op.batch_alter_table("contacts") as batch:
        batch.drop_column("blacklisted")
    op.create_table(
        "blocked_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("provider_message_id", sa.String(length=200), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("media_count", sa.Integer(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("channel", "provider_message_id", name="uq_blocked_channel_provider_id"),
    )
    op.create_index("ix_blocked_messages_contact_id", "blocked_messages", ["contact_id"])
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(sa.Column("name", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("conversations") as batch:
        batch.drop_column("name")
    op.drop_index("ix_blocked_messages_contact_id", table_name="blocked_messages")
    op.drop_table("blocked_messages")
    with op.batch_alter_table("contacts") as batch:
        batch.add_column(sa.Column("blacklisted", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.get_bind().execute(sa.text("UPDATE contacts SET blacklisted = (blocked_at IS NOT NULL)"))
    with op.batch_alter_table("contacts") as batch:
        batch.drop_constraint("fk_contacts_blocked_by", type_="foreignkey")
        batch.drop_column("blocked_reason")
        batch.drop_column("blocked_by")
        batch.drop_column("blocked_at")
