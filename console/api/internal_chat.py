"""REST API of internal chat (Converso) under /api/v1 (shapes in console/api/schemas/internal_chat.py):

- `GET /internal_chats`: the caller's chats (who with, the last message, unread), and their unread total;
- `GET /internal_chats/people`: colleagues one may write to;
- `POST /internal_chats {"user_id"}`: open (or get) the chat with a colleague; one's own id: one's notes;
- `GET|POST /internal_chats/<id>/messages`: read (paged back with `before`), write (text and/or a file);
- `POST /internal_chats/<id>/read`: the read mark; `DELETE /internal_chats/<id>`: admins only;
- `POST /internal_files` (upload), `GET /internal_files/<id>` (download).

Only the two participants see a chat: anyone else, whatever their role, gets 404.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify
from sqlalchemy import select
from sqlalchemy.orm import Session

from console.api.declare import api, json_body, optional_json_body, query_args
from console.api.files import read_upload, serve_stored, upload_cap
from console.api.schemas import internal_chat as si
from console.auth import api_user
from console.limits import body_limit, client_address, limits
from console.runtime.channels import runtime
from console.serialize_internal import chat_json, file_json, internal_message_json, person_json
from console.services import services
from models.conversations.deletion import forget_files
from models.errors import InvalidInput
from models.internal.chats import access_chat, chats_of, check_partner, do_delete_chat, do_open_chat, unread_by_chat
from models.internal.files import access_file, do_upload
from models.internal.messages import do_mark_read, do_send, files_of, page, read_mark
from models.schema.accounts import User
from models.schema.internal import InternalChat, InternalMessage

bp = Blueprint("internal_chat", __name__, url_prefix="/api/v1")


def _chat_out(s: Session, user: User, chat_id: int) -> dict[str, Any]:
    for row in chats_of(s, user):
        if row.chat.id == chat_id:
            return chat_json(row, user)
    raise AssertionError("a chat the caller takes part in is among their chats")


def _message_out(s: Session, msg: InternalMessage) -> dict[str, Any]:
    author = s.get(User, msg.author_id) if msg.author_id is not None else None
    return internal_message_json(msg, files_of(s, [msg.id]).get(msg.id, []), author)


@bp.get("/internal_chats")
@api("My internal chats: who with, the last message, my unread figure; latest first", si.InternalChatList)
def list_chats() -> Response:
    user = api_user()
    with services().db.session() as s:
        rows = chats_of(s, user)
        return jsonify({"chats": [chat_json(r, user) for r in rows], "unread_total": sum(r.unread for r in rows)})


@bp.get("/internal_chats/people")
@api("Colleagues one may open an internal chat with (active users; the caller first, for notes)", si.People)
def people() -> Response:
    user = api_user()
    with services().db.session() as s:
        users = list(s.scalars(select(User).where(User.active.is_(True)).order_by(User.name, User.id)))
        users.sort(key=lambda u: u.id != user.id)
        return jsonify({"users": [person_json(u) for u in users]})


@bp.post("/internal_chats")
@api("Open the internal chat with a colleague (or get it if there is one); my own id opens my notes",
     si.InternalChat, body=si.OpenChat, also=(201,), errors=(404, 409),
     description="201 when the chat is made now, 200 when it existed. A deactivated user: 409 `user_inactive`.")
def open_chat() -> tuple[Response, int]:
    user = api_user()
    body = json_body(si.OpenChat)
    with services().db.transaction() as s:
        chat, made = do_open_chat(s, user, check_partner(s, user, body.user_id))
        s.flush()
        return jsonify(_chat_out(s, user, chat.id)), 201 if made else 200


@bp.delete("/internal_chats/<int:chat_id>")
@api("Delete an internal chat with its messages and files (admins; audited)", status=204, errors=(403,))
def delete_chat(chat_id: int) -> tuple[str, int]:
    user = api_user()
    with services().db.transaction() as s:
        keys = do_delete_chat(s, user, chat_id)
    forget_files(runtime().store, keys)
    return "", 204


@bp.get("/internal_chats/<int:chat_id>/messages")
@api("The chat's messages, oldest first, a page at a time (`before`: older than that id)", si.InternalMessages,
     query=si.MessagesQuery)
def messages(chat_id: int) -> Response:
    user = api_user()
    with services().db.session() as s:
        chat = access_chat(s, user, chat_id)
        args = query_args(si.MessagesQuery)
        rows, files, more = page(s, chat, args.before, args.limit)
        authors = {u.id: u for u in s.scalars(select(User).where(User.id.in_({m.author_id for m in rows})))}
        return jsonify({"messages": [internal_message_json(m, files.get(m.id, []), authors.get(m.author_id or 0))
                                     for m in rows],
                        "has_more": more, "read_up_to": read_mark(s, user, chat)})


@bp.post("/internal_chats/<int:chat_id>/messages")
@api("Write in an internal chat: text, a file uploaded first (`attachment_id`), or both", si.InternalMessageOut,
     status=201, body=si.SendInternal, errors=(403, 409, 413),
     description="Only the uploader may send a file (403 `not_uploader`), once (409 `file_sent`).")
def send(chat_id: int) -> tuple[Response, int]:
    user = api_user()
    body = json_body(si.SendInternal)
    with services().db.transaction() as s:
        chat = s.get(InternalChat, access_chat(s, user, chat_id).id, with_for_update=True)
        assert chat is not None
        msg = do_send(s, user, chat, body.text, body.attachment_id, services().settings.max_message_length)
        return jsonify(_message_out(s, msg)), 201


@bp.post("/internal_chats/<int:chat_id>/read")
@api("Mark the chat read (up to a message, default the latest); my unread figures after it", si.ReadOut,
     body=si.ReadIn)
def mark_read(chat_id: int) -> Response:
    user = api_user()
    body = optional_json_body(si.ReadIn)
    if body.up_to is not None and body.up_to < 0:
        raise InvalidInput("up_to must not be negative.")
    with services().db.transaction() as s:
        chat = access_chat(s, user, chat_id)
        mark = do_mark_read(s, user, chat, body.up_to)
        unread = unread_by_chat(s, user)
        return jsonify({"chat_id": chat.id, "read_up_to": mark, "unread": unread.get(chat.id, 0),
                        "unread_total": sum(unread.values())})


@bp.post("/internal_files")
@api("Upload a file for internal chat; send it with POST /internal_chats/<id>/messages `attachment_id`",
     si.InternalFileOut, status=201, form=si.FileUpload, errors=(413, 429), description=si.FileUpload.__doc__ or "")
@body_limit(upload_cap)
def upload() -> tuple[Response, int]:
    user = api_user()
    settings, lim = services().settings, limits()
    lim.hit("upload", settings.rate_limit_uploads, f"user:{user.id}", "Too many files")
    lim.hit("upload_addr", settings.rate_limit_uploads_per_address, client_address(), "Too many files")
    rt = runtime()
    data, filename = read_upload(rt.settings.max_attachment_bytes)
    with services().db.transaction() as s:
        row = do_upload(s, rt.store, user, data, filename, rt.settings.max_attachment_bytes)
        return jsonify(file_json(row)), 201


@bp.get("/internal_files/<file_id>")
@api("Download an internal chat's file (its participants; an unsent file: its uploader)", binary=True)
def download(file_id: str) -> Response:
    user = api_user()
    with services().db.session() as s:
        row = access_file(s, user, file_id)
        s.expunge(row)
    return serve_stored(row.storage_key, row.content_type, row.filename, row.size, row.sha256)
