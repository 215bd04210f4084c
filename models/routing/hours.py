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

from sqlalchemy.orm import Session

from models.audit import audit
from models.errors import Forbidden, InvalidInput, NotFound
from models.schema.accounts import Team, User
from models.schema.base import utcnow
from models.schema.routing import DEFAULT_OUT_OF_HOURS_MESSAGE, TeamHours

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # index = date.weekday()


MAX_INTERVALS = 50




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
    audit(session, "team.hours_changed", actor=actor, team_id=team_id,
                  hours=None if hours is None else {"timezone": hours.timezone,
                                                    "intervals": [i.json() for i in hours.intervals]})
    return hours
