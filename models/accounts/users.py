"""Users: create, authenticate, change a password; and the first start's demo admin."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from models.accounts.sessions import do_revoke_sessions
from models.accounts.teams import default_team, do_add_member
from models.audit import audit
from models.errors import Conflict, InvalidInput
from models.schema.accounts import Role, Team, User

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


MIN_PASSWORD = 8


# Checked against when the email is unknown, so a login takes as long either way.
_DUMMY_HASH = generate_password_hash("not a real password")


def check_email(email: str) -> str:
    email = (email or "").strip().lower()
    if not EMAIL_RE.match(email):
        raise InvalidInput(f"{email!r} is not an email address.")
    return email


def check_role(role: str) -> str:
    if role not in {r.value for r in Role}:
        raise InvalidInput(f"Unknown role {role!r}; use one of: admin, supervisor, agent.")
    return role


def do_create_user(session: Session, *, email: str, password: str, role: str = "agent",
                   name: str | None = None, team_name: str | None = None) -> User:
    email = check_email(email)
    check_role(role)
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(f"The password must have at least {MIN_PASSWORD} characters.")
    if session.scalar(select(User).where(User.email == email)) is not None:
        raise Conflict(f"A user with the email {email} exists already.")
    default = default_team(session)  # exists before any named team, so it stays the default
    user = User(email=email, name=name or email.split("@")[0].title(), role=role,
                password_hash=generate_password_hash(password))
    session.add(user)
    session.flush()
    team = _team_named(session, team_name) if team_name else default
    do_add_member(session, team, user)
    audit(session, "user.created", user_id=user.id, email=email, role=role, team=team.name)
    return user


def _team_named(session: Session, name: str) -> Team:
    team = session.scalar(select(Team).where(Team.name == name))
    if team is None:
        team = Team(name=name)
        session.add(team)
        session.flush()
    return team


def authenticate(session: Session, email: str, password: str) -> User | None:
    user = session.scalar(select(User).where(User.email == (email or "").strip().lower()))
    if user is None or not user.password_hash:  # unknown, or invited and no password chosen yet
        check_password_hash(_DUMMY_HASH, password or "")
        return None
    if not check_password_hash(user.password_hash, password or "") or not user.active:
        return None
    return user


def do_change_password(session: Session, user: User, *, current: object, new: object,
                       keep_session: int | None) -> None:
    """The user changes their own password: the current one proves it is them. Every other session
    ends (a thief's copy of a cookie included); the one making the change stays logged in."""
    if not isinstance(current, str) or not check_password_hash(user.password_hash, current):
        raise InvalidInput("The current password is wrong.", code="wrong_password")
    if not isinstance(new, str) or len(new) < MIN_PASSWORD:
        raise InvalidInput(f"The new password must have at least {MIN_PASSWORD} characters.")
    user.password_hash = generate_password_hash(new)
    audit(session, "user.password_changed", user_id=user.id)
    do_revoke_sessions(session, user, except_session=keep_session)


@dataclass(frozen=True)
class Bootstrap:
    email: str
    password: str


DEMO_ADMIN_EMAIL = "admin@parley.local"


def do_bootstrap(session: Session) -> Bootstrap | None:
    """At first start: the default team, and a demo admin whose password is returned to be printed once."""
    default_team(session)
    if session.scalar(select(func.count(User.id))):
        return None
    password = secrets.token_urlsafe(12)
    do_create_user(session, email=DEMO_ADMIN_EMAIL, password=password, role=Role.ADMIN.value, name="Admin")
    return Bootstrap(DEMO_ADMIN_EMAIL, password)
