"""Operators' performance: per agent (or team, day, week), from messages, assignments, transfers, offers
and the availability history. Definitions: models/reports/definitions.py (AGENTS)."""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, literal, or_, select, true, union_all
from sqlalchemy.orm import Session, aliased

from models.reports.definitions import AGENTS
from models.reports.query import (
    Filters,
    Report,
    Scope,
    bucket_label,
    bucket_starts,
    conversation_filters,
    group_key,
    in_period,
    is_postgresql,
    labels,
    merge_rows,
    needs_conversation,
    percentiles_by_key,
    seconds,
    team_members,
)
from models.schema.accounts import Availability, Role, User
from models.schema.conversations import Conversation, Message, SenderType, Status
from models.schema.feedback import ConversationRating
from models.schema.reports import AssignmentPeriod, AvailabilityChange
from models.schema.routing import Offer, OfferStatus, Transfer, TransferStatus

COUNTS = ("conversations_handled", "replies_sent", "transfers_in", "transfers_out", "offers_expired",
          "transfers_declined", "ratings")


def _agents_in_scope(session: Session, scope: Scope) -> list[int] | None:
    """The agents whose rows the caller may see (None: everybody)."""
    if scope.user_id is not None:
        return [scope.user_id]
    if scope.team_ids is None:
        return None
    return team_members(session, scope.team_ids)


def _who(column: Any, agents: list[int] | None) -> list[ColumnElement[bool]]:
    return [] if agents is None else [column.in_(agents)]


def _replies(session: Session, f: Filters, scope: Scope, agents: list[int] | None,
             out: dict[Any, dict[str, Any]]) -> None:
    key = group_key(f, at=Message.created_at, agent=Message.author_id)
    stmt = (select(key, func.count(Message.id), func.count(func.distinct(Message.conversation_id)))
            .where(Message.sender_type == SenderType.AGENT.value, Message.private.is_(False),
                   Message.author_id.is_not(None), in_period(Message.created_at, f),
                   *conversation_filters(f, scope), *_who(Message.author_id, agents))
            .group_by(key))
    if needs_conversation(f, scope):
        stmt = stmt.join(Conversation, Conversation.id == Message.conversation_id)
    rows = session.execute(stmt).all()
    for k, replies, handled in rows:
        out[k]["replies_sent"] = replies
        out[k]["conversations_handled"] = handled


def _first_responses(session: Session, f: Filters, scope: Scope, agents: list[int] | None,
                     out: dict[Any, dict[str, Any]]) -> None:
    """From each handoff of the period to the first public agent reply after it, or from the replier's
    assignment when that came after the handoff. PostgreSQL finds each first reply with one index probe
    per conversation (a LATERAL join); SQLite, which has no LATERAL, through a derived table."""
    handed = [in_period(Conversation.handed_off_at, f), *conversation_filters(f, scope)]
    replies = (select(Message.id, Message.author_id, Message.created_at)
               .where(Message.conversation_id == Conversation.id, Message.sender_type == SenderType.AGENT.value,
                      Message.private.is_(False), Message.created_at >= Conversation.handed_off_at)
               .order_by(Message.id).limit(1))
    reply: Any
    if is_postgresql(session):
        lateral = replies.lateral("reply")
        base = select().select_from(Conversation).join(lateral, true()).where(*handed)
        reply = lateral.c
    else:
        first = select(Conversation.id.label("cid"), replies.with_only_columns(Message.id).correlate(Conversation)
                       .scalar_subquery().label("mid")).where(*handed).subquery()
        message = aliased(Message)
        base = (select().select_from(first).join(Conversation, Conversation.id == first.c.cid)
                .join(message, message.id == first.c.mid))
        reply = message
    assigned = (select(func.max(AssignmentPeriod.started_at))
                .where(AssignmentPeriod.conversation_id == Conversation.id, AssignmentPeriod.user_id == reply.author_id,
                       AssignmentPeriod.started_at > Conversation.handed_off_at,
                       AssignmentPeriod.started_at <= reply.created_at)
                .correlate_except(AssignmentPeriod).scalar_subquery())
    key = group_key(f, at=Conversation.handed_off_at, agent=reply.author_id)
    stmt = base.add_columns(key, reply.created_at, func.coalesce(assigned, Conversation.handed_off_at)).where(
        *_who(reply.author_id, agents))
    for k, (median, p90) in percentiles_by_key(session, stmt, (0.5, 0.9)).items():
        out[k]["first_response_median"] = median
        out[k]["first_response_p90"] = p90


def _resolutions(session: Session, f: Filters, scope: Scope, agents: list[int] | None,
                 out: dict[Any, dict[str, Any]]) -> None:
    key = group_key(f, at=Conversation.closed_at, agent=AssignmentPeriod.user_id)
    stmt = (select(key, Conversation.closed_at, Conversation.handed_off_at)
            .join(AssignmentPeriod, AssignmentPeriod.conversation_id == Conversation.id)
            .where(Conversation.status == Status.CLOSED.value, Conversation.handed_off_at.is_not(None),
                   in_period(Conversation.closed_at, f), AssignmentPeriod.started_at <= Conversation.closed_at,
                   or_(AssignmentPeriod.ended_at.is_(None), AssignmentPeriod.ended_at >= Conversation.closed_at),
                   *conversation_filters(f, scope), *_who(AssignmentPeriod.user_id, agents)))
    for k, (median,) in percentiles_by_key(session, stmt, (0.5,)).items():
        out[k]["resolution_median"] = median


def _count(session: Session, f: Filters, scope: Scope, agents: list[int] | None, out: dict[Any, dict[str, Any]],
           metric: str, table: Any, user_column: Any, at: Any, *where: ColumnElement[bool]) -> None:
    key = group_key(f, at=at, agent=user_column)
    rows = session.execute(
        select(key, func.count()).select_from(table)
        .join(Conversation, Conversation.id == table.conversation_id)
        .where(user_column.is_not(None), in_period(at, f), *where, *conversation_filters(f, scope),
               *_who(user_column, agents))
        .group_by(key)).all()
    for k, n in rows:
        out[k][metric] = n


def _routing(session: Session, f: Filters, scope: Scope, agents: list[int] | None,
             out: dict[Any, dict[str, Any]]) -> None:
    moved = Transfer.status.in_((TransferStatus.ACCEPTED.value, TransferStatus.DONE.value))
    _count(session, f, scope, agents, out, "transfers_in", Transfer, Transfer.to_user_id, Transfer.decided_at, moved)
    _count(session, f, scope, agents, out, "transfers_out", Transfer, Transfer.from_user_id, Transfer.decided_at,
           moved)
    _count(session, f, scope, agents, out, "transfers_declined", Transfer, Transfer.to_user_id,
           Transfer.decided_at, Transfer.status.in_((TransferStatus.REJECTED.value, TransferStatus.EXPIRED.value)))
    _count(session, f, scope, agents, out, "offers_expired", Offer, Offer.user_id, Offer.decided_at,
           Offer.status == OfferStatus.EXPIRED.value)


def _ratings(session: Session, f: Filters, scope: Scope, agents: list[int] | None,
             out: dict[Any, dict[str, Any]]) -> None:
    """End-of-chat ratings given during the period, credited to the agent assigned at the close."""
    key = group_key(f, at=ConversationRating.created_at, agent=ConversationRating.agent_id)
    rows = session.execute(
        select(key, func.count(ConversationRating.id), func.avg(ConversationRating.score))
        .join(Conversation, Conversation.id == ConversationRating.conversation_id)
        .where(ConversationRating.agent_id.is_not(None), in_period(ConversationRating.created_at, f),
               *conversation_filters(f, scope), *_who(ConversationRating.agent_id, agents))
        .group_by(key)).all()
    for k, n, avg in rows:
        out[k]["ratings"] = n
        out[k]["rating_avg"] = round(float(avg), 2)


def _splitter(f: Filters) -> Any:
    """A function cutting an interval along the period's day/week buckets: [(bucket label, seconds)]."""
    bounds = bucket_starts(f)
    ends = [*bounds[1:], f.end]
    names = [bucket_label(f, b) for b in bounds]

    def split(start: datetime, end: datetime) -> list[tuple[str, float]]:
        out = []
        for i in range(max(0, bisect_right(bounds, start) - 1), len(bounds)):
            if bounds[i] >= end:
                break
            lo, hi = max(start, bounds[i]), min(end, ends[i])
            if hi > lo:
                out.append((names[i], seconds(hi, lo)))
        return out

    return split


def _availability(session: Session, f: Filters, agents: list[int] | None, now: datetime,
                  out: dict[Any, dict[str, Any]]) -> None:
    if f.group_by not in ("agent", "day", "week"):
        return
    stop = min(f.end, now)
    if stop <= f.start:
        return
    latest = (select(AvailabilityChange.user_id, func.max(AvailabilityChange.changed_at).label("at"))
              .where(AvailabilityChange.changed_at < f.start, *_who(AvailabilityChange.user_id, agents))
              .group_by(AvailabilityChange.user_id).subquery())
    before = session.execute(
        select(AvailabilityChange.user_id, AvailabilityChange.status, AvailabilityChange.changed_at)
        .join(latest, and_(latest.c.user_id == AvailabilityChange.user_id,
                           latest.c.at == AvailabilityChange.changed_at))).all()
    during = session.execute(
        select(AvailabilityChange.user_id, AvailabilityChange.status, AvailabilityChange.changed_at)
        .where(AvailabilityChange.changed_at >= f.start, AvailabilityChange.changed_at < stop,
               *_who(AvailabilityChange.user_id, agents))
        .order_by(AvailabilityChange.user_id, AvailabilityChange.changed_at, AvailabilityChange.id)).all()
    by_user: dict[int, list[tuple[str, datetime]]] = defaultdict(list)
    for uid, status, _ in before:
        by_user[uid] = [(status, f.start)]
    for uid, status, at in during:
        by_user[uid].append((status, at))
    split = _splitter(f)
    for uid, seq in by_user.items():
        for (status, at), nxt in zip(seq, [*(s[1] for s in seq[1:]), stop], strict=True):
            if status not in (Availability.ONLINE.value, Availability.AWAY.value) or nxt <= at:
                continue
            metric = f"{status}_seconds"
            parts = [(uid, seconds(nxt, at))] if f.group_by == "agent" else split(at, nxt)
            for k, secs in parts:
                out[k][metric] = round((out[k].get(metric) or 0) + secs, 3)


def _concurrency(session: Session, f: Filters, scope: Scope, agents: list[int] | None, now: datetime,
                 out: dict[Any, dict[str, Any]]) -> None:
    if f.group_by != "agent":
        return
    stop = min(f.end, now)
    if stop <= f.start:
        return
    where = [AssignmentPeriod.started_at < stop,
             or_(AssignmentPeriod.ended_at.is_(None), AssignmentPeriod.ended_at > f.start),
             or_(Conversation.closed_at.is_(None), Conversation.closed_at > f.start),
             *conversation_filters(f, scope), *_who(AssignmentPeriod.user_id, agents)]
    if is_postgresql(session):
        _concurrency_sql(session, f, stop, where, out)
        return
    rows = session.execute(
        select(AssignmentPeriod.user_id, AssignmentPeriod.started_at, AssignmentPeriod.ended_at, Conversation.closed_at)
        .join(Conversation, Conversation.id == AssignmentPeriod.conversation_id).where(*where)).all()
    edges: dict[int, list[tuple[datetime, int]]] = defaultdict(list)
    for uid, started_at, ended_at, closed_at in rows:
        lo, hi = max(started_at, f.start), min(ended_at or stop, closed_at or stop, stop)
        if hi > lo:
            edges[uid] += [(lo, 1), (hi, -1)]
    span = seconds(stop, f.start)
    for uid, points in edges.items():
        points.sort(key=lambda p: (p[0], p[1]))  # a close before an open at the same instant
        level = peak = 0
        area = 0.0
        last = f.start
        for at, step in points:
            area += level * seconds(at, last)
            level += step
            peak = max(peak, level)
            last = at
        out[uid]["concurrent_average"] = round(area / span, 3)
        out[uid]["concurrent_peak"] = peak


def _concurrency_sql(session: Session, f: Filters, stop: datetime, where: list[ColumnElement[bool]],
                     out: dict[Any, dict[str, Any]]) -> None:
    """The same as the sweep above, by PostgreSQL: the average is the assigned time over the span, the peak
    the highest running sum of +1 (start) and -1 (end) steps, an end before a start at the same instant."""
    lo = func.greatest(AssignmentPeriod.started_at, f.start)
    hi = func.least(func.coalesce(AssignmentPeriod.ended_at, stop), func.coalesce(Conversation.closed_at, stop), stop)
    iv = (select(AssignmentPeriod.user_id.label("uid"), lo.label("lo"), hi.label("hi"))
          .join(Conversation, Conversation.id == AssignmentPeriod.conversation_id).where(*where).subquery())
    valid = iv.c.hi > iv.c.lo
    edges = union_all(select(iv.c.uid, iv.c.lo.label("at"), literal(1).label("step")).where(valid),
                      select(iv.c.uid, iv.c.hi, literal(-1)).where(valid)).subquery()
    level = func.sum(edges.c.step).over(partition_by=edges.c.uid, order_by=(edges.c.at, edges.c.step), rows=(None, 0))
    levels = select(edges.c.uid, level.label("level")).subquery()
    peaks = dict(session.execute(select(levels.c.uid, func.max(levels.c.level)).group_by(levels.c.uid)).all())
    span = seconds(stop, f.start)
    for uid, area in session.execute(select(iv.c.uid, func.sum(func.extract("epoch", iv.c.hi - iv.c.lo)))
                                     .where(valid).group_by(iv.c.uid)):
        out[uid]["concurrent_average"] = round(float(area) / span, 3)
        out[uid]["concurrent_peak"] = int(peaks[uid])


def agents_report(session: Session, f: Filters, scope: Scope, now: datetime) -> Report:
    agents = _agents_in_scope(session, scope)
    out: dict[Any, dict[str, Any]] = defaultdict(dict)
    if f.group_by == "agent":
        listed = agents if agents is not None else list(session.scalars(
            select(User.id).where(User.active.is_(True), User.role.in_([r.value for r in Role]))))
        for uid in listed:
            out[uid] = {}  # every agent in scope has a row, active or not
    _replies(session, f, scope, agents, out)
    _first_responses(session, f, scope, agents, out)
    _resolutions(session, f, scope, agents, out)
    _routing(session, f, scope, agents, out)
    _ratings(session, f, scope, agents, out)
    _availability(session, f, agents, now, out)
    _concurrency(session, f, scope, agents, now, out)
    blank: dict[str, Any] = {m: (0 if m in COUNTS else None) for m in AGENTS}
    if f.group_by in ("agent", "day", "week"):
        blank.update(online_seconds=0, away_seconds=0)
    if f.group_by == "agent":
        blank.update(concurrent_average=0, concurrent_peak=0)
    if f.group_by in ("day", "week"):
        out.pop(None, None)  # outside the period's buckets
    rows = merge_rows(labels(session, f, out), out, blank)
    totals = {m: sum(r[m] for r in rows) for m in COUNTS}
    return Report("agents", f, rows, totals)
