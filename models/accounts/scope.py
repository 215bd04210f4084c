"""A user's scope (role, teams) changed: the access granted for the old scope ends."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.accounts.sessions import do_revoke_sessions
from models.db import publish_on_commit
from models.events import AccessRevoked
from models.schema.accounts import ApiToken, User


def end_stale_access(session: Session, user: User) -> None:
    """Their console sessions end (the sockets of those sessions joined rooms for the old role and
    teams; they sign in again and get the new ones), and the sockets opened with one of their API
    tokens close too: the tokens stay valid, since a token's rights are read afresh on each request,
    and the client reconnects into the new rooms."""
    do_revoke_sessions(session, user)
    token_ids = tuple(session.scalars(select(ApiToken.id).where(ApiToken.user_id == user.id,
                                                                ApiToken.revoked_at.is_(None))))
    if token_ids:
        publish_on_commit(session, AccessRevoked(user_id=user.id, session_ids=(), token_ids=token_ids))
