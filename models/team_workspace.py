"""A team's workspace besides its routing: canned replies and opening hours.

An agent who works a conversation works it with the settings of the conversation's team (its canned
replies, routing, hours), whatever their own home team: a supervisor entering another team's
conversation, or an agent of several teams.

Canned replies have a scope: a team's (`team_id`), shared by the team, managed by supervisors and
admins; or personal (`user_id`), seen and managed by their owner only (admins included: nobody reads
another user's personal replies). An agent reads a team's replies only if they serve that team, or
through a conversation of that team they can see (`visibility.can_see`).

Opening hours: a timezone (IANA) and weekly intervals in that timezone's wall-clock time; a team
without hours is always open. Outside its hours a team still queues conversations and routes them to
whoever is online, but the customer is told when it opens instead of an estimated wait.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import CheckConstraint, ColumnElement, ForeignKey, String, Text, UniqueConstraint, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from models import actions
from models.errors import Conflict, Forbidden, InvalidInput, NotFound
from models.schema import Base, Team, User, utcnow

MAX_CODE = 40
MAX_BODY = 4000
CODE_RE = re.compile(r"^[a-z0-9_-]{1,40}$")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # index = date.weekday()
MAX_INTERVALS = 50
DEFAULT_OUT_OF_HOURS_MESSAGE = ("Thanks for your message. Our team is away right now; we open again "
                                "{{next_opening}} and will answer you here then.")


class CannedReply(Base):
    __tablename__ = "canned_replies"
    __table_args__ = (
        UniqueConstraint("team_id", "short_code", name="uq_canned_replies_team_code"),
        UniqueConstraint("user_id", "short_code", name="uq_canned_replies_user_code"),
        CheckConstraint("(team_id IS NULL) <> (user_id IS NULL)", name="ck_canned_replies_one_scope"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), default=None)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), default=None)
    short_code: Mapped[str] = mapped_column(String(MAX_CODE))
    body: Mapped[str] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class TeamHours(Base):
    """A team's opening hours. No row: always open."""

    __tablename__ = "team_hours"

    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True)
    timezone: Mapped[str] = mapped_column(String(64))
    # [{"day": "mon", "start": "09:00", "end": "17:00"}, ...]; `end` may be "24:00".
    intervals: Mapped[list[Any]] = mapped_column()
    out_of_hours_message: Mapped[str] = mapped_column(Text, default=DEFAULT_OUT_OF_HOURS_MESSAGE)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


# --- opening hours ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Interval:
    day: int  # 0 = Monday
    start: time
    end: time | None  # None: midnight at the end of the day ("24:00")

    def json(self) -> dict[str, str]:
        return {"day": DAYS[self.day], "start": self.start.strftime("%H:%M"),
                "end": self.end.strftime("%H:%M") if self.end is not None else "24:00"}


@dataclass(frozen=True)
class Hours:
    timezone: str
    intervals: tuple[Interval, ...]
    out_of_hours_message: str = DEFAULT_OUT_OF_HOURS_MESSAGE

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True)
class HoursState:
    """Whether a team is open at a moment, and when it next opens (None while open, or if always open)."""

    always_open: bool
    open_now: bool
    next_opening: datetime | None  # aware, UTC
    next_opening_local: datetime | None  # the same instant in the team's timezone
    timezone: str | None

    @property
    def next_opening_text(self) -> str | None:
        if self.next_opening_local is None:
            return None
        t = self.next_opening_local
        return f"{t:%A} {t.day} {t:%B} at {t:%H:%M} ({self.timezone})"


ALWAYS_OPEN = HoursState(True, True, None, None, None)


def _wall(d: date, t: time | None, tz: ZoneInfo) -> datetime:
    """The UTC instant of wall-clock `t` on day `d` in `tz` (None: midnight ending the day).

    A wall time skipped by a DST change (02:30 on a spring-forward night) counts as the instant it
    would have been with the old offset (03:30 after the jump); a repeated one as its first occurrence.
    """
    if t is None:
        d, t = d + timedelta(days=1), time(0, 0)
    return datetime.combine(d, t, tzinfo=tz).astimezone(UTC)


def hours_state(hours: Hours | None, now: datetime) -> HoursState:
    if hours is None or not hours.intervals:
        return ALWAYS_OPEN
    tz = hours.tz
    today = now.astimezone(tz).date()
    upcoming: list[datetime] = []
    for offset in range(-1, 8):  # yesterday (an interval can't cross midnight, but be safe) to a week on
        d = today + timedelta(days=offset)
        for iv in hours.intervals:
            if iv.day != d.weekday():
                continue
            start, end = _wall(d, iv.start, tz), _wall(d, iv.end, tz)
            if start <= now < end:
                return HoursState(False, True, None, None, hours.timezone)
            if start > now:
                upcoming.append(start)
    if not upcoming:  # cannot happen with at least one interval, but never fail the caller
        return HoursState(False, False, None, None, hours.timezone)
    nxt = min(upcoming)
    return HoursState(False, False, nxt, nxt.astimezone(tz), hours.timezone)


def out_of_hours_text(hours: Hours, state: HoursState) -> str:
    """The message for a customer arriving while the team is closed, with the next opening filled in."""
    when = state.next_opening_text or "soon"
    return re.sub(r"\{\{\s*next_opening\s*\}\}", lambda _m: when, hours.out_of_hours_message)


def _parse_time(value: Any, name: str, *, allow_24: bool) -> time | None:
    if not isinstance(value, str) or not re.fullmatch(r"\d{2}:\d{2}", value):
        raise InvalidInput(f"{name} must be a time as HH:MM.")
    if allow_24 and value == "24:00":
        return None
    hh, mm = int(value[:2]), int(value[3:])
    if hh > 23 or mm > 59:
        raise InvalidInput(f"{name} must be a time from 00:00 to {'24:00' if allow_24 else '23:59'}.")
    return time(hh, mm)


def check_timezone(value: Any) -> str:
    if not isinstance(value, str) or not value or len(value) > 64:
        raise InvalidInput("timezone must be an IANA timezone name, e.g. Europe/Paris.")
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidInput(f"Unknown timezone: {value}.", code="unknown_timezone") from exc
    return value


def check_hours(body: dict[str, Any]) -> Hours:
    """{"timezone", "intervals": [{"day" or "days", "start", "end"}], "out_of_hours_message"?}."""
    unknown = sorted(set(body) - {"timezone", "intervals", "out_of_hours_message"})
    if unknown:
        raise InvalidInput(f"Unknown field(s): {', '.join(unknown)}.")
    tz = check_timezone(body.get("timezone"))
    raw = body.get("intervals")
    if not isinstance(raw, list) or not raw:
        raise InvalidInput("intervals must be a non-empty list of {day, start, end} (remove the hours to be "
                           "always open).")
    out: list[Interval] = []
    for item in raw:
        if not isinstance(item, dict) or set(item) - {"day", "days", "start", "end"}:
            raise InvalidInput("Each interval is {\"day\": \"mon\", \"start\": \"09:00\", \"end\": \"17:00\"} "
                               "(or \"days\": [..]).")
        days = item.get("days", [item.get("day")]) if "days" in item else [item.get("day")]
        if not isinstance(days, list) or not days or any(d not in DAYS for d in days):
            raise InvalidInput(f"day must be one of: {', '.join(DAYS)}.")
        start = _parse_time(item.get("start"), "start", allow_24=False)
        end = _parse_time(item.get("end"), "end", allow_24=True)
        assert start is not None
        if end is not None and end <= start:
            raise InvalidInput("An interval must end after it starts (split one that crosses midnight in two).")
        out += [Interval(DAYS.index(d), start, end) for d in days]
    if len(out) > MAX_INTERVALS:
        raise InvalidInput(f"At most {MAX_INTERVALS} intervals.")
    message = body.get("out_of_hours_message", DEFAULT_OUT_OF_HOURS_MESSAGE)
    if not isinstance(message, str) or not message.strip() or len(message) > 1000:
        raise InvalidInput("out_of_hours_message must be a text of 1 to 1000 characters.")
    ordered = tuple(sorted(set(out), key=lambda i: (i.day, i.start, i.end or time.max)))
    return Hours(tz, ordered, message.strip())


def _from_row(row: TeamHours) -> Hours:
    ivs = []
    for item in row.intervals or []:
        start = _parse_time(item["start"], "start", allow_24=False)
        assert start is not None
        ivs.append(Interval(DAYS.index(item["day"]), start, _parse_time(item["end"], "end", allow_24=True)))
    return Hours(row.timezone, tuple(ivs), row.out_of_hours_message)


def team_hours(session: Session, team_id: int) -> Hours | None:
    row = session.get(TeamHours, team_id)
    return _from_row(row) if row is not None else None


def team_hours_state(session: Session, team_id: int, now: datetime) -> tuple[Hours | None, HoursState]:
    hours = team_hours(session, team_id)
    return hours, hours_state(hours, now)


def hours_json(hours: Hours | None, state: HoursState) -> dict[str, Any]:
    return {"always_open": hours is None, "timezone": hours.timezone if hours else None,
            "intervals": [i.json() for i in hours.intervals] if hours else [],
            "out_of_hours_message": hours.out_of_hours_message if hours else None,
            "open_now": state.open_now,
            "next_opening": state.next_opening.isoformat() if state.next_opening else None,
            "next_opening_local": state.next_opening_local.isoformat() if state.next_opening_local else None,
            "next_opening_text": state.next_opening_text}


def _may_manage_team(actor: User) -> bool:
    return actor.role in ("admin", "supervisor")


def serves(user: User, team_id: int) -> bool:
    """Whether the user works for this team directly: a member, or a supervisor/admin (every team)."""
    return user.sees_all_teams or team_id in user.team_ids


def do_set_team_hours(session: Session, actor: User, team_id: int, hours: Hours | None) -> Hours | None:
    """Set (None: remove, always open) a team's hours. Supervisors and admins."""
    if not _may_manage_team(actor):
        raise Forbidden("Only supervisors and admins change a team's hours.")
    if session.get(Team, team_id) is None:
        raise NotFound("No such team.")
    row = session.get(TeamHours, team_id)
    if hours is None:
        if row is not None:
            session.delete(row)
    else:
        if row is None:
            row = TeamHours(team_id=team_id, timezone=hours.timezone, intervals=[])
            session.add(row)
        row.timezone = hours.timezone
        row.intervals = [i.json() for i in hours.intervals]
        row.out_of_hours_message = hours.out_of_hours_message
        row.updated_at = utcnow()
    session.flush()
    actions.audit(session, "team.hours_changed", actor=actor, team_id=team_id,
                  hours=None if hours is None else {"timezone": hours.timezone,
                                                    "intervals": [i.json() for i in hours.intervals]})
    return hours


# --- canned replies -------------------------------------------------------------------------------------


PLACEHOLDER = re.compile(r"\{\{\s*(contact\.name|agent\.name)\s*\}\}")


def fill(body: str, *, contact_name: str | None, agent_name: str | None) -> str:
    """The reply's text for one conversation: placeholders filled in (plain text, as typed)."""
    values = {"contact.name": (contact_name or "").strip(), "agent.name": (agent_name or "").strip()}
    return PLACEHOLDER.sub(lambda m: values[m.group(1)], body)


def check_code(value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidInput("short_code must be a string.")
    code = value.strip().lower()
    if not CODE_RE.fullmatch(code):
        raise InvalidInput(f"short_code must be 1 to {MAX_CODE} lowercase letters, digits, - or _.",
                           code="invalid_code")
    return code


def check_body(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput("body must be a non-empty text.")
    if len(value) > MAX_BODY:
        raise InvalidInput(f"body is too long ({len(value)} characters; the limit is {MAX_BODY}).", code="too_long")
    return value.strip()


def may_manage(actor: User, reply: CannedReply) -> bool:
    if reply.user_id is not None:
        return reply.user_id == actor.id
    return _may_manage_team(actor)


def may_read(actor: User, reply: CannedReply) -> bool:
    if reply.user_id is not None:
        return reply.user_id == actor.id
    return reply.team_id is not None and serves(actor, reply.team_id)


def readable(session: Session, user: User, team_ids: list[int] | None, q: str | None = None,
             *, personal: bool = True) -> list[CannedReply]:
    """Replies of these teams (the caller checks they may read them) plus, with `personal`, the user's own."""
    scopes: list[ColumnElement[bool]] = []
    if team_ids:
        scopes.append(CannedReply.team_id.in_(team_ids))
    if personal:
        scopes.append(CannedReply.user_id == user.id)
    if not scopes:
        return []
    stmt = select(CannedReply).where(or_(*scopes))
    if q:
        needle = q.lower()
        stmt = stmt.where(or_(func.lower(CannedReply.short_code).contains(needle, autoescape=True),
                              func.lower(CannedReply.body).contains(needle, autoescape=True)))
    rows = session.scalars(stmt).all()
    return sorted(rows, key=lambda r: (r.user_id is not None, r.team_id or 0, r.short_code))


def _code_taken(session: Session, reply: CannedReply, code: str) -> bool:
    stmt = select(CannedReply.id).where(CannedReply.short_code == code, CannedReply.id != (reply.id or 0))
    stmt = stmt.where(CannedReply.team_id == reply.team_id) if reply.team_id is not None \
        else stmt.where(CannedReply.user_id == reply.user_id)
    return session.scalar(stmt.limit(1)) is not None


def _flush_unique(session: Session, code: str) -> None:
    """Two people saving the same code at once: the unique constraint decides, the loser gets 409
    (the transaction is rolled back by the caller's context as the error propagates)."""
    try:
        session.flush()
    except IntegrityError as exc:
        raise Conflict(f"/{code} is already in use here.", code="code_taken") from exc


def get_reply(session: Session, actor: User, reply_id: int) -> CannedReply:
    reply = session.get(CannedReply, reply_id)
    if reply is None or not may_read(actor, reply):
        raise NotFound("No such canned reply.")
    return reply


def do_create_canned_reply(session: Session, actor: User, *, short_code: str, body: str,
                           team_id: int | None) -> CannedReply:
    """A team's reply (supervisors and admins) or, without `team_id`, a personal one (anybody)."""
    if team_id is not None:
        if session.get(Team, team_id) is None or not serves(actor, team_id):
            raise NotFound("No such team.")
        if not _may_manage_team(actor):
            raise Forbidden("Only supervisors and admins manage a team's canned replies; "
                            "create a personal one instead.")
    now = utcnow()
    reply = CannedReply(team_id=team_id, user_id=None if team_id is not None else actor.id,
                        short_code=short_code, body=body, created_by_id=actor.id, created_at=now, updated_at=now)
    if _code_taken(session, reply, short_code):
        raise Conflict(f"/{short_code} is already in use here.", code="code_taken")
    session.add(reply)
    _flush_unique(session, short_code)
    actions.audit(session, "canned_reply.created", actor=actor, canned_reply_id=reply.id, team_id=team_id,
                  personal=team_id is None, short_code=short_code)
    return reply


def do_update_canned_reply(session: Session, actor: User, reply_id: int, changes: dict[str, Any]) -> CannedReply:
    reply = get_reply(session, actor, reply_id)
    if not may_manage(actor, reply):
        raise Forbidden("Only supervisors and admins manage a team's canned replies.")
    code = changes.get("short_code", reply.short_code)
    if code != reply.short_code and _code_taken(session, reply, code):
        raise Conflict(f"/{code} is already in use here.", code="code_taken")
    reply.short_code = code
    reply.body = changes.get("body", reply.body)
    reply.updated_at = utcnow()
    _flush_unique(session, code)
    actions.audit(session, "canned_reply.updated", actor=actor, canned_reply_id=reply.id, team_id=reply.team_id,
                  personal=reply.user_id is not None, fields=sorted(changes))
    return reply


def do_delete_canned_reply(session: Session, actor: User, reply_id: int) -> None:
    reply = get_reply(session, actor, reply_id)
    if not may_manage(actor, reply):
        raise Forbidden("Only supervisors and admins manage a team's canned replies.")
    actions.audit(session, "canned_reply.deleted", actor=actor, canned_reply_id=reply.id, team_id=reply.team_id,
                  personal=reply.user_id is not None, short_code=reply.short_code)
    session.delete(reply)
    session.flush()


def reply_json(reply: CannedReply, actor: User, teams: dict[int, str], *, filled: str | None = None) -> dict[str, Any]:
    out = {"id": reply.id, "short_code": reply.short_code, "body": reply.body,
           "scope": "personal" if reply.user_id is not None else "team",
           "team": {"id": reply.team_id, "name": teams.get(reply.team_id)} if reply.team_id is not None else None,
           "created_by_id": reply.created_by_id, "can_edit": may_manage(actor, reply),
           "created_at": reply.created_at.isoformat(), "updated_at": reply.updated_at.isoformat()}
    if filled is not None:
        out["text"] = filled
    return out
