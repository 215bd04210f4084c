"""llm: knowledge base, retrieval log, per-turn LLM records, assist drafts, HTTP actions; handoff stages

Revision ID: 0004_llm
Revises: 0001
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_llm"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("handoff_packets") as batch:
        # Every bot stage's view of the message that was handed off (None on packets made before).
        batch.add_column(sa.Column("stages", sa.JSON(), nullable=True))

    op.create_table(
        "knowledge_documents",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("path", sa.String(length=300), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("uploaded_by_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.UniqueConstraint("source", "path", name="uq_knowledge_document_source_path"),
    )
    op.create_table(
        "knowledge_passages",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("document_id", sa.Integer(), sa.ForeignKey("knowledge_documents.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("heading", sa.String(length=300), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("intent", sa.String(length=100), nullable=True),
        sa.Column("embedding", sa.JSON(), nullable=True),
        sa.Column("embedding_model", sa.String(length=200), nullable=True),
    )
    op.create_index("ix_knowledge_passages_document_id", "knowledge_passages", ["document_id"])
    op.create_table(
        "knowledge_queries",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("purpose", sa.String(length=10), nullable=False),
        sa.Column("conversation_id", sa.Integer(), sa.ForeignKey("conversations.id", ondelete="SET NULL"),
                  nullable=True),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("searches", sa.JSON(), nullable=False),
        sa.Column("outcome", sa.String(length=12), nullable=False),
    )
    op.create_index("ix_knowledge_queries_conversation_id", "knowledge_queries", ["conversation_id"])
    op.create_index("ix_knowledge_queries_outcome_id", "knowledge_queries", ["outcome", "id"])
    op.create_table(
        "knowledge_citations",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("query_id", sa.Integer(), sa.ForeignKey("knowledge_queries.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("passage_id", sa.Integer(), sa.ForeignKey("knowledge_passages.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_knowledge_citations_query_id", "knowledge_citations", ["query_id"])
    op.create_index("ix_knowledge_citations_passage_id", "knowledge_citations", ["passage_id"])
    op.create_table(
        "llm_turns",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("purpose", sa.String(length=10), nullable=False),
        sa.Column("conversation_id", sa.Integer(), sa.ForeignKey("conversations.id", ondelete="SET NULL"),
                  nullable=True),
        sa.Column("query_id", sa.Integer(), sa.ForeignKey("knowledge_queries.id", ondelete="SET NULL"),
                  nullable=True),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("outcome", sa.String(length=10), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=True),
        sa.Column("input_tokens", sa.Integer(), nullable=False),
        sa.Column("output_tokens", sa.Integer(), nullable=False),
        sa.Column("total_tokens", sa.Integer(), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("model_calls", sa.Integer(), nullable=False),
        sa.Column("tool_calls", sa.JSON(), nullable=False),
        sa.Column("error", sa.String(length=500), nullable=True),
    )
    op.create_index("ix_llm_turns_created_at", "llm_turns", ["created_at"])
    op.create_index("ix_llm_turns_conversation_id", "llm_turns", ["conversation_id"])
    op.create_table(
        "assist_drafts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("conversation_id", sa.Integer(), sa.ForeignKey("conversations.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("intent", sa.String(length=100), nullable=True),
        sa.Column("mode", sa.String(length=10), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("sources", sa.JSON(), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=True),
        sa.Column("message_id", sa.Integer(), sa.ForeignKey("messages.id", ondelete="SET NULL"), nullable=True),
        sa.Column("decided_at", TS, nullable=True),
    )
    op.create_index("ix_assist_drafts_conversation_id", "assist_drafts", ["conversation_id"])
    op.create_table(
        "llm_actions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(length=60), nullable=False, unique=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("url_template", sa.String(length=500), nullable=False),
        sa.Column("param_name", sa.String(length=40), nullable=False),
        sa.Column("param_description", sa.String(length=300), nullable=False),
        sa.Column("param_pattern", sa.String(length=200), nullable=False),
        sa.Column("secret_env", sa.String(length=100), nullable=True),
        sa.Column("secret_header", sa.String(length=100), nullable=False),
        sa.Column("timeout_seconds", sa.Float(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("llm_actions")
    op.drop_index("ix_assist_drafts_conversation_id", table_name="assist_drafts")
    op.drop_table("assist_drafts")
    op.drop_index("ix_llm_turns_conversation_id", table_name="llm_turns")
    op.drop_index("ix_llm_turns_created_at", table_name="llm_turns")
    op.drop_table("llm_turns")
    op.drop_index("ix_knowledge_citations_passage_id", table_name="knowledge_citations")
    op.drop_index("ix_knowledge_citations_query_id", table_name="knowledge_citations")
    op.drop_table("knowledge_citations")
    op.drop_index("ix_knowledge_queries_outcome_id", table_name="knowledge_queries")
    op.drop_index("ix_knowledge_queries_conversation_id", table_name="knowledge_queries")
    op.drop_table("knowledge_queries")
    op.drop_index("ix_knowledge_passages_document_id", table_name="knowledge_passages")
    op.drop_table("knowledge_passages")
    op.drop_table("knowledge_documents")
    with op.batch_alter_table("handoff_packets") as batch:
        batch.drop_column("stages")
