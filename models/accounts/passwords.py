"""One-time links to set a password: the invitation an admin sends (valid 72 h) and a password reset
(2 h). The secret goes out in the link and nowhere else; only its SHA-256 is kept, so a leaked table
opens no account. A link ends when it is used, when a newer one is issued for the same user, and when
the user is deactivated."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from models.accounts.sessions import do_revoke_sessions, hash_secret
from models.audit import audit
from models.errors import InvalidInput, NotFound
from models.schema.accounts import PasswordLink, User
from models.schema.base import utcnow

MIN_PASSWORD = 8
MAX_PASSWORD = 200
PREFIX = "pw_"


class Purpose(StrEnum):
    INVITE = "invite"
    RESET = "reset"


LIFETIME = {Purpose.INVITE: timedelta(hours=72), Purpose.RESET: timedelta(hours=2)}


@dataclass(frozen=True)
class IssuedLink:
    secret: str  # goes into the mailed URL, shown nowhere else
    purpose: Purpose
    expires_at: datetime


def do_issue_password_link(session: Session, user: User, purpose: Purpose, *,
                           actor: User | None = None) -> IssuedLink:
    """A new link for `user`; any earlier unused link of theirs stops working (only the newest mail counts)."""
    now = utcnow()
    do_end_password_links(session, user, now=now)
    secret = PREFIX + secrets.token_urlsafe(32)
    expires = now + LIFETIME[purpose]
    session.add(PasswordLink(user_id=user.id, token_hash=hash_secret(secret), purpose=purpose.value,
                             created_by=actor.id if actor else None, created_at=now, expires_at=expires))
    session.flush()
    audit(session, f"user.{purpose.value}_link_issued", actor=actor, user_id=user.id,
          expires_at=expires.isoformat())
    return IssuedLink(secret, purpose, expires)


def do_end_password_links(session: Session, user: User, *, now: datetime | None = None) -> None:
    """Every unused link of this user stops working (a newer one was issued, or they were deactivated)."""
    session.execute(update(PasswordLink).where(PasswordLink.user_id == user.id, PasswordLink.used_at.is_(None))
                    .values(used_at=now or utcnow()))


def link_for(session: Session, secret: object) -> tuple[PasswordLink, User]:
    """The live link behind a secret and its (active) user; NotFound for anything else, with one message
    whatever the reason, so a guessed or stale link tells nothing."""
    gone = NotFound("This link is not valid any more: it was used, replaced by a newer one, or it expired. "
                    "Ask an admin to send a new one.", code="link_invalid")
    if not isinstance(secret, str) or not secret.startswith(PREFIX) or len(secret) > 100:
        raise gone
    row = session.scalar(select(PasswordLink).where(PasswordLink.token_hash == hash_secret(secret)))
    if row is None or row.used_at is not None or row.expires_at <= utcnow():
        raise gone
    user = session.get(User, row.user_id)
    if user is None or not user.active:
        raise gone
    return row, user


def check_new_password(password: object, confirm: object | None = None) -> str:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise InvalidInput(f"The password must have at least {MIN_PASSWORD} characters.", code="weak_password")
    if len(password) > MAX_PASSWORD:
        raise InvalidInput(f"The password has at most {MAX_PASSWORD} characters.", code="invalid")
    if confirm is not None and confirm != password:
        raise InvalidInput("The two passwords differ.", code="mismatch")
    return password


def do_use_password_link(session: Session, secret: object, password: object,
                         confirm: object | None = None) -> User:
    """Set the password through a link: the link is spent, every session of the user ends (whoever had
    the old password is out), and an invited user becomes a user who can sign in. Takes the link's row
    lock so two submissions of one link cannot both succeed."""
    row, user = link_for(session, secret)
    new = check_new_password(password, confirm)
    locked = session.scalar(select(PasswordLink).where(PasswordLink.id == row.id).with_for_update())
    if locked is None or locked.used_at is not None:
        raise NotFound("This link was just used.", code="link_invalid")
    now = utcnow()
    locked.used_at = now
    user.password_hash = generate_password_hash(new)
    accepted = user.invited_at is not None
    user.invited_at = None
    do_revoke_sessions(session, user)
    audit(session, "user.invitation_accepted" if accepted else "user.password_reset", actor=user,
          user_id=user.id, link_id=row.id)
    return user
