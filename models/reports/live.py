"""Live chat performance: per team, inbox, channel, day, week or intent, from conversations, handoff
packets, the assignment history and the audit log (timers' completions, reopenings). Definitions:
models/reports/definitions.py (LIVE)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, func, select
from sqlalchemy.orm import Session

from models.reports.definitions import LIVE
from models.reports.query import (
    Filters,
    Report,
    Scope,
    conversation_filters,
    group_key,
    in_period,
    is_postgresql,
    labels,
    merge_rows,
    percentiles_by_key,
)
from models.schema.accounts import AuditEvent
from models.schema.conversations import Conversation, HandoffPacket, Message, SenderType, Status
from models.schema.reports import AssignmentPeriod

COUNTS = ("started", "handed_off", "abandoned", "auto_completed", "reopened")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _started(session: Session, f: Filters, scope: Scope, out: dict[Any, dict[str, Any]]) -> list[list[int]]:
    """Conversations started per key, and the week's heat map (weekday x local hour): counted by
    PostgreSQL; elsewhere read and counted here."""
    key = group_key(f, at=Conversation.created_at)
    where = [in_period(Conversation.created_at, f), *conversation_filters(f, scope)]
    heat = [[0] * 24 for _ in WEEKDAYS]
    if is_postgresql(session):
        for k, n in session.execute(select(key, func.count()).where(*where).group_by(key)):
            out[k]["started"] = n
        local = func.timezone(str(f.tz), Conversation.created_at)
        dow, hour = func.extract("isodow", local), func.extract("hour", local)
        for d, h, n in session.execute(select(dow, hour, func.count()).where(*where).group_by(dow, hour)):
            heat[int(d) - 1][int(h)] += n
        return heat
    rows = session.execute(select(key, Conversation.created_at).where(*where).execution_options(yield_per=5000))
    for k, created_at in rows:
        out[k]["started"] = out[k].get("started", 0) + 1
        at = created_at.astimezone(f.tz)
        heat[at.weekday()][at.hour] += 1
    return heat


def _handoffs(session: Session, f: Filters, scope: Scope, out: dict[Any, dict[str, Any]]) -> None:
    key = group_key(f, at=HandoffPacket.created_at)
    rows = session.execute(
        select(key, HandoffPacket.reason, func.count(HandoffPacket.id))
        .join(Conversation, Conversation.id == HandoffPacket.conversation_id)
        .where(in_period(HandoffPacket.created_at, f), *conversation_filters(f, scope))
        .group_by(key, HandoffPacket.reason)).all()
    for k, reason, n in rows:
        out[k]["handed_off"] = out[k].get("handed_off", 0) + n
        out[k].setdefault("handed_off_by_reason", {})[reason] = n


def _waiting(session: Session, f: Filters, scope: Scope, out: dict[Any, dict[str, Any]]) -> None:
    key = group_key(f, at=Conversation.handed_off_at)
    first_assigned = (select(func.min(AssignmentPeriod.started_at))
                      .where(AssignmentPeriod.conversation_id == Conversation.id,
                             AssignmentPeriod.started_at >= Conversation.handed_off_at)
                      .correlate(Conversation).scalar_subquery())
    stmt = (select(key, first_assigned.label("assigned_at"), Conversation.handed_off_at)
            .where(in_period(Conversation.handed_off_at, f), *conversation_filters(f, scope)))
    for k, (median, p90) in percentiles_by_key(session, stmt, (0.5, 0.9)).items():
        out[k]["waiting_median"] = median
        out[k]["waiting_p90"] = p90


def _abandoned(session: Session, f: Filters, scope: Scope, out: dict[Any, dict[str, Any]]) -> None:
    # A reply after a handoff of the period is from the period on: the bound lets the database read only the
    # period's agent messages (ix_messages_sender_created), not all of them.
    replied = exists().where(Message.conversation_id == Conversation.id, Message.sender_type == SenderType.AGENT.value,
                             Message.private.is_(False), Message.created_at >= Conversation.handed_off_at,
                             Message.created_at >= f.start)
    key = group_key(f, at=Conversation.handed_off_at)
    rows = session.execute(
        select(key, func.count(Conversation.id))
        .where(in_period(Conversation.handed_off_at, f), Conversation.status == Status.CLOSED.value, ~replied,
               *conversation_filters(f, scope))
        .group_by(key)).all()
    for k, n in rows:
        out[k]["abandoned"] = n


def _audited(session: Session, f: Filters, scope: Scope, out: dict[Any, dict[str, Any]], kind: str,
             metric: str) -> None:
    key = group_key(f, at=AuditEvent.created_at)
    rows = session.execute(
        select(key, func.count(AuditEvent.id))
        .join(Conversation, Conversation.id == AuditEvent.conversation_id)
        .where(and_(AuditEvent.kind == kind, in_period(AuditEvent.created_at, f)), *conversation_filters(f, scope))
        .group_by(key)).all()
    for k, n in rows:
        out[k][metric] = n


def live_report(session: Session, f: Filters, scope: Scope, now: datetime) -> Report:
    out: dict[Any, dict[str, Any]] = defaultdict(dict)
    heat = _started(session, f, scope, out)
    _handoffs(session, f, scope, out)
    _waiting(session, f, scope, out)
    _abandoned(session, f, scope, out)
    _audited(session, f, scope, out, "routing.auto_closed", "auto_completed")
    _audited(session, f, scope, out, "conversation.reopened", "reopened")
    if f.group_by in ("day", "week"):
        out.pop(None, None)  # outside the period's buckets
    blank: dict[str, Any] = {m: (0 if m in COUNTS else None) for m in LIVE if m != "busiest_hours"}
    blank["handed_off_by_reason"] = {}
    rows = merge_rows(labels(session, f, out), out, blank)
    totals: dict[str, Any] = {m: sum(r[m] for r in rows) for m in COUNTS}
    reasons: dict[str, int] = defaultdict(int)
    for r in rows:
        for reason, n in r["handed_off_by_reason"].items():
            reasons[reason] += n
    totals["handed_off_by_reason"] = dict(reasons)
    return Report("live", f, rows, totals,
                  {"busiest_hours": {"weekdays": list(WEEKDAYS), "hours": list(range(24)), "counts": heat}})
