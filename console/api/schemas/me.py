"""Shapes of the caller's own account (console/api/me.py): password, personal API tokens."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StrictInt

from console.api.schemas.common import Out, Strict, Timestamp


class PasswordChange(Strict):
    current_password: str
    new_password: Annotated[str, Field(json_schema_extra={"minLength": 8})]


class Done(Out):
    ok: bool


class ApiToken(Out):
    id: int
    name: str
    created_at: Timestamp
    expires_at: Timestamp
    last_used_at: Timestamp


class ApiTokenList(Out):
    tokens: list[ApiToken]


class ApiTokenCreated(ApiToken):
    token: str = Field(description="The secret, shown this once: send it as `Authorization: Bearer <token>`.")


class NewToken(Strict):
    name: Annotated[str, Field(json_schema_extra={"maxLength": 120})]
    expires_days: Annotated[StrictInt | None, Field(ge=1, le=3650, description="null or absent: until revoked")] = None
