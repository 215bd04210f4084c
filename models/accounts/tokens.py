"""Personal API tokens with a lifecycle: a name, an optional expiry, the time of last use, and revocation.
The secret is returned once, at creation; only its SHA-256 is kept."""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.accounts.sessions import hash_secret
from models.accounts.users import check_email
from models.audit import audit
from models.db import publish_on_commit
from models.errors import InvalidInput, NotFound
from models.events import AccessRevoked
from models.schema.accounts import ApiToken, User
from models.schema.base import utcnow

MAX_NAME = 120
MAX_EXPIRY_DAYS = 3650


def check_token_request(name: object, expires_days: object) -> tuple[str, int | None]:
    """A token's name (required, so a list of them can be told apart) and lifetime in days (None: no expiry)."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput("Give the token a name, e.g. \"CI export\".", code="invalid")
    if len(name.strip()) > MAX_NAME:
        raise InvalidInput(f"A token's name has at most {MAX_NAME} characters.", code="invalid")
    if expires_days is not None and (isinstance(expires_days, bool) or not isinstance(expires_days, int)
                                     or not 1 <= expires_days <= MAX_EXPIRY_DAYS):
        raise InvalidInput(f"expires_days must be a whole number from 1 to {MAX_EXPIRY_DAYS}, or null.",
                           code="invalid")
    return name.strip(), expires_days


def do_create_token(session: Session, user: User, *, name: object,
                    expires_days: object = None) -> tuple[str, ApiToken]:
    """A new token for `user`: the secret (to show once) and its row."""
    clean_name, days = check_token_request(name, expires_days)
    secret = "pt_" + secrets.token_urlsafe(32)
    now = utcnow()
    row = ApiToken(user_id=user.id, token_hash=hash_secret(secret), name=clean_name, created_at=now,
                   expires_at=now + timedelta(days=days) if days else None)
    session.add(row)
    session.flush()
    audit(session, "token.issued", user_id=user.id, token_id=row.id, name=clean_name, expires_days=days)
    return secret, row


def do_issue_token(session: Session, email: str, *, name: str = "cli", expires_days: int | None = None) -> str:
    """A token for the user with this email (the CLI's and tests' way in); returns the secret."""
    user = session.scalar(select(User).where(User.email == check_email(email)))
    if user is None:
        raise NotFound(f"No user with the email {email}.")
    return do_create_token(session, user, name=name, expires_days=expires_days)[0]


def user_for_token(session: Session, token: str) -> tuple[User, ApiToken] | None:
    """The active user behind a live token (not revoked, not expired); records its last use."""
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_secret(token)))
    now = utcnow()
    if row is None or row.revoked_at is not None or (row.expires_at is not None and row.expires_at <= now):
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.active:
        return None
    row.last_used_at = now
    return user, row


def tokens_of(session: Session, user_id: int) -> list[ApiToken]:
    """A user's tokens that have not been revoked, newest first (expired ones too, marked by expires_at)."""
    return list(session.scalars(select(ApiToken).where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
                                .order_by(ApiToken.id.desc())))


def do_revoke_token(session: Session, token_id: int, *, owner_id: int | None = None) -> ApiToken:
    """Revoke one token (`owner_id`: only if it is theirs, else it is not found). Sockets opened with it close."""
    row = session.get(ApiToken, token_id)
    if row is None or row.revoked_at is not None or (owner_id is not None and row.user_id != owner_id):
        raise NotFound(f"No token {token_id}.")
    row.revoked_at = utcnow()
    audit(session, "token.revoked", user_id=row.user_id, token_id=row.id)
    publish_on_commit(session, AccessRevoked(user_id=row.user_id, session_ids=(), token_ids=(row.id,)))
    return row
