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

from flask import Blueprint, Flask, Response, current_app, jsonify
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.knowledge.base import Hit, KnowledgeBase
from bot.llm.config import LlmConfig
from bot.types import Decision
from console.api.declare import api, json_body
from console.api.schemas import llm as sl
from console.auth import api_user
from console.serialize import iso, message_json
from console.services import Services, services
from models.conversations.access import access_conversation
from models.conversations.messages import check_text, do_agent_message
from models.errors import Conflict, Forbidden, InvalidState, NotFound
from models.schema.accounts import Role, User
from models.schema.base import utcnow
from models.schema.conversations import Conversation, HandoffPacket, Message, Owner, SenderType
from models.schema.llm import (
    AssistDraft,
    DraftOutcome,
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


def init_app(app: Flask, svc: Services) -> None:
    app.register_blueprint(bp)
