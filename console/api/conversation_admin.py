"""REST endpoints that change a conversation as a record rather than a chat (under /api/v1; shapes in
console/api/schemas/contacts.py): name it, see and change who it is restricted to, delete it (admins)."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify
from sqlalchemy import select

from console.api.declare import api, json_body
from console.api.schemas import contacts as sch
from console.api.schemas.common import Conversation as ConversationOut
from console.auth import api_user
from console.runtime.channels import runtime
from console.serialize import conversations_json, user_brief
from console.services import services
from models.conversations.access import access_conversation
from models.conversations.deletion import access_for_deletion, do_delete_conversation, forget_files
from models.conversations.naming import check_name, do_name_conversation
from models.conversations.restrict import may_restrict
from models.conversations.visibility import named_users
from models.schema.accounts import User

bp = Blueprint("api_conversation_admin", __name__, url_prefix="/api/v1")


@bp.patch("/conversations/<public_id>")
@api("Name the conversation (shown in lists and the header, searchable)", ConversationOut,
     body=sch.ConversationChange)
def name_conversation(public_id: str) -> Response:
    user = api_user()
    name = check_name(json_body(sch.ConversationChange).name)
    with services().db.transaction() as s:
        do_name_conversation(s, user, access_conversation(s, user, public_id, lock=True), name)
    with services().db.session() as s:
        return jsonify(conversations_json(s, user, [access_conversation(s, user, public_id)])[0])


@bp.delete("/conversations/<public_id>")
@api("Delete the conversation (admins): its messages, files and packets go; an audit record stays",
     status=204, errors=(403, 409), description="409 `unpaid_invoice` while an invoice sent in it is unpaid.")
def delete_conversation(public_id: str) -> tuple[str, int]:
    user = api_user()
    with services().db.transaction() as s:
        keys = do_delete_conversation(s, user, access_for_deletion(s, user, public_id))
    forget_files(runtime().store, keys)
    return "", 204


@bp.get("/conversations/<public_id>/visibility")
@api("Who the conversation is restricted to, and whether the caller may change it", sch.Visibility)
def visibility(public_id: str) -> Response:
    user = api_user()
    with services().db.session() as s:
        conv = access_conversation(s, user, public_id)
        ids = named_users(s, [conv.id]).get(conv.id, []) if conv.restricted else []
        users = [user_brief(u) for u in s.scalars(select(User).where(User.id.in_(ids)).order_by(User.name))]
        return jsonify({"restricted": conv.restricted, "users": users, "may_change": may_restrict(user, conv)})
