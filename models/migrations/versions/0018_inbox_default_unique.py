"""inboxes: at most one default inbox per kind, held by a unique partial index

Two processes making the first webchat inbox of a fresh install at once could both mark theirs the
default. Existing duplicates keep the oldest as the default.

Revision ID: 0018_inbox_default_unique
Revises: 0017_outreach
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018_inbox_default_unique"
down_revision: str | Sequence[str] | None = "0017_outreach"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(sa.text(
        "UPDATE inboxes SET is_default = :no WHERE is_default = :yes AND id NOT IN "
        "(SELECT MIN(id) FROM inboxes WHERE is_default = :yes GROUP BY kind)").bindparams(no=False, yes=True))
    op.create_index("uq_inbox_default_kind", "inboxes", ["kind"], unique=True,
                    sqlite_where=sa.text("is_default"), postgresql_where=sa.text("is_default"))


def downgrade() -> None:
    op.drop_index("uq_inbox_default_kind", table_name="inboxes")
