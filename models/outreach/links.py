"""A customer's personal chat link: `/c/<token>`, where the token signs `(invitation id, nonce)`.

Signed with the server's secret (salted for this use only), so nobody can make up a link; the nonce
is drawn anew whenever the invitation is sent again (re-engage), so an older link stops working; the
expiry is read from the row (`expires_at`), so a resend restarts it. A token says nothing else: no
conversation id, no contact, nothing a customer could change to reach another customer.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy.orm import Session

from models.errors import NotFound, ParleyError
from models.schema.base import utcnow
from models.schema.outreach import Invitation

_SALT = "parley.outreach.invitation"


class LinkExpired(ParleyError):
    """The link was real but its time is up (the web layer answers 410)."""

    code = "link_expired"


def new_nonce() -> str:
    return secrets.token_urlsafe(16)


def new_visitor_id() -> str:
    return "v_" + secrets.token_urlsafe(16)


def link_token(secret_key: str, inv: Invitation) -> str:
    return URLSafeSerializer(secret_key, salt=_SALT).dumps([inv.id, inv.nonce])


def link_url(base_url: str, secret_key: str, inv: Invitation) -> str:
    return f"{base_url.rstrip('/')}/c/{link_token(secret_key, inv)}"


def _parse(secret_key: str, token: Any) -> tuple[int, str] | None:
    if not isinstance(token, str) or not token or len(token) > 300:
        return None
    try:
        data = URLSafeSerializer(secret_key, salt=_SALT).loads(token)
    except BadSignature:
        return None
    if (not isinstance(data, list) or len(data) != 2 or not isinstance(data[0], int)
            or isinstance(data[0], bool) or not isinstance(data[1], str)):
        return None
    return data[0], data[1]


def access_invitation(session: Session, secret_key: str, token: Any, *, now: datetime | None = None,
                      lock: bool = False) -> Invitation:
    """The invitation a link opens. Forged, replaced (re-engaged) or never sent: NotFound, all alike;
    expired: LinkExpired."""
    parsed = _parse(secret_key, token)
    inv = None
    if parsed is not None and 0 < parsed[0] < 2**31:
        inv = session.get(Invitation, parsed[0], with_for_update=lock or None)
    if inv is None or parsed is None or not secrets.compare_digest(inv.nonce, parsed[1]) or inv.sent_at is None:
        raise NotFound("This chat link is not valid.", code="bad_link")
    if inv.expires_at is None or (now or utcnow()) >= inv.expires_at:
        raise LinkExpired("This chat link has expired. Ask us for a new one.")
    return inv
