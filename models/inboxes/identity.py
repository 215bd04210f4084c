"""A webchat inbox's identity-verification secret: the site signs its user's id with it (hex HMAC-SHA256,
key = secret, message = the id: Chatwoot's `identifier_hash`), and the widget's `Parley.setUser` proves
the visitor is that user by passing the signature. Only admins see the secret; it never goes to a widget.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from sqlalchemy.orm import Session

from models.audit import audit
from models.errors import Forbidden, InvalidInput
from models.schema.accounts import User
from models.schema.base import utcnow
from models.schema.channels import Inbox, InboxKind


def new_identity_secret() -> str:
    return secrets.token_hex(32)


def identifier_hash(secret: str, user_id: str) -> str:
    """What the site's server computes for its signed-in user and prints into the page."""
    return hmac.new(secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()


def check_identifier_hash(inbox: Inbox | None, user_id: str, given: object) -> None:
    """Refuse an identity the site did not sign. No secret on the inbox: nobody can be verified, so no
    visitor may claim an identity (the admin creates one on the Inboxes page)."""
    if inbox is None or not inbox.secret:
        raise Forbidden("Identity verification is not set up for this chat (the inbox has no secret).",
                        code="identity_not_configured")
    if not isinstance(given, str) or not given:
        raise Forbidden("setUser needs the identifier hash your server computed for this user.",
                        code="identity_unverified")
    if not hmac.compare_digest(identifier_hash(inbox.secret, user_id).encode(), given.strip().lower().encode()):
        raise Forbidden("The identifier hash does not match this user id.", code="identity_unverified")


def do_rotate_identity_secret(session: Session, actor: User, inbox: Inbox) -> str:
    """A new secret (the first, or replacing a leaked one: hashes signed with the old one stop working)."""
    if actor.role != "admin":
        raise Forbidden("Only admins can change an inbox's identity secret.")
    if inbox.kind != InboxKind.WEBCHAT.value:
        raise InvalidInput("Only a webchat inbox verifies identities.", code="not_webchat")
    inbox.secret = new_identity_secret()
    inbox.updated_at = utcnow()
    audit(session, "inbox.identity_secret_rotated", actor=actor, inbox_id=inbox.id)
    return inbox.secret
