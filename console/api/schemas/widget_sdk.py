"""Shapes of the widget SDK's console endpoints (console/api/widget_sdk.py)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from console.api.schemas.common import Out


class About(Out):
    """What the site told Parley about this conversation's customer (plain values: shown as text)."""

    conversation_id: str
    page_url: str | None = Field(None, description="The page the webchat conversation started on.")
    referrer: str | None = Field(None, description="The page that led the customer there.")
    attributes: dict[str, Any] = Field(description="The contact's custom attributes (Parley.setAttributes).")
    verified_user_id: str | None = Field(None, description="The site's user id, when setUser verified one.")


class IdentitySecret(Out):
    identity_secret: str = Field(description="Sign a user's id with it: hex HMAC-SHA256(secret, id).")
