"""The bot: containment per intent and overall, handoffs by reason and intent, fallbacks, the intents
handoffs follow, and agent-assist drafts. Definitions: models/reports/definitions.py (BOT).

A conversation is resolved by the bot when it ended (closed, or left with the bot without a message
for 24 hours) without a handoff, was never reopened (only people reopen), and no conversation of the
same customer was handed off within 24 hours after its end. Until those 24 hours have passed it is
not counted as resolved yet.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, exists, func, literal, or_, select
from sqlalchemy.orm import Session, aliased

from models.reports.definitions import FALLBACK_INTENT, RESOLUTION_WINDOW_SECONDS
from models.reports.query import (
    Filters,
    Report,
    Scope,
    add_seconds,
    conversation_filters,
    group_key,
    in_period,
    labels,
    merge_rows,
    needs_conversation,
    rate,
)
from models.schema.accounts import AuditEvent
from models.schema.conversations import Conversation, HandoffPacket, Message, Owner, SenderType, Status
from models.schema.llm import AssistDraft, DraftOutcome

TOP_INTENTS = 10


def _ended_at() -> Any:
    return case((Conversation.status == Status.CLOSED.value, Conversation.closed_at),
                else_=Conversation.last_activity_at)


def resolved_clause(now: datetime, since: datetime) -> Any:
    """The definition of a bot resolution, as a condition on `Conversation` (see the module's docstring),
    for conversations started at or after `since` (which bounds the handoffs to look at)."""
    cutoff = now - timedelta(seconds=RESOLUTION_WINDOW_SECONDS)
    other = aliased(Conversation)
    ended = or_(and_(Conversation.status == Status.CLOSED.value, Conversation.closed_at <= cutoff),
                and_(Conversation.status == Status.OPEN.value, Conversation.owner == Owner.BOT.value,
                     Conversation.last_activity_at <= cutoff))
    handed_off = exists().where(HandoffPacket.conversation_id == Conversation.id)
    reopened = exists().where(AuditEvent.conversation_id == Conversation.id,
                              AuditEvent.kind == "conversation.reopened")
    asked_again = (select(HandoffPacket.id)
                   .join(other, other.id == HandoffPacket.conversation_id)
                   .where(other.contact_id == Conversation.contact_id, other.id != Conversation.id,
                          HandoffPacket.created_at >= since, HandoffPacket.created_at > _ended_at(),
                          HandoffPacket.created_at <= add_seconds(_ended_at(), literal(RESOLUTION_WINDOW_SECONDS)))
                   .correlate(Conversation).exists())
    return and_(ended, ~handed_off, ~reopened, ~asked_again)


def _bot_conversations(f: Filters, scope: Scope) -> list[Any]:
    """Conversations started in the period that the bot wrote in (bot_first_at, stored as it writes)."""
    return [in_period(Conversation.created_at, f), Conversation.bot_first_at.is_not(None),
            *conversation_filters(f, scope)]


def _keyed(f: Filters, at: Any, stmt_of: Any) -> Any:
    """The statement `stmt_of(key)` grouped as asked (by intent: the conversation's stored first intent)."""
    return stmt_of(group_key(f, at=at))


def _containment(session: Session, f: Filters, scope: Scope, now: datetime,
                 out: dict[Any, dict[str, Any]]) -> None:
    """Three counts in one pass over the period's bot conversations (conditional counts)."""
    handed = exists().where(HandoffPacket.conversation_id == Conversation.id)
    resolved = resolved_clause(now, f.start)
    stmt = _keyed(f, Conversation.created_at, lambda key: (
        select(key, func.count(Conversation.id), func.count(Conversation.id).filter(resolved),
               func.count(Conversation.id).filter(handed))
        .select_from(Conversation).where(*_bot_conversations(f, scope)).group_by(key)))
    for k, n, n_resolved, n_handed in session.execute(stmt).all():
        out[k].update(conversations=n, resolved=n_resolved, handed_off=n_handed)


def _first_handoffs(session: Session, f: Filters, scope: Scope, out: dict[Any, dict[str, Any]]) -> Counter[str]:
    """Reasons and intents of each bot conversation's first handoff; returns the intents they followed."""
    # The first packets, as a derived table: those of conversations started in the period are all from then on.
    first = (select(func.min(HandoffPacket.id).label("id")).where(HandoffPacket.created_at >= f.start)
             .group_by(HandoffPacket.conversation_id).subquery())
    packet = aliased(HandoffPacket)
    last_answer = (select(Message.bot_intent)
                   .where(Message.conversation_id == Conversation.id, Message.sender_type == SenderType.BOT.value,
                          Message.bot_decision == "answer", Message.created_at <= packet.created_at)
                   .order_by(Message.id.desc()).limit(1).correlate(Conversation, packet).scalar_subquery())
    rows = session.execute(_keyed(f, Conversation.created_at, lambda key: (
        select(key, packet.reason, packet.intent, last_answer).select_from(Conversation)
        .join(packet, packet.conversation_id == Conversation.id).join(first, first.c.id == packet.id)
        .where(*_bot_conversations(f, scope))))).all()
    followed: Counter[str] = Counter()
    for k, reason, intent, before in rows:
        by_reason = out[k].setdefault("handed_off_by_reason", {})
        by_reason[reason] = by_reason.get(reason, 0) + 1
        by_intent = out[k].setdefault("handed_off_by_intent", {})
        by_intent[intent or "(none)"] = by_intent.get(intent or "(none)", 0) + 1
        if before:
            followed[before] += 1
    return followed


def _fallbacks(session: Session, f: Filters, scope: Scope, out: dict[Any, dict[str, Any]]) -> None:
    answer = aliased(Message)

    def stmt_of(key: Any) -> Any:
        stmt = (select(key, func.count(answer.id), func.sum(case((answer.bot_intent == FALLBACK_INTENT, 1), else_=0)))
                .select_from(answer)
                .where(answer.sender_type == SenderType.BOT.value, answer.bot_decision == "answer",
                       in_period(answer.created_at, f), *conversation_filters(f, scope))
                .group_by(key))
        return stmt.join(Conversation, Conversation.id == answer.conversation_id) if needs_conversation(f, scope) \
            else stmt

    rows = session.execute(_keyed(f, answer.created_at, stmt_of)).all()
    for k, answers, fallbacks in rows:
        out[k].update(answers=answers, fallbacks=int(fallbacks or 0))


def _drafts(session: Session, f: Filters, scope: Scope, out: dict[Any, dict[str, Any]]) -> None:
    key = (func.coalesce(AssistDraft.intent, "(none)").label("key") if f.group_by == "intent"
           else group_key(f, at=AssistDraft.created_at))
    sent = AssistDraft.outcome.in_((DraftOutcome.SENT_UNCHANGED.value, DraftOutcome.EDITED.value))
    rows = session.execute(
        select(key, func.count(AssistDraft.id), func.count(AssistDraft.outcome), func.sum(case((sent, 1), else_=0)))
        .join(Conversation, Conversation.id == AssistDraft.conversation_id)
        .where(in_period(AssistDraft.created_at, f), *conversation_filters(f, scope))
        .group_by(key)).all()
    for k, drafts, decided, accepted in rows:
        out[k].update(drafts=drafts, drafts_decided=decided, drafts_accepted=int(accepted or 0))


def _rates(row: dict[str, Any]) -> None:
    row["containment_rate"] = rate(row["resolved"], row["conversations"])
    row["handoff_rate"] = rate(row["handed_off"], row["conversations"])
    row["fallback_rate"] = rate(row["fallbacks"], row["answers"])
    row["draft_acceptance"] = rate(row["drafts_accepted"], row["drafts_decided"])


COUNTS = ("conversations", "resolved", "handed_off", "answers", "fallbacks", "drafts", "drafts_decided",
          "drafts_accepted")


def bot_report(session: Session, f: Filters, scope: Scope, now: datetime) -> Report:
    out: dict[Any, dict[str, Any]] = defaultdict(dict)
    _containment(session, f, scope, now, out)
    followed = _first_handoffs(session, f, scope, out)
    _fallbacks(session, f, scope, out)
    _drafts(session, f, scope, out)
    if f.group_by in ("day", "week"):
        out.pop(None, None)  # outside the period's buckets
    blank: dict[str, Any] = {m: 0 for m in COUNTS}
    blank.update(handed_off_by_reason={}, handed_off_by_intent={})
    rows = merge_rows(labels(session, f, out), out, blank)
    for row in rows:
        _rates(row)
    totals: dict[str, Any] = {m: sum(r[m] for r in rows) for m in COUNTS}
    for name in ("handed_off_by_reason", "handed_off_by_intent"):
        summed: Counter[str] = Counter()
        for r in rows:
            summed.update(r[name])
        totals[name] = dict(summed)
    _rates(totals)
    top = [{"intent": i, "handoffs": n} for i, n in followed.most_common(TOP_INTENTS)]
    return Report("bot", f, rows, totals, {"followed_by_handoff": top})
