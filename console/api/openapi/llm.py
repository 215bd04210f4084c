"""The OpenAPI description of agent assist and the knowledge-base admin (console/api_assist.py;
merged into console/openapi.py)."""

from __future__ import annotations

from typing import Any

from console.api.openapi.parts import op as _op
from console.api.openapi.parts import path_param as _path
from console.api.openapi.parts import ref as _ref

_CONV = _path("id", "string", "The conversation's public id.")


_DRAFT = _path("draft_id", description="The draft's id.")


_DOC = _path("document_id", description="The document's id.")


_ACTION = _path("action_id", description="The action's id.")


def paths() -> dict[str, Any]:
    decided = ("401", "404", "409")
    return {
        "/conversations/{id}/assist/drafts": {"post": _op(
            "Draft a reply to the customer's latest messages from the knowledge base", _ref("DraftResult"),
            status="201", params=[_CONV], errors=("401", "404", "422"),
            description="With a model configured the LLM agent drafts it (grounded-or-nothing, sources shown; "
                        "`mode: llm`). Without one, the draft is the best-matching passage (`mode: retrieval`), "
                        "labelled as such. 200 with `draft: null` and a `reason` when nothing answers it. 422 "
                        "while the bot owns the conversation.")},
        "/conversations/{id}/assist/drafts/{draft_id}/send": {"post": _op(
            "Send the (possibly edited) draft to the customer", _ref("DraftSent"), status="201",
            params=[_CONV, _DRAFT], errors=("400", *decided, "413", "422"),
            description="Records the outcome: `sent_unchanged` (same text, whitespace aside) or `edited`.",
            body={"type": "object", "required": ["text"], "properties": {"text": {"type": "string"}}})},
        "/conversations/{id}/assist/drafts/{draft_id}/discard": {"post": _op(
            "Discard the draft (outcome `discarded`)", _ref("DraftResult"), params=[_CONV, _DRAFT], errors=decided)},
        "/assist/stats": {"get": _op("Draft outcomes per intent (supervisors, admins)", _ref("DraftStats"),
                                     errors=("401", "403"))},
        "/admin/knowledge": {"get": _op(
            "The LLM stage's status, the documents, questions that found nothing, passages that answered, "
            "draft outcomes and model-run figures (admins)", {"description": "OK"}, errors=("401", "403"))},
        "/admin/knowledge/documents": {"post": {
            **_op("Upload a document: Markdown, text, PDF or an FAQ file (admins); the same name replaces it",
                  _ref("KnowledgeDocument"), status="201", errors=("400", "401", "403", "413")),
            "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                "type": "object", "properties": {"file": {"type": "string", "format": "binary"}}}}}}}},
        "/admin/knowledge/documents/{document_id}": {
            "get": _op("A document and its passages (admins)", _ref("KnowledgeDocument"), params=[_DOC],
                       errors=("401", "403", "404")),
            "delete": _op("Delete an uploaded document (admins; data/knowledge files are edited there)", None,
                          status="204", params=[_DOC], errors=("401", "403", "404", "422")),
        },
        "/admin/knowledge/sync": {"post": _op("Read data/knowledge/ again (admins)", {"description": "Report"},
                                              errors=("401", "403"))},
        "/admin/knowledge/search": {"get": _op(
            "What the bot's search finds for a question (admins)", {"description": "Hits"},
            errors=("400", "401", "403"),
            params=[{"name": "q", "in": "query", "required": True, "schema": {"type": "string"}}])},
        "/admin/knowledge/questions": {"get": _op("Questions that found nothing, passages that answered (admins)",
                                                  {"description": "OK"}, errors=("401", "403"))},
        "/admin/llm/actions": {
            "get": _op("The agent's HTTP actions (admins)", {"description": "OK"}, errors=("401", "403")),
            "post": _op("Create or replace (by name) an HTTP action (admins)", _ref("LlmAction"), status="201",
                        errors=("400", "401", "403"), body={"$ref": "#/components/schemas/LlmAction"}),
        },
        "/admin/llm/actions/{action_id}": {"delete": _op("Delete an HTTP action (admins)", None, status="204",
                                                         params=[_ACTION], errors=("401", "403", "404"))},
    }


def schemas() -> dict[str, Any]:
    source = {"type": "object", "properties": {
        "id": {"type": "string"}, "kind": {"enum": ["passage", "action"]}, "title": {"type": "string"},
        "text": {"type": "string"}, "passage_id": {"type": ["integer", "null"]}}}
    draft = {"type": "object", "properties": {
        "id": {"type": "integer"}, "mode": {"enum": ["llm", "retrieval"]}, "label": {"type": "string"},
        "question": {"type": "string"}, "text": {"type": "string"}, "sources": {"type": "array", "items": source},
        "intent": {"type": ["string", "null"]},
        "outcome": {"enum": ["sent_unchanged", "edited", "discarded", None]},
        "created_at": {"type": "string", "format": "date-time"}}}
    return {
        "Draft": draft,
        "DraftResult": {"type": "object", "properties": {
            "draft": {"oneOf": [{"$ref": "#/components/schemas/Draft"}, {"type": "null"}]},
            "reason": {"type": "string"}, "message": {"type": "string"}}},
        "DraftSent": {"type": "object", "properties": {
            "message": {"$ref": "#/components/schemas/Message"}, "draft": {"$ref": "#/components/schemas/Draft"}}},
        "DraftStats": {"type": "object", "properties": {"intents": {"type": "array", "items": {
            "type": "object", "properties": {k: {"type": "integer"} for k in (
                "drafts", "sent_unchanged", "edited", "discarded", "pending")}}}}},
        "KnowledgeDocument": {"type": "object", "properties": {
            "id": {"type": "integer"}, "source": {"enum": ["data", "upload"]}, "path": {"type": "string"},
            "title": {"type": "string"}, "kind": {"enum": ["markdown", "text", "pdf", "faq"]},
            "passages": {"type": ["integer", "array"]}}},
        "LlmAction": {"type": "object", "required": ["name", "description", "url_template", "param_name",
                                                     "param_pattern"], "properties": {
            "name": {"type": "string", "pattern": "^[a-z][a-z0-9_]{2,59}$"}, "description": {"type": "string"},
            "url_template": {"type": "string", "description": "http(s) URL with {param_name} once, in the path"},
            "param_name": {"type": "string"}, "param_description": {"type": "string"},
            "param_pattern": {"type": "string", "description": "A regular expression the whole value must match"},
            "secret_env": {"type": ["string", "null"], "description": "Environment variable holding the secret"},
            "secret_header": {"type": "string", "default": "Authorization"},
            "timeout_seconds": {"type": "number", "minimum": 0.1, "maximum": 30}, "enabled": {"type": "boolean"}}},
    }
