"""The admin's knowledge base and the LLM agent's HTTP actions: pages and API (admins only)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from flask import Blueprint, Flask, Response, jsonify, render_template, request
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.knowledge.passages import MAX_DOCUMENT_BYTES, DocumentError
from bot.knowledge.store import do_delete_document, do_upload_document
from bot.llm.http_tools import action_json, check_action, do_save_action
from console.api.assist import Assist, _require, assist_services, draft_stats
from console.api.declare import api, json_body, query_args
from console.api.schemas import llm as sl
from console.auth import api_user, current_user, login_required
from console.serialize import iso
from console.services import services
from models.errors import Forbidden, InvalidInput, InvalidState, NotFound
from models.schema.accounts import Role, User
from models.schema.conversations import Conversation
from models.schema.llm import (
    DocumentSource,
    KnowledgeCitation,
    KnowledgeDocument,
    KnowledgePassage,
    KnowledgeQuery,
    LlmAction,
    LlmTurn,
    QueryOutcome,
)

if TYPE_CHECKING:  # langchain loads only when a model is configured
    pass
log = logging.getLogger(__name__)


bp = Blueprint("knowledge", __name__, url_prefix="/api/v1")


def _admin() -> User:
    user = api_user()
    _require(user, Role.ADMIN)
    return user


def status_json(helper: Assist) -> dict[str, Any]:
    cfg = helper.config
    if helper.agent is not None:
        model = helper.agent.model_name
        text = (f"The LLM stage is on ({model}): it answers what the intent engine cannot." if helper.stage_on
                else f"A model is configured ({model}) for agent assist, but 'llm' is not in PARLEY_BOT_ENGINES: "
                     "the bot does not use it.")
    elif helper.problem:
        model, text = None, f"The LLM stage is off: the model cannot be used ({helper.problem})."
    else:
        model, text = None, ("The LLM stage is off: no model is configured (PARLEY_LLM_MODEL). The bot answers "
                             "with its intent engine alone, and agent assist suggests the best-matching passage.")
    return {"llm_on": helper.agent is not None, "stage_on": helper.stage_on, "model": model, "message": text,
            "retrieval": "bm25+embeddings" if helper.kb.embedder is not None else "bm25",
            "config": cfg.describe() if cfg else None}


def document_json(d: KnowledgeDocument, passages: int) -> dict[str, Any]:
    return {"id": d.id, "source": d.source, "path": d.path, "title": d.title, "kind": d.kind,
            "size_bytes": d.size_bytes, "passages": passages, "updated_at": iso(d.updated_at)}


def documents(s: Session) -> list[dict[str, Any]]:
    counts = dict(s.execute(select(KnowledgePassage.document_id, func.count())
                            .group_by(KnowledgePassage.document_id)).all())
    docs = s.scalars(select(KnowledgeDocument).order_by(KnowledgeDocument.source, KnowledgeDocument.path))
    return [document_json(d, counts.get(d.id, 0)) for d in docs]


def unanswered(s: Session, limit: int = 50) -> list[dict[str, Any]]:
    rows = s.execute(select(KnowledgeQuery, Conversation.public_id)
                     .outerjoin(Conversation, Conversation.id == KnowledgeQuery.conversation_id)
                     .where(KnowledgeQuery.outcome == QueryOutcome.NO_SOURCE.value)
                     .order_by(KnowledgeQuery.id.desc()).limit(limit)).all()
    return [{"id": q.id, "question": q.question, "purpose": q.purpose, "conversation_id": pid,
             "searches": [x.get("query") for x in q.searches], "created_at": iso(q.created_at)}
            for q, pid in rows]


def answering_passages(s: Session, limit: int = 50, questions_each: int = 5) -> list[dict[str, Any]]:
    top = s.execute(select(KnowledgeCitation.passage_id, func.count().label("n"))
                    .group_by(KnowledgeCitation.passage_id).order_by(func.count().desc()).limit(limit)).all()
    out = []
    for passage_id, n in top:
        p = s.get(KnowledgePassage, passage_id)
        if p is None:
            continue
        recent = s.scalars(select(KnowledgeQuery.question).join(KnowledgeCitation)
                           .where(KnowledgeCitation.passage_id == passage_id)
                           .order_by(KnowledgeQuery.id.desc()).limit(questions_each)).all()
        out.append({"passage_id": p.id, "document": p.document.title, "heading": p.heading, "text": p.text,
                    "answers": n, "questions": list(recent)})
    return out


def turn_stats(s: Session) -> dict[str, Any]:
    row = s.execute(select(func.count(LlmTurn.id), func.coalesce(func.sum(LlmTurn.total_tokens), 0),
                           func.avg(LlmTurn.latency_ms), func.max(LlmTurn.latency_ms))
                    .where(LlmTurn.purpose != "summary")).one()
    by_outcome = dict(s.execute(select(LlmTurn.outcome, func.count()).group_by(LlmTurn.outcome)).all())
    return {"turns": row[0], "total_tokens": int(row[1]), "avg_latency_ms": round(float(row[2] or 0), 1),
            "max_latency_ms": round(float(row[3] or 0), 1), "by_outcome": by_outcome}


@bp.get("/admin/knowledge")
@api("The LLM stage's status, the documents, questions that found nothing, passages that answered, draft outcomes "
     "and model-run figures (admins)", sl.KnowledgeOverview, errors=(403,))
def knowledge_overview() -> Response:
    _admin()
    helper = assist_services()
    helper.kb.ensure_synced()
    with services().db.session() as s:
        return jsonify({"status": status_json(helper), "documents": documents(s), "unanswered": unanswered(s),
                        "answering_passages": answering_passages(s), "drafts": draft_stats(s),
                        "llm_turns": turn_stats(s)})


@bp.get("/admin/knowledge/documents/<int:document_id>")
@api("A document and its passages (admins)", sl.KnowledgeDocument, errors=(403,))
def knowledge_document(document_id: int) -> Response:
    _admin()
    with services().db.session() as s:
        d = s.get(KnowledgeDocument, document_id)
        if d is None:
            raise NotFound("No such document.")
        return jsonify({**document_json(d, len(d.passages)), "passages": [
            {"id": p.id, "position": p.position, "heading": p.heading, "text": p.text, "intent": p.intent}
            for p in d.passages]})


@bp.post("/admin/knowledge/documents")
@api("Upload a document: Markdown, text, PDF or an FAQ file (admins); the same name replaces it",
     sl.KnowledgeDocument, status=201, form=sl.DocumentUpload, errors=(403, 413))
def upload_document() -> tuple[Response, int]:
    user = _admin()
    request.max_content_length = MAX_DOCUMENT_BYTES + 64 * 1024  # documents may exceed the app's 1 MB
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise InvalidInput("Send the document as multipart form field 'file'.", code="no_file")
    data = upload.read()
    try:
        with services().db.transaction() as s:
            d = do_upload_document(s, upload.filename, data, user_id=user.id)
            out = document_json(d, len(d.passages))
    except DocumentError as exc:
        raise InvalidInput(str(exc), code="bad_document") from exc
    return jsonify(out), 201


@bp.delete("/admin/knowledge/documents/<int:document_id>")
@api("Delete an uploaded document (admins; data/knowledge files are edited there)", status=204, errors=(403, 422))
def delete_document(document_id: int) -> tuple[str, int]:
    _admin()
    with services().db.transaction() as s:
        d = s.get(KnowledgeDocument, document_id)
        if d is None:
            raise NotFound("No such document.")
        if d.source != DocumentSource.UPLOAD.value:
            raise InvalidState("This document comes from data/knowledge/: remove or edit the file there.")
        do_delete_document(s, document_id)
    return "", 204


@bp.post("/admin/knowledge/sync")
@api("Read data/knowledge/ again (admins)", sl.SyncReport, errors=(403,))
def sync_knowledge() -> Response:
    _admin()
    report = assist_services().kb.resync()
    return jsonify({"added": report.added, "updated": report.updated, "removed": report.removed,
                    "errors": list(report.errors)})


@bp.get("/admin/knowledge/search")
@api("What the bot's search finds for a question (admins)", sl.Hits, query=sl.SearchQuery, errors=(403,))
def search_knowledge() -> Response:
    _admin()
    q = query_args(sl.SearchQuery).q.strip()[:500]
    if not q:
        raise InvalidInput("Give a question: ?q=...")
    return jsonify({"hits": [h.to_json() for h in assist_services().kb.search(q)]})


@bp.get("/admin/knowledge/questions")
@api("Questions that found nothing, passages that answered (admins)", sl.Questions, errors=(403,))
def knowledge_questions() -> Response:
    _admin()
    with services().db.session() as s:
        return jsonify({"unanswered": unanswered(s, 200), "answering_passages": answering_passages(s, 200)})


@bp.get("/admin/llm/actions")
@api("The agent's HTTP actions (admins)", sl.LlmActionList, errors=(403,))
def list_actions() -> Response:
    _admin()
    with services().db.session() as s:
        return jsonify({"actions": [action_json(a) for a in s.scalars(select(LlmAction).order_by(LlmAction.name))]})


@bp.post("/admin/llm/actions")
@api("Create or replace (by name) an HTTP action (admins)", sl.LlmAction, status=201, body=sl.LlmActionIn,
     errors=(403,))
def save_action() -> tuple[Response, int]:
    _admin()
    values = check_action(json_body(sl.LlmActionIn).model_dump(exclude_unset=True))
    with services().db.transaction() as s:
        return jsonify(action_json(do_save_action(s, values))), 201


@bp.delete("/admin/llm/actions/<int:action_id>")
@api("Delete an HTTP action (admins)", status=204, errors=(403,))
def delete_action(action_id: int) -> tuple[str, int]:
    _admin()
    with services().db.transaction() as s:
        row = s.get(LlmAction, action_id)
        if row is None:
            raise NotFound("No such action.")
        s.delete(row)
    return "", 204


@login_required
def knowledge_page() -> Any:
    user = current_user()
    if user is None or user.role != Role.ADMIN.value:
        raise Forbidden("Only admins can manage the knowledge base.")
    helper = assist_services()
    helper.kb.ensure_synced()
    with services().db.session() as s:
        return render_template("admin_knowledge.html", user=user, status=status_json(helper),
                               documents=documents(s), unanswered=unanswered(s), passages=answering_passages(s),
                               drafts=draft_stats(s), turns=turn_stats(s),
                               actions=[action_json(a) for a in s.scalars(select(LlmAction).order_by(LlmAction.name))])


def register(app: Flask) -> None:
    app.register_blueprint(bp)
    app.add_url_rule("/admin/knowledge", "knowledge_page", knowledge_page)
