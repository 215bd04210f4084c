"""Shapes of agent assist and the knowledge-base admin (console/api/assist.py)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from console.api.schemas.common import Flag, In, Message, Obj, Out, Timestamp


class Source(Out):
    id: str
    kind: str = Field(description="passage or action")
    title: str | None = None
    text: str | None = None
    passage_id: int | None = None


class Draft(Out):
    id: int
    mode: Literal["llm", "retrieval"]
    label: str
    question: str
    text: str
    sources: list[Source]
    intent: str | None
    outcome: Literal["sent_unchanged", "edited", "discarded"] | None
    created_at: Timestamp
    note: str | None = None


class DraftResult(Out):
    draft: Draft | None
    reason: str | None = Field(None, description="why there is no draft")
    message: str | None = None


class DraftText(In):
    text: str


class DraftSent(Out):
    message: Message
    draft: Draft


class IntentStats(Out):
    intent: str | None
    drafts: int
    sent_unchanged: int
    edited: int
    discarded: int
    pending: int
    unchanged_rate: float


class DraftStats(Out):
    intents: list[IntentStats]


class KnowledgeDocument(Out):
    id: int
    source: str = Field(description="data or upload")
    path: str
    title: str
    kind: str
    size_bytes: int
    passages: int | list[Obj] = Field(description="a count; the passages themselves for one document")
    updated_at: Timestamp


class KnowledgeOverview(Out):
    status: Obj
    documents: list[KnowledgeDocument]
    unanswered: list[Obj]
    answering_passages: list[Obj]
    drafts: list[IntentStats]
    llm_turns: Obj


class DocumentUpload(In):
    file: bytes = Field(json_schema_extra={"format": "binary"})


class SyncReport(Out):
    added: Any
    updated: Any
    removed: Any
    errors: list[Any]


class SearchQuery(In):
    q: str = Field(min_length=1, description="A customer's question.")


class Hit(Out):
    passage_id: int
    document_id: int | None = None
    document: str | None
    heading: str | None
    text: str
    score: float
    intent: str | None


class Hits(Out):
    hits: list[Hit]


class Questions(Out):
    unanswered: list[Obj]
    answering_passages: list[Obj]


class LlmAction(Out):
    id: int
    name: str
    description: str
    url_template: str
    param_name: str
    param_description: str | None
    param_pattern: str
    secret_env: str | None
    secret_header: str | None
    secret_set: bool
    timeout_seconds: float
    enabled: bool


class LlmActionList(Out):
    actions: list[LlmAction]


class LlmActionIn(In):
    name: str = Field(json_schema_extra={"pattern": "^[a-z][a-z0-9_]{2,59}$"})
    description: str
    url_template: str = Field(description="http(s) URL with {param_name} once, in the path")
    param_name: str
    param_description: str | None = None
    param_pattern: str = Field(description="A regular expression the whole value must match")
    secret_env: str | None = Field(None, description="Environment variable holding the secret")
    secret_header: str | None = "Authorization"
    timeout_seconds: float | None = Field(None, ge=0.1, le=30)
    enabled: Flag | None = None
