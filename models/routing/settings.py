"""A team's routing settings: policy, offer and transfer timeouts, idle and waiting timeouts, messages."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from models.audit import audit
from models.errors import Forbidden, InvalidInput, NotFound
from models.schema.accounts import Team, User
from models.schema.base import utcnow
from models.schema.routing import (
    DEFAULT_CLOSING_MESSAGE,
    DEFAULT_QUEUE_MESSAGE,
    Policy,
    TeamRouting,
)

MAX_TIMEOUT = 30 * 24 * 3600


@dataclass(frozen=True)
class TeamSettings:
    team_id: int
    policy: str = Policy.LEAST_LOADED.value
    offer_timeout_seconds: int | None = None
    transfer_timeout_seconds: int = 60
    idle_timeout_seconds: int | None = 3600
    waiting_timeout_seconds: int | None = 6 * 3600
    closing_message: str = DEFAULT_CLOSING_MESSAGE
    queue_message: str = DEFAULT_QUEUE_MESSAGE

    def json(self) -> dict[str, Any]:
        return {"policy": self.policy, "offer_timeout_seconds": self.offer_timeout_seconds,
                "transfer_timeout_seconds": self.transfer_timeout_seconds,
                "idle_timeout_seconds": self.idle_timeout_seconds,
                "waiting_timeout_seconds": self.waiting_timeout_seconds,
                "closing_message": self.closing_message, "queue_message": self.queue_message}


SETTING_FIELDS = ("policy", "offer_timeout_seconds", "transfer_timeout_seconds", "idle_timeout_seconds",
                  "waiting_timeout_seconds", "closing_message", "queue_message")


def team_settings(session: Session, team_id: int) -> TeamSettings:
    row = session.get(TeamRouting, team_id)
    if row is None:
        return TeamSettings(team_id)
    return TeamSettings(team_id, **{f: getattr(row, f) for f in SETTING_FIELDS})


def _seconds(name: str, value: Any, *, nullable: bool, minimum: int = 1) -> int | None:
    if value is None and nullable:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not minimum <= value <= MAX_TIMEOUT:
        off = " or null (off)" if nullable else ""
        raise InvalidInput(f"{name} must be a whole number of seconds from {minimum} to {MAX_TIMEOUT}{off}.")
    return value


def check_team_settings(body: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(body) - set(SETTING_FIELDS))
    if unknown:
        raise InvalidInput(f"Unknown setting(s): {', '.join(unknown)}.")
    out: dict[str, Any] = {}
    for name, value in body.items():
        if name == "policy":
            if value not in {p.value for p in Policy}:
                raise InvalidInput("policy must be one of: manual, round_robin, least_loaded.")
            out[name] = value
        elif name in ("closing_message", "queue_message"):
            if not isinstance(value, str) or len(value) > 1000:
                raise InvalidInput(f"{name} must be a text of at most 1000 characters (\"\" sends nothing).")
            out[name] = value.strip()
        elif name == "transfer_timeout_seconds":
            out[name] = _seconds(name, value, nullable=False, minimum=5)
        else:
            out[name] = _seconds(name, value, nullable=True, minimum=5)
    return out


def do_update_team_settings(session: Session, actor: User, team_id: int, changes: dict[str, Any]) -> TeamSettings:
    if actor.role != "admin":
        raise Forbidden("Only admins change a team's routing.")
    if session.get(Team, team_id) is None:
        raise NotFound("No such team.")
    row = session.get(TeamRouting, team_id)
    if row is None:
        row = TeamRouting(team_id=team_id, **{k: v for k, v in TeamSettings(team_id).json().items()})
        session.add(row)
    for name, value in changes.items():
        setattr(row, name, value)
    row.updated_at = utcnow()
    session.flush()
    audit(session, "team.routing_changed", actor=actor, team_id=team_id, changes=changes)
    return team_settings(session, team_id)
