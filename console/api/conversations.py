"""REST API under /api/v1: the caller, counters, conversations and their messages (shapes in
console/api/schemas/conversations.py; the OpenAPI description is generated from them)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, jsonify
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from console.api.declare import api, json_body, query_args
from console.api.schemas import conversations as sc
from console.api.schemas.common import Conversation as ConversationOut
from console.api.schemas.common import Message as MessageOut
from console.auth import api_user
from console.serialize import conversations_json, message_json
from console.services import services
from models.conversations import inbox
from models.conversations.access import access_conversation
from models.conversations.assignment import do_assign
from models.conversations.inbox import list_conversations
from models.conversations.messages import check_text, do_agent_message, do_mark_read
from models.conversations.status import do_close, do_reopen, do_return_to_bot
from models.discussions.mentions import do_note_mentions
from models.inboxes.manage import check_inbox_filter
from models.schema.accounts import User
from models.schema.conversations import Conversation, Message

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def _conversation_out(s: Session, user: User, conv: Conversation) -> dict[str, Any]:
    s.refresh(conv)
    return conversations_json(s, user, [conv])[0]


@bp.get("/counters")
@api("The caller's counters (the dashboard tiles)", sc.Counters)
def counters() -> Response:
    user = api_user()
    with services().db.session() as s:
        return jsonify(inbox.counters(s, user))


@bp.get("/conversations")
@api("List conversations", sc.ConversationList, query=sc.ConversationQuery, errors=(403, 404))
def conversations() -> Response:
    user = api_user()
    args = query_args(sc.ConversationQuery)
    q = (args.q or "").strip()[:200] or None
    with services().db.session() as s:
        inbox_id = check_inbox_filter(s, user, args.inbox_id)
        convs = list_conversations(s, user, view=args.view, status=args.status, q=q, tile=args.filter,
                                   inbox_id=inbox_id)
        return jsonify({"conversations": conversations_json(s, user, convs)})


@bp.get("/conversations/<public_id>")
@api("One conversation", ConversationOut)
def conversation(public_id: str) -> Response:
    user = api_user()
    with services().db.session() as s:
        conv = access_conversation(s, user, public_id)
        return jsonify(_conversation_out(s, user, conv))


@bp.get("/conversations/<public_id>/messages")
@api("The conversation's messages, oldest first", sc.MessageList)
def messages(public_id: str) -> Response:
    user = api_user()
    with services().db.session() as s:
        conv = access_conversation(s, user, public_id)
        rows = s.scalars(select(Message).options(selectinload(Message.author))
                         .where(Message.conversation_id == conv.id).order_by(Message.id))
        return jsonify({"messages": [message_json(m, conv.public_id) for m in rows]})


@bp.post("/conversations/<public_id>/messages")
@api("Reply to the customer, or add a private note", MessageOut, status=201, body=sc.NewMessage,
     errors=(413, 422))
def post_message(public_id: str) -> tuple[Response, int]:
    user = api_user()
    body = json_body(sc.NewMessage)
    text = check_text(body.text, services().settings.max_message_length)
    with services().db.transaction() as s:
        conv = access_conversation(s, user, public_id, lock=True)
        # `channel`: the reply channel the agent picked (webchat, sms, whatsapp; default: the customer's last)
        msg = do_agent_message(s, user, conv, text, private=body.private, channel=body.channel)
        if body.private:  # @mentions in a note (no statement when it names nobody)
            do_note_mentions(s, user, conv, msg)
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
@api("Set the assignees (replaces them; [] unassigns)", ConversationOut, body=sc.Assignees, errors=(403, 409, 422))
def assign(public_id: str) -> Response:
    api_user()
    user_ids = json_body(sc.Assignees).user_ids
    return _change(public_id, lambda s, u, c: do_assign(s, u, c, user_ids))


@bp.post("/conversations/<public_id>/close")
@api("Close the conversation", ConversationOut, errors=(403, 409, 422),
     description="409 `unpaid_invoice` while an invoice or checkout sent in it is unpaid.")
def close(public_id: str) -> Response:
    return _change(public_id, do_close)


@bp.post("/conversations/<public_id>/reopen")
@api("Reopen a closed conversation", ConversationOut, errors=(403, 422))
def reopen(public_id: str) -> Response:
    return _change(public_id, do_reopen)


@bp.post("/conversations/<public_id>/return-to-bot")
@api("Hand the conversation back to the bot", ConversationOut, errors=(403, 422))
def return_to_bot(public_id: str) -> Response:
    return _change(public_id, do_return_to_bot)


@bp.post("/conversations/<public_id>/read")
@api("Mark everything in it as seen by the caller", status=204)
def read(public_id: str) -> tuple[str, int]:
    user = api_user()
    with services().db.transaction() as s:
        conv = access_conversation(s, user, public_id)
        do_mark_read(s, user, conv)
    return "", 204
