"""JSON shapes of internal chat (models/internal/), shared by its API and its live pushes."""

from __future__ import annotations

from typing import Any

from console.serialize import iso
from models.internal.chats import ChatRow
from models.schema.accounts import User
from models.schema.internal import InternalFile, InternalMessage


def file_json(f: InternalFile) -> dict[str, Any]:
    return {"id": f.public_id, "filename": f.filename, "content_type": f.content_type, "size": f.size,
            "url": f"/api/v1/internal_files/{f.public_id}"}


def person_json(u: User | None) -> dict[str, Any] | None:
    return None if u is None else {"id": u.id, "name": u.name, "email": u.email, "active": u.active}


def internal_message_json(m: InternalMessage, files: list[InternalFile], author: User | None) -> dict[str, Any]:
    return {"id": m.id, "chat_id": m.chat_id, "author": {"id": author.id, "name": author.name} if author else None,
            "text": m.text, "created_at": iso(m.created_at), "files": [file_json(f) for f in files]}


def chat_json(row: ChatRow, me: User) -> dict[str, Any]:
    c = row.chat
    last = row.last
    return {"id": c.id, "kind": c.kind, "other": person_json(row.other), "unread": row.unread,
            "created_at": iso(c.created_at), "last_message_at": iso(c.last_message_at),
            "last_message": None if last is None else {
                "id": last.id, "text": last.text, "created_at": iso(last.created_at),
                "mine": last.author_id == me.id}}
