"""Console sessions kept on the server: the cookie holds a random id, this table says whether it is
still good. Revoking is a row update, so logout, a password change or a deactivation ends a session for
every process at once (a signed cookie alone would stay valid until it expired)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from models.db import publish_on_commit
from models.events import AccessRevoked
from models.schema.accounts import ApiToken, AuthSession, User
from models.schema.base import utcnow

# last_seen_at is written at most this often: not a write per request.
TOUCH_EVERY = timedelta(minutes=1)
KEEP_ENDED = timedelta(days=30)


def hash_secret(secret: str) -> str:
    """Sessions and tokens are kept only as SHA-256: a leaked table opens no console."""
    return hashlib.sha256(secret.encode()).hexdigest()


def do_start_session(session: Session, user: User, *, lifetime: timedelta, user_agent: str = "",
                     ip: str = "") -> tuple[str, int]:
    """A new login: returns the secret for the cookie (shown nowhere else) and the session's id."""
    secret = "ps_" + secrets.token_urlsafe(32)
    now = utcnow()
    # Ended sessions are kept a while (who logged in from where), then pruned at the user's next login.
    session.execute(delete(AuthSession).where(AuthSession.user_id == user.id, or_(
        AuthSession.expires_at < now - KEEP_ENDED, AuthSession.revoked_at < now - KEEP_ENDED)))
    row = AuthSession(user_id=user.id, id_hash=hash_secret(secret), created_at=now, last_seen_at=now,
                      expires_at=now + lifetime, user_agent=(user_agent or "")[:255], ip=(ip or "")[:64])
    session.add(row)
    session.flush()
    return secret, row.id


def session_for(session: Session, secret: str) -> AuthSession | None:
    """The live session behind a cookie: not revoked, not expired, its user still active."""
    row = session.scalar(select(AuthSession).where(AuthSession.id_hash == hash_secret(secret)))
    now = utcnow()
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.active:
        return None
    if now - row.last_seen_at >= TOUCH_EVERY:
        row.last_seen_at = now
    return row


def do_end_session(session: Session, secret: str) -> None:
    """Logout: this session is over, whoever holds a copy of the cookie."""
    row = session.scalar(select(AuthSession).where(AuthSession.id_hash == hash_secret(secret)))
    if row is not None and row.revoked_at is None:
        row.revoked_at = utcnow()
        publish_on_commit(session, AccessRevoked(user_id=row.user_id, session_ids=(row.id,), token_ids=()))


def do_revoke_sessions(session: Session, user: User, *, except_session: int | None = None,
                       tokens: bool = False) -> AccessRevoked:
    """End a user's console sessions (all but `except_session`, the one making a password change) and,
    with `tokens`, their API tokens too; their open sockets close after commit (`AccessRevoked`).

    The one hook for every change that must end access: logout everywhere, password change (other
    sessions), deactivation (everything, tokens included), role or team change (sessions: the sockets
    joined rooms for the old scope). Runs in the caller's transaction."""
    now = utcnow()
    live = select(AuthSession.id).where(AuthSession.user_id == user.id, AuthSession.revoked_at.is_(None),
                                        AuthSession.expires_at > now)
    if except_session is not None:
        live = live.where(AuthSession.id != except_session)
    session_ids = tuple(session.scalars(live))
    if session_ids:
        session.execute(update(AuthSession).where(AuthSession.id.in_(session_ids)).values(revoked_at=now))
    token_ids: tuple[int, ...] = ()
    if tokens:
        token_ids = tuple(session.scalars(select(ApiToken.id).where(ApiToken.user_id == user.id,
                                                                    ApiToken.revoked_at.is_(None))))
        if token_ids:
            session.execute(update(ApiToken).where(ApiToken.id.in_(token_ids)).values(revoked_at=now))
    evt = AccessRevoked(user_id=user.id, session_ids=session_ids, token_ids=token_ids)
    if session_ids or token_ids:
        publish_on_commit(session, evt)
    return evt
