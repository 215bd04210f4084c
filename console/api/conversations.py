"""REST API under /api/v1 (described by console/openapi.py at /api/v1/openapi.json)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, jsonify, request
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from console.api.openapi.spec import spec
from console.auth import api_user
from console.serialize import conversations_json, message_json
from console.services import services
from models.conversations import inbox
from models.conversations.access import access_conversation
from models.conversations.assignment import do_assign
from models.conversations.inbox import VIEWS, list_conversations
from models.conversations.messages import check_text, do_agent_message, do_mark_read
from models.conversations.status import do_close, do_reopen, do_return_to_bot
from models.errors import InvalidInput
from models.schema.accounts import TeamMember, User
from models.schema.conversations import Conversation, Message, Status

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def _body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise InvalidInput("The request body must be a JSON object.", code="bad_json")
    return data


def _conversation_out(s: Session, user: User, conv: Conversation) -> dict[str, Any]:
    s.refresh(conv)
    return conversations_json(s, user, [conv])[0]


@bp.get("/openapi.json")
def openapi() -> Response:
    return jsonify(spec())


@bp.get("/me")
def me() -> Response:
    user = api_user()
    with services().db.session() as s:
        teams = [{"id": m.team.id, "name": m.team.name}
                 for m in s.scalars(select(TeamMember).options(selectinload(TeamMember.team))
                                    .where(TeamMember.user_id == user.id))]
    return jsonify({"id": user.id, "email": user.email, "name": user.name, "role": user.role,
                    "teams": teams, "availability": user.availability})


@bp.get("/counters")
def counters() -> Response:
    user = api_user()
    with services().db.session() as s:
        return jsonify(inbox.counters(s, user))


@bp.get("/conversations")
def conversations() -> Response:
    user = api_user()
    view = request.args.get("view", "team")
    status = request.args.get("status", Status.OPEN.value)
    if view not in VIEWS:
        raise InvalidInput(f"view must be one of: {', '.join(VIEWS)}.")
    if status not in (Status.OPEN.value, Status.CLOSED.value):
        raise InvalidInput("status must be open or closed.")
    q = (request.args.get("q") or "").strip()[:200] or None
    with services().db.session() as s:
        convs = list_conversations(s, user, view=view, status=status, q=q)
        return jsonify({"conversations": conversations_json(s, user, convs)})


@bp.get("/conversations/<public_id>")
def conversation(public_id: str) -> Response:
    user = api_user()
    with services().db.session() as s:
        conv = access_conversation(s, user, public_id)
        return jsonify(_conversation_out(s, user, conv))


@bp.get("/conversations/<public_id>/messages")
def messages(public_id: str) -> Response:
    user = api_user()
    with services().db.session() as s:
        conv = access_conversation(s, user, public_id)
        rows = s.scalars(select(Message).options(selectinload(Message.author))
                         .where(Message.conversation_id == conv.id).order_by(Message.id))
        return jsonify({"messages": [message_json(m, conv.public_id) for m in rows]})


@bp.post("/conversations/<public_id>/messages")
def post_message(public_id: str) -> tuple[Response, int]:
    user = api_user()
    body = _body()
    private = body.get("private", False)
    if not isinstance(private, bool):
        raise InvalidInput("private must be true or false.")
    text = check_text(body.get("text"), services().settings.max_message_length)
    with services().db.transaction() as s:
        conv = access_conversation(s, user, public_id, lock=True)
        # `channel`: the reply channel the agent picked (webchat, sms, whatsapp; default: the customer's last)
        msg = do_agent_message(s, user, conv, text, private=private, channel=body.get("channel"))
        s.flush()
        s.refresh(msg)
        return jsonify(message_json(msg, conv.public_id)), 201


def _change(public_id: str, do: Callable[[Session, User, Conversation], None]) -> Response:
    user = api_user()
    with services().db.transaction() as s:
        conv = access_conversation(s, user, public_id, lock=True)
        do(s, user, conv)
    with services().db.session() as s:
        conv = access_conversation(s, user, public_id)
        return jsonify(_conversation_out(s, user, conv))


@bp.post("/conversations/<public_id>/assign")
def assign(public_id: str) -> Response:
    user_ids = _body().get("user_ids")
    if not isinstance(user_ids, list):
        raise InvalidInput("user_ids must be a list of user ids.")
    return _change(public_id, lambda s, u, c: do_assign(s, u, c, user_ids))


@bp.post("/conversations/<public_id>/close")
def close(public_id: str) -> Response:
    return _change(public_id, do_close)


@bp.post("/conversations/<public_id>/reopen")
def reopen(public_id: str) -> Response:
    return _change(public_id, do_reopen)


@bp.post("/conversations/<public_id>/return-to-bot")
def return_to_bot(public_id: str) -> Response:
    return _change(public_id, do_return_to_bot)


@bp.post("/conversations/<public_id>/read")
def read(public_id: str) -> tuple[str, int]:
    user = api_user()
    with services().db.transaction() as s:
        conv = access_conversation(s, user, public_id)
        do_mark_read(s, user, conv)
    return "", 204


@bp.get("/users")
def users() -> Response:
    api_user()
    with services().db.session() as s:
        rows = s.scalars(select(User).options(selectinload(User.memberships).selectinload(TeamMember.team))
                         .where(User.active.is_(True)).order_by(User.name))
        return jsonify({"users": [
            {"id": u.id, "name": u.name, "email": u.email, "role": u.role, "availability": u.availability,
             "teams": [{"id": m.team.id, "name": m.team.name} for m in u.memberships]}
            for u in rows]})
