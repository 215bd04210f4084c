"""The caller's own account under /api/v1/me: change the password (ending every other session and
its sockets) and manage personal API tokens (the secret is shown once, at creation)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify

from console.api.declare import api, json_body
from console.api.schemas import me as sm
from console.auth import api_user, current_credential
from console.serialize import iso
from console.services import services
from models.accounts.tokens import do_create_token, do_revoke_token, tokens_of
from models.accounts.users import do_change_password
from models.errors import Forbidden
from models.schema.accounts import ApiToken, User

bp = Blueprint("api_me", __name__, url_prefix="/api/v1/me")


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
@api("Change the caller's password (console session only); every other session of the caller ends and its "
     "sockets close", sm.Done, body=sm.PasswordChange, errors=(403,))
def change_password() -> Any:
    user, session_id = _session_user()
    data = json_body(sm.PasswordChange)
    with services().db.transaction() as s:
        me = s.get(User, user.id)
        assert me is not None  # api_user() found them active a moment ago
        do_change_password(s, me, current=data.current_password, new=data.new_password,
                           keep_session=session_id)
    return jsonify({"ok": True})


@bp.get("/tokens")
@api("The caller's API tokens that are not revoked (never their secrets)", sm.ApiTokenList)
def list_tokens() -> Any:
    user = api_user()
    with services().db.session() as s:
        return jsonify({"tokens": [token_json(t) for t in tokens_of(s, user.id)]})


@bp.post("/tokens")
@api("Create an API token (console session only); the secret is in `token`, shown this once",
     sm.ApiTokenCreated, status=201, body=sm.NewToken, errors=(403,))
def create_token() -> Any:
    user, _ = _session_user()
    data = json_body(sm.NewToken)
    with services().db.transaction() as s:
        secret, row = do_create_token(s, user, name=data.name, expires_days=data.expires_days)
        return jsonify({**token_json(row), "token": secret}), 201


@bp.delete("/tokens/<int:token_id>")
@api("Revoke one of the caller's API tokens; sockets opened with it close", status=204)
def revoke_token(token_id: int) -> Any:
    user = api_user()
    with services().db.transaction() as s:
        do_revoke_token(s, token_id, owner_id=user.id)
    return "", 204
