"""The OpenAPI description of the caller's own account (console/api/me.py): password, personal API tokens."""

from __future__ import annotations

from typing import Any

from console.api.openapi.parts import op as _op
from console.api.openapi.parts import path_param as _path
from console.api.openapi.parts import ref as _ref


def paths() -> dict[str, Any]:
    return {
        "/me/password": {
            "post": _op("Change the caller's password (console session only); every other session of the "
                        "caller ends and its sockets close", None, errors=("400", "401", "403"),
                        body={"type": "object", "required": ["current_password", "new_password"], "properties": {
                            "current_password": {"type": "string"},
                            "new_password": {"type": "string", "minLength": 8}}}),
        },
        "/me/tokens": {
            "get": _op("The caller's API tokens that are not revoked (never their secrets)", _ref("ApiTokenList")),
            "post": _op("Create an API token (console session only); the secret is in `token`, shown this once",
                        _ref("ApiTokenCreated"), status="201", errors=("400", "401", "403"),
                        body={"type": "object", "required": ["name"], "properties": {
                            "name": {"type": "string", "maxLength": 120},
                            "expires_days": {"type": ["integer", "null"], "minimum": 1, "maximum": 3650,
                                             "description": "null or absent: until revoked"}}}),
        },
        "/me/tokens/{token_id}": {
            "delete": _op("Revoke one of the caller's API tokens; sockets opened with it close", None,
                          status="204", params=[_path("token_id", description="The token's id.")],
                          errors=("401", "404")),
        },
    }


def schemas() -> dict[str, Any]:
    ts = {"type": ["string", "null"], "format": "date-time"}
    props: dict[str, Any] = {"id": {"type": "integer"}, "name": {"type": "string"}, "created_at": ts,
                             "expires_at": ts, "last_used_at": ts}
    token = {"type": "object", "properties": props}
    return {
        "ApiToken": token,
        "ApiTokenList": {"type": "object", "properties": {"tokens": {"type": "array", "items": token}}},
        "ApiTokenCreated": {"type": "object", "properties": {**props, "token": {"type": "string"}}},
    }
