"""Canned replies: a team's (managed by supervisors and admins) or a user's own."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models.audit import audit
from models.errors import Conflict, Forbidden, InvalidInput, NotFound
from models.routing.hours import _may_manage_team, serves
from models.schema.accounts import Team, User
from models.schema.base import utcnow
from models.schema.routing import MAX_BODY, MAX_CODE, CannedReply

CODE_RE = re.compile(r"^[a-z0-9_-]{1,40}$")


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
    audit(session, "canned_reply.created", actor=actor, canned_reply_id=reply.id, team_id=team_id,
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
    audit(session, "canned_reply.updated", actor=actor, canned_reply_id=reply.id, team_id=reply.team_id,
                  personal=reply.user_id is not None, fields=sorted(changes))
    return reply


def do_delete_canned_reply(session: Session, actor: User, reply_id: int) -> None:
    reply = get_reply(session, actor, reply_id)
    if not may_manage(actor, reply):
        raise Forbidden("Only supervisors and admins manage a team's canned replies.")
    audit(session, "canned_reply.deleted", actor=actor, canned_reply_id=reply.id, team_id=reply.team_id,
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
