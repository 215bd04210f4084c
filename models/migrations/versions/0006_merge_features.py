"""merge the channels, routing, LLM and training branches

Four features were built side by side, each migrating from 0001; this joins them into one head.

Revision ID: 0006_merge_features
Revises: 0002_channels, 0003_routing, 0004_llm, 0005_training
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0006_merge_features"
down_revision: str | Sequence[str] | None = ("0002_channels", "0003_routing", "0004_llm", "0005_training")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
