"""Tables of the LLM agent: the knowledge base, what each question found, per-turn LLM records,
agent-assist drafts and the admin-configured HTTP actions.

Imported at the end of `models.schema`, so `Base.metadata` always has them. Created by migration
`0004_llm`.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.schema.base import Base, utcnow


class DocumentSource(StrEnum):
    DATA = "data"  # a file under data/knowledge/, kept in step with the folder
    UPLOAD = "upload"  # uploaded by an admin in the console


class QueryOutcome(StrEnum):
    ANSWERED = "answered"  # the bot answered from the cited passages
    NO_SOURCE = "no_source"  # nothing retrieved, or nothing the answer could be grounded in
    HANDOFF = "handoff"  # the agent handed off for another reason (customer asked, policy, ...)
    ERROR = "error"  # the model or a tool failed
    DRAFTED = "drafted"  # an agent-assist draft was made from the passages


class DraftOutcome(StrEnum):
    SENT_UNCHANGED = "sent_unchanged"
    EDITED = "edited"
    DISCARDED = "discarded"


class KnowledgeDocument(Base):
    __tablename__ = "knowledge_documents"
    __table_args__ = (UniqueConstraint("source", "path", name="uq_knowledge_document_source_path"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(10))
    # data/: the path relative to data/knowledge; uploads: a unique key made from the file name.
    path: Mapped[str] = mapped_column(String(300))
    title: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(10))  # markdown | text | pdf | faq
    content_hash: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(Integer, default=0)
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    passages: Mapped[list[KnowledgePassage]] = relationship(
        back_populates="document", cascade="all, delete-orphan", order_by="KnowledgePassage.position"
    )


class KnowledgePassage(Base):
    __tablename__ = "knowledge_passages"

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("knowledge_documents.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    # Where it sits in its document ("Shipping > Costs", see HEADING_SEP): shown with the passage,
    # weighted in search.
    heading: Mapped[str] = mapped_column(String(300), default="")
    text: Mapped[str] = mapped_column(Text)
    # An FAQ entry may name the intent it answers; an answer citing it reports that intent.
    intent: Mapped[str | None] = mapped_column(String(100), default=None)
    # Filled only when an embedding model is configured; `embedding_model` says which made it.
    embedding: Mapped[list[Any] | None] = mapped_column(default=None)
    embedding_model: Mapped[str | None] = mapped_column(String(200), default=None)

    document: Mapped[KnowledgeDocument] = relationship(back_populates="passages")


class KnowledgeQuery(Base):
    """One customer question (or agent-assist request) and what retrieval found for it."""

    __tablename__ = "knowledge_queries"
    __table_args__ = (Index("ix_knowledge_queries_outcome_id", "outcome", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    purpose: Mapped[str] = mapped_column(String(10))  # bot | assist
    conversation_id: Mapped[int | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="SET NULL"), default=None, index=True
    )
    question: Mapped[str] = mapped_column(Text)
    # [{"query": "...", "hits": [{"passage_id": 3, "score": 4.2}]}], one entry per search made.
    searches: Mapped[list[Any]] = mapped_column(default=list)
    outcome: Mapped[str] = mapped_column(String(12))

    citations: Mapped[list[KnowledgeCitation]] = relationship(cascade="all, delete-orphan")


class KnowledgeCitation(Base):
    """A passage an answer (or a draft) was grounded in."""

    __tablename__ = "knowledge_citations"

    id: Mapped[int] = mapped_column(primary_key=True)
    query_id: Mapped[int] = mapped_column(ForeignKey("knowledge_queries.id", ondelete="CASCADE"), index=True)
    passage_id: Mapped[int] = mapped_column(ForeignKey("knowledge_passages.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LlmTurn(Base):
    """One run of the model for one purpose: cost (tokens) and latency, what it did, how it ended."""

    __tablename__ = "llm_turns"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    purpose: Mapped[str] = mapped_column(String(10))  # bot | assist | summary
    conversation_id: Mapped[int | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="SET NULL"), default=None, index=True
    )
    query_id: Mapped[int | None] = mapped_column(
        ForeignKey("knowledge_queries.id", ondelete="SET NULL"), default=None
    )
    model: Mapped[str] = mapped_column(String(200))
    outcome: Mapped[str] = mapped_column(String(10))  # answer | handoff | error
    reason: Mapped[str | None] = mapped_column(String(40), default=None)
    input_tokens: Mapped[int] = mapped_column(Integer, default=0)
    output_tokens: Mapped[int] = mapped_column(Integer, default=0)
    total_tokens: Mapped[int] = mapped_column(Integer, default=0)
    latency_ms: Mapped[float] = mapped_column(Float, default=0.0)
    model_calls: Mapped[int] = mapped_column(Integer, default=0)
    tool_calls: Mapped[list[Any]] = mapped_column(default=list)  # [{"name", "ok"}]
    error: Mapped[str | None] = mapped_column(String(500), default=None)


class AssistDraft(Base):
    """A reply drafted for an agent, and what the agent did with it."""

    __tablename__ = "assist_drafts"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    intent: Mapped[str | None] = mapped_column(String(100), default=None)
    mode: Mapped[str] = mapped_column(String(10))  # llm | retrieval
    question: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    sources: Mapped[list[Any]] = mapped_column(default=list)
    outcome: Mapped[str | None] = mapped_column(String(20), default=None)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"), default=None)
    decided_at: Mapped[datetime | None] = mapped_column(default=None)


class LlmAction(Base):
    """An HTTP call the agent may make, configured by an admin (e.g. order lookup by number).

    The secret (an API key) is never stored here nor shown to the model: `secret_env` names the
    environment variable whose value is sent in `secret_header` at call time.
    """

    __tablename__ = "llm_actions"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(60), unique=True)
    description: Mapped[str] = mapped_column(Text)
    url_template: Mapped[str] = mapped_column(String(500))  # e.g. https://shop.example/api/orders/{order_number}
    param_name: Mapped[str] = mapped_column(String(40))
    param_description: Mapped[str] = mapped_column(String(300), default="")
    param_pattern: Mapped[str] = mapped_column(String(200))  # a full-match regex the value must satisfy
    secret_env: Mapped[str | None] = mapped_column(String(100), default=None)
    secret_header: Mapped[str] = mapped_column(String(100), default="Authorization")
    timeout_seconds: Mapped[float] = mapped_column(Float, default=5.0)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
