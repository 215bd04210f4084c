"""The caller's own account under /api/v1/me: change the password (ending every other session and
its sockets) and manage personal API tokens (the secret is shown once, at creation)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request

from console.auth import api_user, current_credential
from console.serialize import iso
from console.services import services
from models.accounts.tokens import do_create_token, do_revoke_token, tokens_of
from models.accounts.users import do_change_password
from models.errors import Forbidden, InvalidInput
from models.schema.accounts import ApiToken, User

bp = Blueprint("api_me", __name__, url_prefix="/api/v1/me")


def _body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise InvalidInput("The request body must be a JSON object.", code="bad_json")
    return data


def _session_user() -> tuple[User, int]:
    """Minting tokens and changing the password need the console session: a leaked token must not
    be able to make more tokens or lock its owner out."""
    user = api_user()
    credential = current_credential()
    if credential is None or credential.session_id is None:
        raise Forbidden("Do this from the console (signed in), not with an API token.", code="session_required")
    return user, credential.session_id


def token_json(row: ApiToken) -> dict[str, Any]:
    return {"id": row.id, "name": row.name, "created_at": iso(row.created_at),
            "expires_at": iso(row.expires_at), "last_used_at": iso(row.last_used_at)}


@bp.post("/password")
def change_password() -> Any:
    user, session_id = _session_user()
    data = _body()
    with services().db.transaction() as s:
        me = s.get(User, user.id)
        assert me is not None  # api_user() found them active a moment ago
        do_change_password(s, me, current=data.get("current_password"), new=data.get("new_password"),
                           keep_session=session_id)
    return jsonify({"ok": True})


@bp.get("/tokens")
def list_tokens() -> Any:
    user = api_user()
    with services().db.session() as s:
        return jsonify({"tokens": [token_json(t) for t in tokens_of(s, user.id)]})


@bp.post("/tokens")
def create_token() -> Any:
    user, _ = _session_user()
    data = _body()
    with services().db.transaction() as s:
        secret, row = do_create_token(s, user, name=data.get("name"),
                                      expires_days=data.get("expires_days"))
        return jsonify({**token_json(row), "token": secret}), 201


@bp.delete("/tokens/<int:token_id>")
def revoke_token(token_id: int) -> Any:
    user = api_user()
    with services().db.transaction() as s:
        do_revoke_token(s, token_id, owner_id=user.id)
    return "", 204
