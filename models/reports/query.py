"""What every report shares: the period and filters (checked), who may see what, the grouping as a SQL
expression, percentiles, and the shape of a report.

Days and weeks are the team's: a date without a time is midnight in the report's time zone (the team's
opening-hours time zone when one team is asked for, else UTC), and day/week buckets are cut at local
midnights. Buckets are computed in SQL as a CASE over the local midnights' UTC instants, which is
exact across daylight-saving changes and the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import ColumnElement, Select, case, func, literal, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import DateTime, String

from models.errors import Forbidden, InvalidInput
from models.reports.definitions import GROUPINGS
from models.schema.accounts import Role, Team, TeamMember, User
from models.schema.conversations import Conversation
from models.schema.routing import TeamHours

DEFAULT_DAYS = 30
MAX_DAYS = 366
CHANNELS = ("webchat", "sms", "whatsapp")
MIN_YEAR, MAX_YEAR = 1971, 9998  # far from datetime's limits, whatever the time zone


@dataclass(frozen=True)
class Filters:
    start: datetime  # inclusive, UTC
    end: datetime  # exclusive, UTC
    tz: ZoneInfo
    group_by: str
    team_id: int | None = None
    inbox_id: int | None = None
    channel: str | None = None


@dataclass(frozen=True)
class Scope:
    """What the caller may see: `team_ids` None is every team; `user_id` set limits the agents report to
    that one agent's row (an agent's own)."""

    team_ids: frozenset[int] | None
    user_id: int | None = None


@dataclass
class Report:
    name: str
    filters: Filters
    rows: list[dict[str, Any]] = field(default_factory=list)
    totals: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


def parse_instant(raw: str, tz: ZoneInfo, name: str, *, end: bool) -> datetime:
    try:
        if "T" not in raw and " " not in raw and len(raw) <= 10:
            day = date.fromisoformat(raw)
            value = datetime.combine(day + timedelta(days=1) if end else day, time(0), tz)
        else:
            value = datetime.fromisoformat(raw)
    except ValueError:
        raise InvalidInput(f"{name} must be an ISO 8601 date (2026-03-01) or date and time "
                           "(2026-03-01T09:00:00+01:00).", code="bad_date") from None
    except OverflowError:
        value = datetime.max
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise InvalidInput(f"{name} is out of range (years {MIN_YEAR} to {MAX_YEAR}).", code="bad_date")
    if value.tzinfo is None:
        value = value.replace(tzinfo=tz)
    return value.astimezone(UTC)


def team_timezone(session: Session, team_id: int | None) -> ZoneInfo:
    if team_id is None:
        return ZoneInfo("UTC")
    name = session.scalar(select(TeamHours.timezone).where(TeamHours.team_id == team_id))
    try:
        return ZoneInfo(name) if name else ZoneInfo("UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def check_filters(session: Session, report: str, *, now: datetime, start: str | None = None,
                  end: str | None = None, team_id: int | None = None, inbox_id: int | None = None,
                  channel: str | None = None, group_by: str | None = None) -> Filters:
    """The period and filters of a request; `end` as a date includes that whole day."""
    allowed = GROUPINGS[report]
    group = group_by or allowed[0]
    if group not in allowed:
        raise InvalidInput(f"group_by must be one of: {', '.join(allowed)}.", code="bad_group_by")
    if channel is not None and channel not in CHANNELS:
        raise InvalidInput(f"channel must be one of: {', '.join(CHANNELS)}.")
    if team_id is not None and session.get(Team, team_id) is None:
        raise InvalidInput("No such team.", code="unknown_team")
    tz = team_timezone(session, team_id)
    stop = parse_instant(end, tz, "to", end=True) if end else now
    begin = parse_instant(start, tz, "from", end=False) if start else stop - timedelta(days=DEFAULT_DAYS)
    if begin >= stop:
        raise InvalidInput("from must be before to.", code="bad_period")
    if stop - begin > timedelta(days=MAX_DAYS):
        raise InvalidInput(f"A report covers at most {MAX_DAYS} days.", code="bad_period")
    return Filters(begin, stop, tz, group, team_id, inbox_id, channel)


def scope_for(user: User, report: str, filters: Filters) -> Scope:
    """Agents see their own row (agents report only); supervisors their teams; admins everything."""
    if user.role == Role.ADMIN.value:
        return Scope(None if filters.team_id is None else frozenset({filters.team_id}))
    if user.role == Role.SUPERVISOR.value:
        mine = frozenset(user.team_ids)
        if filters.team_id is not None:
            if filters.team_id not in mine:
                raise Forbidden("Supervisors see reports of their own teams only.")
            return Scope(frozenset({filters.team_id}))
        return Scope(mine)
    if report != "agents":
        raise Forbidden("Agents see their own row of the agents report only.")
    return Scope(None if filters.team_id is None else frozenset({filters.team_id}), user.id)


def conversation_filters(filters: Filters, scope: Scope) -> list[ColumnElement[bool]]:
    out: list[ColumnElement[bool]] = []
    if scope.team_ids is not None:
        out.append(Conversation.team_id.in_(sorted(scope.team_ids)))
    if filters.inbox_id is not None:
        out.append(Conversation.inbox_id == filters.inbox_id)
    if filters.channel is not None:
        out.append(Conversation.channel == filters.channel)
    return out


def needs_conversation(filters: Filters, scope: Scope) -> bool:
    """Whether a fact kept outside `conversations` must be joined to it: for a filter on the conversation
    (team, inbox, channel, the caller's teams) or a grouping by one of its columns."""
    return bool(conversation_filters(filters, scope)) or filters.group_by in ("team", "inbox", "channel", "intent")


def in_period(column: Any, filters: Filters) -> ColumnElement[bool]:
    return column.between(filters.start, filters.end - timedelta(microseconds=1))


def bucket_starts(filters: Filters) -> list[datetime]:
    """The UTC instants at which the period's local days (or Monday-weeks) begin, first one clamped."""
    local = filters.start.astimezone(filters.tz)
    day = local.date()
    if filters.group_by == "week":
        day -= timedelta(days=day.weekday())
    step = timedelta(days=7 if filters.group_by == "week" else 1)
    out: list[datetime] = []
    while True:
        instant = datetime.combine(day, time(0), filters.tz).astimezone(UTC)
        if instant >= filters.end:
            break
        out.append(max(instant, filters.start) if not out else instant)
        day += step
    return out


def bucket_label(filters: Filters, instant: datetime) -> str:
    day = instant.astimezone(filters.tz).date()
    if filters.group_by == "week":
        day -= timedelta(days=day.weekday())
    return day.isoformat()


class local_bucket(FunctionElement[str]):  # a SQL function, named like one
    """The day or week (its first day, ISO) a timestamp falls in, in a time zone: date_trunc on
    PostgreSQL; elsewhere the CASE over the buckets' UTC bounds it carries."""

    type = String()
    inherit_cache = True


@compiles(local_bucket, "postgresql")
def _local_bucket_pg(element: local_bucket, compiler: SQLCompiler, **kw: Any) -> str:
    column, _, tz, unit = list(element.clauses)
    local = f"({compiler.process(column, **kw)} AT TIME ZONE {compiler.process(tz, **kw)})"
    return f"to_char(date_trunc({compiler.process(unit, **kw)}, {local}), 'YYYY-MM-DD')"


@compiles(local_bucket)
def _local_bucket_default(element: local_bucket, compiler: SQLCompiler, **kw: Any) -> str:
    return str(compiler.process(list(element.clauses)[1], **kw))


def time_bucket(column: Any, filters: Filters) -> ColumnElement[Any]:
    """The day or week a timestamp of the period falls in, as its ISO date, computed by the database."""
    starts = bucket_starts(filters)
    whens = [(column < nxt, literal(bucket_label(filters, b)))
             for b, nxt in zip(starts, [*starts[1:], filters.end], strict=True)]
    fallback = case(*whens, else_=literal(None)) if whens else literal(None)
    return local_bucket(column, fallback, literal(str(filters.tz)), literal(filters.group_by))


def group_key(filters: Filters, *, at: Any, agent: Any = None) -> ColumnElement[Any]:
    """The grouping of a fact that happened at `at` (a timestamp column) to the agent `agent`."""
    g = filters.group_by
    if g in ("day", "week"):
        return time_bucket(at, filters).label("key")
    if g == "agent":
        return (agent if agent is not None else literal(None)).label("key")
    if g == "team":
        return Conversation.team_id.label("key")
    if g == "inbox":
        return Conversation.inbox_id.label("key")
    if g == "channel":
        return Conversation.channel.label("key")
    return Conversation.first_intent.label("key")


def labels(session: Session, filters: Filters, keys: Iterable[Any]) -> dict[Any, str]:
    """Readable names for the group keys (agent and team names; the key itself otherwise)."""
    ids = [k for k in keys if isinstance(k, int)]
    if filters.group_by == "agent" and ids:
        return dict(session.execute(select(User.id, User.name).where(User.id.in_(ids))).all())
    if filters.group_by == "team" and ids:
        return dict(session.execute(select(Team.id, Team.name).where(Team.id.in_(ids))).all())
    if filters.group_by == "inbox" and ids:
        from models.schema.channels import Inbox
        return dict(session.execute(select(Inbox.id, Inbox.name).where(Inbox.id.in_(ids))).all())
    return {}


def team_members(session: Session, team_ids: frozenset[int]) -> list[int]:
    return list(session.scalars(select(TeamMember.user_id).where(TeamMember.team_id.in_(sorted(team_ids)))
                                .distinct()))


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (PostgreSQL's percentile_cont): None without values."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)
    value = ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)
    return round(value, 3)


def is_postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def percentiles_by_key(session: Session, stmt: Select[Any], qs: Sequence[float]) -> dict[Any, list[float | None]]:
    """Per key, the percentiles `qs` of `later - earlier` in seconds, for a statement selecting
    (key, later, earlier); pairs with a NULL are left out, keys without any pair too. PostgreSQL
    computes them (percentile_cont); elsewhere the pairs are read and computed here, the same way."""
    if is_postgresql(session):
        sub = stmt.subquery()
        key, later, earlier = list(sub.c)
        secs = func.extract("epoch", later - earlier)
        rows = session.execute(select(key, *(func.percentile_cont(q).within_group(secs) for q in qs))
                               .group_by(key)).all()  # percentile_cont leaves NULLs out
        return {r[0]: [None if v is None else round(float(v), 3) for v in r[1:]] for r in rows
                if any(v is not None for v in r[1:])}
    times: dict[Any, list[float]] = {}
    for k, later_at, earlier_at in session.execute(stmt):
        if later_at is not None and earlier_at is not None:
            times.setdefault(k, []).append(seconds(later_at, earlier_at))
    return {k: [percentile(v, q) for q in qs] for k, v in times.items()}


def rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def seconds(later: datetime, earlier: datetime) -> float:
    return (later - earlier).total_seconds()


class add_seconds(FunctionElement[datetime]):  # a SQL function, named like one
    """`timestamp + n seconds`, on every database we run on."""

    type = DateTime(timezone=True)
    inherit_cache = True


@compiles(add_seconds, "postgresql")
def _add_seconds_pg(element: add_seconds, compiler: SQLCompiler, **kw: Any) -> str:
    column, amount = list(element.clauses)
    return f"({compiler.process(column, **kw)} + make_interval(secs => {compiler.process(amount, **kw)}))"


@compiles(add_seconds, "sqlite")
def _add_seconds_sqlite(element: add_seconds, compiler: SQLCompiler, **kw: Any) -> str:
    # Stored as 'YYYY-MM-DD HH:MM:SS.ffffff' (UTC); strftime keeps the same layout, to the millisecond.
    column, amount = list(element.clauses)
    return (f"strftime('%Y-%m-%d %H:%M:%f', {compiler.process(column, **kw)}, "
            f"'+' || {compiler.process(amount, **kw)} || ' seconds')")


def merge_rows(key_labels: Mapping[Any, str], per_key: Mapping[Any, dict[str, Any]],
               blank: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per key, every metric present (blank values where a key had none of a metric)."""
    rows = []
    for key in sorted(per_key, key=lambda k: (k is None, str(k))):
        row = {"key": key, "label": key_labels.get(key, "(none)" if key is None else str(key))}
        row.update({**blank, **per_key[key]})
        rows.append(row)
    return rows
