"""inboxes: where a conversation lands (a webchat widget or a number, owned by a team)

Existing installations get one default inbox per channel in use, owned by the first team, and every
conversation is placed in its channel's default inbox, so nothing that worked before changes.

Revision ID: 0012_inboxes
Revises: 0011_bot_claims
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0012_inboxes"
down_revision: str | Sequence[str] | None = "0011_bot_claims"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "inboxes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("channel_config_id", sa.Integer(), nullable=True),
        sa.Column("widget_key", sa.String(length=40), nullable=True),
        sa.Column("secret", sa.String(length=64), nullable=True),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"]),
        sa.ForeignKeyConstraint(["channel_config_id"], ["channel_configs.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("channel_config_id", "kind", name="uq_inbox_config_kind"),
        sa.UniqueConstraint("widget_key"),
    )
    op.create_index("ix_inboxes_team_id", "inboxes", ["team_id"])
    _add_inbox_column()
    _default_inboxes()


def _add_inbox_column() -> None:
    """conversations.inbox_id with its foreign key. On SQLite a new foreign key means copying the table and
    dropping the old one, and with foreign keys on, that DROP deletes every message, assignment and
    handoff packet through their ON DELETE CASCADE. So foreign keys are turned off first (models/migrate.py
    turns them back on); where SQLite cannot (inside an open transaction) and there are conversations to
    keep, the column gets its REFERENCES inline instead (same behaviour, only reflected without its rule)."""
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        bind.exec_driver_sql("PRAGMA foreign_keys=OFF")
        still_on = bind.exec_driver_sql("PRAGMA foreign_keys").scalar()
        if still_on and bind.exec_driver_sql("SELECT 1 FROM conversations LIMIT 1").first() is not None:
            op.execute("ALTER TABLE conversations ADD COLUMN inbox_id INTEGER CONSTRAINT fk_conversations_inbox_id "
                       "REFERENCES inboxes (id) ON DELETE SET NULL")
            op.create_index("ix_conversations_inbox_id", "conversations", ["inbox_id"])
            return
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(sa.Column("inbox_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_conversations_inbox_id", "inboxes", ["inbox_id"], ["id"], ondelete="SET NULL")
        batch.create_index("ix_conversations_inbox_id", ["inbox_id"])


def _default_inboxes() -> None:
    bind = op.get_bind()
    team_id = bind.scalar(sa.text("SELECT id FROM teams ORDER BY id LIMIT 1"))
    if team_id is None:
        return  # a fresh database: inboxes are made with the first team
    inboxes = sa.table("inboxes", *(sa.column(c) for c in (
        "name", "kind", "team_id", "channel_config_id", "widget_key", "secret")),
        sa.column("is_default", sa.Boolean()), sa.column("options", sa.JSON()),
        sa.column("created_at", sa.DateTime(timezone=True)), sa.column("updated_at", sa.DateTime(timezone=True)))
    now = datetime.now(UTC)
    rows: list[dict[str, Any]] = [{"name": "Website", "kind": "webchat", "channel_config_id": None,
             "widget_key": "wk_" + secrets.token_urlsafe(18), "secret": secrets.token_hex(32)}]
    seen: set[str] = set()
    for cid, kind, name, options in bind.execute(sa.text(
            "SELECT id, kind, name, options FROM channel_configs ORDER BY id")).all():
        opts = json.loads(options) if isinstance(options, str) else options if isinstance(options, dict) else {}
        kinds = ["whatsapp"] if kind == "whatsapp_cloud" else ["sms"] + (["whatsapp"] if opts.get("whatsapp") else [])
        rows += [{"name": f"{name} ({k.upper() if k == 'sms' else 'WhatsApp'})", "kind": k, "channel_config_id": cid,
                  "widget_key": None, "secret": None} for k in kinds]
    for row in rows:
        row.update(team_id=team_id, options={}, created_at=now, updated_at=now,
                   is_default=row["kind"] not in seen)
        seen.add(str(row["kind"]))
    op.bulk_insert(inboxes, rows)
    for kind in seen:
        bind.execute(sa.text(
            "UPDATE conversations SET inbox_id = (SELECT id FROM inboxes WHERE kind = :k AND is_default) "
            "WHERE channel = :k"), {"k": kind})
    # An SMS/WhatsApp conversation belongs to the inbox of the number its messages came in on, when that
    # is known (a WhatsApp conversation through the Cloud API is not the Twilio number's).
    number_inbox = ("(SELECT i.id FROM inboxes i WHERE i.kind = conversations.channel AND i.channel_config_id = "
                    "(SELECT m.via_channel_id FROM messages m WHERE m.conversation_id = conversations.id "
                    "AND m.via_channel_id IS NOT NULL ORDER BY m.id LIMIT 1))")
    bind.execute(sa.text(f"UPDATE conversations SET inbox_id = {number_inbox} "
                         f"WHERE channel IN ('sms', 'whatsapp') AND {number_inbox} IS NOT NULL"))


def downgrade() -> None:
    with op.batch_alter_table("conversations") as batch:
        batch.drop_index("ix_conversations_inbox_id")
        batch.drop_constraint("fk_conversations_inbox_id", type_="foreignkey")
        batch.drop_column("inbox_id")
    op.drop_index("ix_inboxes_team_id", table_name="inboxes")
    op.drop_table("inboxes")
