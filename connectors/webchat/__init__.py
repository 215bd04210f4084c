"""The webchat channel's framework-free core: visitor identity and the customer-facing message shape.

A visitor is identified by a random id that only the server makes, handed to the browser inside a
signed token. A client can keep and replay its own token, but cannot make up or guess anyone else's.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer

from models.errors import InvalidInput

CHANNEL = "webchat"
_SALT = "parley.webchat.visitor"


@dataclass(frozen=True)
class Visitor:
    visitor_id: str
    token: str


class VisitorTokens:
    def __init__(self, secret_key: str) -> None:
        self._serializer = URLSafeSerializer(secret_key, salt=_SALT)

    def issue(self) -> Visitor:
        visitor_id = "v_" + secrets.token_urlsafe(16)
        return Visitor(visitor_id, self._serializer.dumps(visitor_id))

    def token_for(self, visitor_id: str) -> str:
        """The token of a visitor the server made itself (an invitation's identity: models/outreach)."""
        return str(self._serializer.dumps(visitor_id))

    def verify(self, token: Any) -> Visitor | None:
        if not isinstance(token, str) or not token or len(token) > 512:
            return None
        try:
            visitor_id = self._serializer.loads(token)
        except BadSignature:
            return None
        if not isinstance(visitor_id, str) or not visitor_id.startswith("v_"):
            return None
        return Visitor(visitor_id, token)


def visitor_display_name(visitor_id: str) -> str:
    return f"Visitor {visitor_id[2:6]}"


def customer_message(*, id: int, conversation_id: str, sender_type: str, text: str,
                     created_at: str, rich: dict[str, Any] | None = None) -> dict[str, Any]:
    """What a customer's browser receives: never private notes, never the bot's internals. `rich`: a
    bot message's buttons and image (models/conversations/rich.py), only when it has some."""
    out = {"id": id, "conversation_id": conversation_id, "sender_type": sender_type, "text": text,
           "created_at": created_at}
    if rich:
        out["rich"] = rich
    return out


_CLIENT_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


def message_key(visitor_id: str, client_id: Any) -> str | None:
    """The idempotency key of a customer's message: the widget names each message it sends.

    A send whose acknowledgement was lost (the process died, the network dropped) is sent again with
    the same id after the reconnect, and is then stored once (`(channel, provider_message_id)` is
    unique). Scoped to the visitor, so one visitor's ids can never match another's messages.
    """
    if client_id is None:
        return None
    if not isinstance(client_id, str) or not _CLIENT_ID.match(client_id):
        raise InvalidInput("client_id is 8-64 letters, digits, '-' or '_'.", code="invalid")
    return f"{visitor_id}:{client_id}"
