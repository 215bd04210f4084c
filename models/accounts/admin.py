"""Admins manage users: list and search, create (with a password) or invite by email, edit name, role,
teams and capacity, deactivate and reactivate. Every change is audited.

Two rules hold whatever the order of calls: there is always at least one active admin who can sign in
(the last one cannot be demoted or deactivated: `Conflict` "last_admin"), and a change of what a user
may see ends the access that was granted for the old scope (`do_revoke_sessions`): deactivation ends
sessions, API tokens and sockets at once; a role or team change ends the sessions (their sockets joined
rooms for the old teams) and closes the sockets opened with a token, which reconnect with the new scope.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, or_, select, text
from sqlalchemy.orm import Session, selectinload
from werkzeug.security import generate_password_hash

from models.accounts.passwords import check_new_password, do_end_password_links
from models.accounts.scope import end_stale_access
from models.accounts.sessions import do_revoke_sessions
from models.accounts.teams import default_team
from models.accounts.users import check_email, check_role
from models.audit import audit
from models.errors import Conflict, Forbidden, InvalidInput, NotFound
from models.routing.availability import check_capacity
from models.routing.release import do_release_user
from models.schema.accounts import Availability, Role, Team, TeamMember, User
from models.schema.base import utcnow

MAX_NAME = 120
NO_PASSWORD = ""  # an invited user's password_hash until they choose one: matches no password


def require_admin(actor: User) -> None:
    if actor.role != Role.ADMIN.value:
        raise Forbidden("Only admins manage users and teams.", code="admin_only")


def require_manager(actor: User) -> None:
    """Reading the user list: admins and supervisors (supervisors staff the teams), not agents."""
    if actor.role not in (Role.ADMIN.value, Role.SUPERVISOR.value):
        raise Forbidden("Only admins and supervisors see the list of users.", code="forbidden")


def check_name(name: object) -> str:
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput("A name cannot be empty.", code="invalid")
    if len(name.strip()) > MAX_NAME:
        raise InvalidInput(f"A name has at most {MAX_NAME} characters.", code="invalid")
    return name.strip()


def _lock_writes(session: Session) -> None:
    """SQLite: take the write lock now, so the admin count read below stays true until commit (on
    PostgreSQL the admins' rows are locked instead, in `_other_admins`)."""
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text("UPDATE users SET id = id WHERE id = -1"))


def _other_admins(session: Session, user: User) -> int:
    """Active admins who can sign in, other than `user`; their rows stay locked until commit."""
    ids = session.scalars(select(User.id).where(
        User.role == Role.ADMIN.value, User.active.is_(True), User.invited_at.is_(None),
        User.id != user.id).with_for_update())
    return len(list(ids))


def _check_not_last_admin(session: Session, user: User, doing: str) -> None:
    if user.role == Role.ADMIN.value and user.active and user.invited_at is None \
            and _other_admins(session, user) == 0:
        raise Conflict(f"{user.email} is the last active admin: make another user admin before you {doing}.",
                       code="last_admin")


def teams_by_id(session: Session, team_ids: Sequence[int]) -> list[Team]:
    """The named teams, each existing and not archived (400 otherwise: it is the caller's input)."""
    wanted = list(dict.fromkeys(team_ids))
    teams = {t.id: t for t in session.scalars(select(Team).where(Team.id.in_(wanted)))} if wanted else {}
    missing = [i for i in wanted if i not in teams or teams[i].archived_at is not None]
    if missing:
        raise InvalidInput(f"No such team (or archived): {', '.join(map(str, missing))}.", code="unknown_team")
    return [teams[i] for i in wanted]


def _set_teams(session: Session, user: User, teams: list[Team]) -> bool:
    """Membership becomes exactly `teams`; says whether it changed."""
    current = {m.team_id: m for m in user.memberships}
    wanted = {t.id for t in teams}
    if set(current) == wanted:
        return False
    for team_id, member in current.items():
        if team_id not in wanted:
            session.delete(member)
    for team in teams:
        if team.id not in current:
            session.add(TeamMember(team_id=team.id, user_id=user.id))
    session.flush()
    session.expire(user, ["memberships"])
    return True


@dataclass(frozen=True)
class NewUser:
    email: str
    name: str | None = None
    role: str = Role.AGENT.value
    team_ids: tuple[int, ...] | None = None  # None: the default team
    capacity: int | None = None
    password: str | None = None  # None: invite by email (the caller sends the link)


def do_add_user(session: Session, actor: User, new: NewUser) -> User:
    """Create a user with a password, or (no password) an invited one whose password_hash matches nothing
    until they follow the link the caller issues (models/accounts/passwords.py)."""
    require_admin(actor)
    email = check_email(new.email)
    role = check_role(new.role)
    name = check_name(new.name) if new.name is not None else email.split("@")[0].title()
    capacity = check_capacity(new.capacity)
    password = check_new_password(new.password) if new.password is not None else None
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise Conflict(f"A user with the email {email} exists already.", code="email_taken")
    teams = teams_by_id(session, new.team_ids) if new.team_ids is not None else [default_team(session)]
    user = User(email=email, name=name, role=role, capacity=capacity,
                password_hash=generate_password_hash(password) if password else NO_PASSWORD,
                invited_at=None if password else utcnow())
    session.add(user)
    session.flush()
    for team in teams:
        session.add(TeamMember(team_id=team.id, user_id=user.id))
    session.flush()
    audit(session, "user.invited" if password is None else "user.created", actor=actor, user_id=user.id,
          email=email, role=role, team_ids=[t.id for t in teams], capacity=capacity)
    return user


def access_user(session: Session, actor: User, user_id: int) -> User:
    require_manager(actor)
    user = session.scalar(select(User).options(selectinload(User.memberships)).where(User.id == user_id))
    if user is None:
        raise NotFound("No such user.")
    return user


def do_update_user(session: Session, actor: User, user_id: int, changes: dict[str, Any]) -> User:
    """Edit name, role, teams (`team_ids`: the whole new set) and capacity. Only what is in `changes`."""
    require_admin(actor)
    _lock_writes(session)
    user = access_user(session, actor, user_id)
    done: dict[str, Any] = {}
    rights_changed = False
    if "name" in changes:
        user.name = done["name"] = check_name(changes["name"])
    if "capacity" in changes:
        user.capacity = done["capacity"] = check_capacity(changes["capacity"])
    if "role" in changes and changes["role"] != user.role:
        role = check_role(str(changes["role"]) if isinstance(changes["role"], str) else "")
        if user.role == Role.ADMIN.value:
            _check_not_last_admin(session, user, "change their role")
        done["role"] = {"from": user.role, "to": role}
        user.role = role
        rights_changed = True
    if "team_ids" in changes:
        ids = changes["team_ids"]
        if not isinstance(ids, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
            raise InvalidInput("team_ids must be a list of team ids.")
        if _set_teams(session, user, teams_by_id(session, ids)):
            done["team_ids"] = list(dict.fromkeys(ids))
            rights_changed = True
    if done:
        audit(session, "user.updated", actor=actor, user_id=user.id, changes=done)
    if rights_changed:
        end_stale_access(session, user)
    return user


def do_deactivate_user(session: Session, actor: User, user_id: int) -> User:
    """They can no longer sign in; their sessions, API tokens, password links and open sockets end now,
    routing stops offering them chats (offline), and the open chats they held go back to their teams'
    queues (models/routing/release.py). Their history stays."""
    require_admin(actor)
    _lock_writes(session)
    user = access_user(session, actor, user_id)
    if not user.active:
        raise Conflict(f"{user.email} is deactivated already.", code="already_deactivated")
    _check_not_last_admin(session, user, "deactivate them")
    now = utcnow()
    user.active = False
    user.deactivated_at = now
    user.availability = Availability.OFFLINE.value
    user.auto_offline_from = None
    do_end_password_links(session, user, now=now)
    do_revoke_sessions(session, user, tokens=True)
    requeued = do_release_user(session, actor, user, now)
    audit(session, "user.deactivated", actor=actor, user_id=user.id, email=user.email, requeued=requeued)
    return user


def do_reactivate_user(session: Session, actor: User, user_id: int) -> User:
    """They may sign in again with their password (their old sessions and tokens stay ended)."""
    require_admin(actor)
    user = access_user(session, actor, user_id)
    if user.active:
        raise Conflict(f"{user.email} is active already.", code="already_active")
    user.active = True
    user.deactivated_at = None
    audit(session, "user.reactivated", actor=actor, user_id=user.id, email=user.email)
    return user


def users_select(q: str | None = None, role: str | None = None, status: str | None = None,
                 team_id: int | None = None) -> Select[User]:
    """Users matching a search (`q` in name or email), a role, a status (None: not deactivated; "all")
    and a team; by name."""
    stmt = select(User).options(selectinload(User.memberships))
    if q:
        pattern = "%" + q.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(or_(func.lower(User.name).like(pattern, escape="\\"),
                              func.lower(User.email).like(pattern, escape="\\")))
    if role:
        stmt = stmt.where(User.role == role)
    if status is None:  # everyone who may be assigned a chat (not deactivated)
        stmt = stmt.where(User.active.is_(True))
    elif status == "active":
        stmt = stmt.where(User.active.is_(True), User.invited_at.is_(None))
    elif status == "invited":
        stmt = stmt.where(User.active.is_(True), User.invited_at.is_not(None))
    elif status == "deactivated":
        stmt = stmt.where(User.active.is_(False))
    if team_id is not None:
        stmt = stmt.where(User.id.in_(select(TeamMember.user_id).where(TeamMember.team_id == team_id)))
    return stmt.order_by(func.lower(User.name), User.id)


def status_of(user: User) -> str:
    if not user.active:
        return "deactivated"
    return "invited" if user.invited_at is not None else "active"
