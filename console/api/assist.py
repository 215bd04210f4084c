"""Agent assist (drafted replies from the knowledge base) and the admin's knowledge-base pages and API.

Drafts: with a model configured, the LLM agent drafts under the same grounded-or-nothing checks as
the bot (sources shown). Without one, the draft is the best-matching passage, clearly labelled as
such — retrieval alone still saves typing, and the label keeps the agent from mistaking it for a
composed reply. Either way the agent edits and sends it here, and what they did with it (sent
unchanged, edited, discarded) is kept per intent: where drafts go out unchanged, the bot could
answer on its own.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flask import Blueprint, Flask, Response, current_app, jsonify, render_template, request
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.knowledge.base import Hit, KnowledgeBase
from bot.knowledge.passages import MAX_DOCUMENT_BYTES, DocumentError
from bot.knowledge.store import do_delete_document, do_upload_document
from bot.llm.config import LlmConfig
from bot.llm.http_tools import action_json, check_action, do_save_action
from bot.types import Decision
from console.api.declare import api, json_body, query_args
from console.api.schemas import llm as sl
from console.auth import api_user, current_user, login_required
from console.serialize import iso, message_json
from console.services import Services, services
from models.conversations.access import access_conversation
from models.conversations.messages import check_text, do_agent_message
from models.errors import Conflict, Forbidden, InvalidInput, InvalidState, NotFound
from models.schema.accounts import Role, User
from models.schema.base import utcnow
from models.schema.conversations import Conversation, HandoffPacket, Message, Owner, SenderType
from models.schema.llm import (
    AssistDraft,
    DocumentSource,
    DraftOutcome,
    KnowledgeCitation,
    KnowledgeDocument,
    KnowledgePassage,
    KnowledgeQuery,
    LlmAction,
    LlmTurn,
    QueryOutcome,
)

if TYPE_CHECKING:  # langchain loads only when a model is configured
    from bot.llm.agent import LlmAgent
log = logging.getLogger(__name__)


bp = Blueprint("assist", __name__, url_prefix="/api/v1")


RETRIEVAL_LABEL = ("Best-matching passage from the knowledge base (no AI model is configured): check that it "
                   "answers the customer before sending.")


LLM_LABEL = "Drafted by the AI assistant from the knowledge base: check it before sending."


HISTORY = 10


_EXT = "parley_llm"


_lock = threading.Lock()


@dataclass
class Assist:
    """What the console uses of the LLM side: the knowledge base, and the agent if a model is set."""

    kb: KnowledgeBase
    agent: LlmAgent | None
    config: LlmConfig | None
    stage_on: bool  # the `llm` stage is in the bot's chain
    problem: str | None = None  # why the model is unusable, for the admin page


def assist_services(app: Flask | None = None) -> Assist:
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    found: Assist | None = app.extensions.get(_EXT)
    if found is not None:
        return found
    with _lock:
        found = app.extensions.get(_EXT)
        if found is None:
            found = _build(app.extensions["parley"])
            app.extensions[_EXT] = found
        return found


def _build(svc: Services) -> Assist:
    from bot.llm.setup import build_agent, knowledge_base

    engine: Any = next((e for e in svc.pipeline.engines if getattr(e, "name", None) == "llm"
                        and hasattr(e, "agent")), None)
    if engine is not None:
        return Assist(engine.kb, engine.agent, None, True)
    try:
        config = LlmConfig.from_env()
    except ValueError as exc:
        return Assist(KnowledgeBase(svc.db, svc.settings.data_dir), None, None, False, str(exc))
    try:
        kb = knowledge_base(svc.settings, svc.db, config)
        agent = build_agent(svc.settings, config, svc.db, kb=kb) if config.enabled else None
    except Exception as exc:  # a provider package missing or refusing its settings: say it, keep retrieval
        log.error("LLM assist unavailable: %s", exc)
        return Assist(KnowledgeBase(svc.db, svc.settings.data_dir), None, config, False,
                      f"{type(exc).__name__}: {exc}")
    return Assist(kb, agent, config, False)


def _require(user: User, *roles: Role) -> None:
    if user.role not in {r.value for r in roles}:
        raise Forbidden("Only " + " and ".join(f"{r.value}s" for r in roles) + " can do this.")


def _question(s: Session, conv: Conversation) -> tuple[str, list[tuple[str, str]]]:
    """The customer's latest messages (since anyone last answered) and the conversation before them."""
    rows = s.execute(select(Message.sender_type, Message.text).where(
        Message.conversation_id == conv.id, Message.private.is_(False)).order_by(Message.id.desc()).limit(40)).all()
    latest: list[str] = []
    for sender, text in rows:
        if sender == SenderType.CONTACT.value:
            latest.append(text)
        elif latest:
            break
    if not latest:
        latest = [t for sender, t in rows if sender == SenderType.CONTACT.value][:1]
    if not latest:
        raise InvalidState("The customer has not written anything to answer yet.")
    latest = list(reversed(latest[:3]))
    before = [(r[0], r[1]) for r in reversed(rows[len(latest):len(latest) + HISTORY])]
    return "\n".join(latest), before


def _intent(s: Session, conv: Conversation, hits: list[Hit] | None = None) -> str | None:
    """What the question is about: the intent its best source answers (FAQ entries and tagged sections
    name one), else what the bot understood when it handed over."""
    tagged = next((h.intent for h in hits or [] if h.intent), None)
    if tagged:
        return tagged
    packet = s.scalar(select(HandoffPacket).where(HandoffPacket.conversation_id == conv.id)
                      .order_by(HandoffPacket.id.desc()).limit(1))
    if packet is not None:
        if packet.intent:
            return packet.intent
        for stage in packet.stages or []:
            if isinstance(stage, dict) and stage.get("intent"):
                return str(stage["intent"])
    return None


def draft_json(d: AssistDraft) -> dict[str, Any]:
    return {"id": d.id, "mode": d.mode, "label": LLM_LABEL if d.mode == "llm" else RETRIEVAL_LABEL,
            "question": d.question, "text": d.text, "sources": d.sources, "intent": d.intent,
            "outcome": d.outcome, "created_at": iso(d.created_at)}


@bp.post("/conversations/<public_id>/assist/drafts")
@api("Draft a reply to the customer's latest messages from the knowledge base", sl.DraftResult, status=201,
     also=(200,), errors=(403, 422),
     description="With a model configured the LLM agent drafts it (grounded-or-nothing, sources shown; `mode: llm`). "
                 "Without one, the draft is the best-matching passage (`mode: retrieval`), labelled as such. 200 "
                 "with `draft: null` and a `reason` when nothing answers it. 422 while the bot owns the conversation.")
def make_draft(public_id: str) -> tuple[Response, int]:
    user = api_user()
    helper = assist_services()
    db = services().db
    with db.session() as s:
        conv = access_conversation(s, user, public_id)
        if conv.owner != Owner.HUMAN.value:
            raise InvalidState("Drafts are for conversations handed over to people; the bot has this one.")
        question, history = _question(s, conv)
        conv_pk = conv.id
    intent: str | None = None
    mode, text, sources, note = "llm", "", [], ""
    if helper.agent is not None:
        from bot.llm.agent import AgentFailed
        from bot.llm.engine import record_run

        try:
            result = helper.agent.run(question, history)
        except AgentFailed as exc:
            record_run(helper.kb, helper.agent.model_name, "assist", conv_pk, question, None, exc.usage,
                       exc.latency_ms, exc.state.details(), error=f"{type(exc.error).__name__}: {exc.error}")
            note = f"The AI assistant is unavailable ({type(exc.error).__name__}); showing the best passage."
            result = None
        if result is not None:
            record_run(helper.kb, helper.agent.model_name, "assist", conv_pk, question, result, result.usage,
                       result.latency_ms, result.details())
            if result.decision is not Decision.ANSWER:
                return jsonify({"draft": None, "reason": result.reason.value if result.reason else None,
                                "message": result.summary}), 200
            text = result.answer
            sources = [s.to_json() for s in result.sources]
            intent = result.intent
    if not text:
        mode = "retrieval"
        hits = helper.kb.search(question)
        outcome = QueryOutcome.DRAFTED if hits else QueryOutcome.NO_SOURCE
        helper.kb.record_query(purpose="assist", conversation=conv_pk, question=question,
                               searches=[{"query": question[:300], "hits": [
                                   {"passage_id": h.passage_id, "score": h.score, "heading": h.heading,
                                    "document": h.document} for h in hits]}],
                               outcome=outcome.value, cited=[h.passage_id for h in hits[:1]])
        if not hits:
            return jsonify({"draft": None, "reason": "no_source",
                            "message": note or "Nothing in the knowledge base matches the customer's question."}), 200
        text = hits[0].text
        sources = [{"id": f"P{h.passage_id}", "kind": "passage", "title": h.heading, "text": h.text,
                    "passage_id": h.passage_id, "intent": h.intent, "score": h.score} for h in hits[:3]]
        intent = next((h.intent for h in hits[:1] if h.intent), None)
    with db.transaction() as s:
        if intent is None:
            conv = access_conversation(s, user, public_id)
            intent = _intent(s, conv)
        d = AssistDraft(conversation_id=conv_pk, user_id=user.id, intent=intent, mode=mode, question=question,
                        text=text, sources=sources, created_at=utcnow())
        s.add(d)
        s.flush()
        out = draft_json(d)
    if note:
        out["note"] = note
    return jsonify({"draft": out}), 201


def _open_draft(s: Session, user: User, public_id: str, draft_id: int) -> tuple[Conversation, AssistDraft]:
    conv = access_conversation(s, user, public_id, lock=True)
    d = s.get(AssistDraft, draft_id, with_for_update=True)
    if d is None or d.conversation_id != conv.id:
        raise NotFound("No such draft.")
    if d.outcome is not None:
        raise Conflict(f"This draft was already {d.outcome.replace('_', ' ')}.", code="decided")
    return conv, d


def _same(a: str, b: str) -> bool:
    return " ".join(a.split()) == " ".join(b.split())


@bp.post("/conversations/<public_id>/assist/drafts/<int:draft_id>/send")
@api("Send the (possibly edited) draft to the customer", sl.DraftSent, status=201, body=sl.DraftText,
     errors=(403, 409, 413, 422),
     description="Records the outcome: `sent_unchanged` (same text, whitespace aside) or `edited`.")
def send_draft(public_id: str, draft_id: int) -> tuple[Response, int]:
    user = api_user()
    text = check_text(json_body(sl.DraftText).text, services().settings.max_message_length)
    with services().db.transaction() as s:
        conv, d = _open_draft(s, user, public_id, draft_id)
        msg = do_agent_message(s, user, conv, text)
        s.flush()
        d.outcome = (DraftOutcome.SENT_UNCHANGED if _same(text, d.text) else DraftOutcome.EDITED).value
        d.message_id = msg.id
        d.decided_at = utcnow()
        s.refresh(msg)
        return jsonify({"message": message_json(msg, conv.public_id), "draft": draft_json(d)}), 201


@bp.post("/conversations/<public_id>/assist/drafts/<int:draft_id>/discard")
@api("Discard the draft (outcome `discarded`)", sl.DraftResult, errors=(403, 409))
def discard_draft(public_id: str, draft_id: int) -> Response:
    user = api_user()
    with services().db.transaction() as s:
        _, d = _open_draft(s, user, public_id, draft_id)
        d.outcome = DraftOutcome.DISCARDED.value
        d.decided_at = utcnow()
        return jsonify({"draft": draft_json(d)})


def draft_stats(s: Session) -> list[dict[str, Any]]:
    rows = s.execute(select(AssistDraft.intent, AssistDraft.outcome, func.count())
                     .group_by(AssistDraft.intent, AssistDraft.outcome)).all()
    per: dict[str | None, dict[str, int]] = {}
    for intent, outcome, n in rows:
        counts = per.setdefault(intent, {"drafts": 0, "sent_unchanged": 0, "edited": 0, "discarded": 0,
                                         "pending": 0})
        counts["drafts"] += n
        counts[outcome or "pending"] += n
    out = [{"intent": intent, **c, "unchanged_rate": round(c["sent_unchanged"] / c["drafts"], 3)}
           for intent, c in per.items()]
    return sorted(out, key=lambda r: (-r["drafts"], str(r["intent"])))


@bp.get("/assist/stats")
@api("Draft outcomes per intent (supervisors, admins)", sl.DraftStats, errors=(403,))
def assist_stats() -> Response:
    user = api_user()
    _require(user, Role.ADMIN, Role.SUPERVISOR)
    with services().db.session() as s:
        return jsonify({"intents": draft_stats(s)})


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


def init_app(app: Flask, svc: Services) -> None:
    app.register_blueprint(bp)
    app.add_url_rule("/admin/knowledge", "knowledge_page", knowledge_page)
