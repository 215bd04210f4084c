"""REST API of a returning customer's history under /api/v1: `GET /conversations/<id>/history` lists the
contact's earlier conversations the caller may see (models/contacts/history.py); each one expands through
`GET /conversations/<id>/messages`, which checks access again."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from console.api.declare import api
from console.api.schemas import history as sh
from console.auth import api_user
from console.serialize import iso
from console.services import services
from models.contacts.history import earlier_conversations
from models.conversations.access import access_conversation

bp = Blueprint("history", __name__, url_prefix="/api/v1")


@bp.get("/conversations/<public_id>/history")
@api("The contact's earlier conversations (a returning customer), newest first", sh.History)
def history(public_id: str) -> Response:
    user = api_user()
    with services().db.session() as s:
        conv = access_conversation(s, user, public_id)
        return jsonify({"conversation_id": conv.public_id, "earlier": [
            {"id": e.conversation.public_id, "name": e.conversation.name, "status": e.conversation.status,
             "channel": e.conversation.channel, "created_at": iso(e.conversation.created_at),
             "closed_at": iso(e.conversation.closed_at), "last_activity_at": iso(e.conversation.last_activity_at),
             "messages": e.messages, "notes": e.notes} for e in earlier_conversations(s, user, conv)]})
