"""reportsfast: each conversation's first intent and first bot message time, stored for the reports
(filled in from its messages)

Revision ID: 0020_reportsfast
Revises: 0019_awaiting_invitation
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020_reportsfast"
down_revision: str | Sequence[str] | None = "0019_awaiting_invitation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(sa.Column("first_intent", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("bot_first_at", sa.DateTime(timezone=True), nullable=True))
    # The intent of each conversation's first bot answer with one (what do_send_bot_reply stores from now on).
    op.execute(
        "UPDATE conversations SET first_intent = ("
        " SELECT m.bot_intent FROM messages m WHERE m.conversation_id = conversations.id"
        " AND m.sender_type = 'bot' AND m.bot_intent IS NOT NULL ORDER BY m.id LIMIT 1)"
        " WHERE id IN (SELECT conversation_id FROM messages WHERE sender_type = 'bot' AND bot_intent IS NOT NULL)")
    op.execute(
        "UPDATE conversations SET bot_first_at = ("
        " SELECT min(m.created_at) FROM messages m WHERE m.conversation_id = conversations.id AND m.sender_type = 'bot')"
        " WHERE id IN (SELECT conversation_id FROM messages WHERE sender_type = 'bot')")


def downgrade() -> None:
    with op.batch_alter_table("conversations") as batch:
        batch.drop_column("bot_first_at")
        batch.drop_column("first_intent")
