"""Shapes of internal chat (console/api/internal_chat.py): chats between users, their messages, files."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from console.api.schemas.common import Id, In, Out, Strict, Timestamp


class Person(Out):
    id: int
    name: str
    email: str
    active: bool


class LastInternal(Out):
    id: int
    text: str
    created_at: Timestamp
    mine: bool = Field(description="Written by the caller.")


class InternalChat(Out):
    id: int
    kind: Literal["direct", "self"] = Field(description="`self`: the caller's own notes.")
    other: Person = Field(description="Who the chat is with (the caller for `self`).")
    unread: int = Field(description="Messages of the other user the caller has not read.")
    created_at: Timestamp
    last_message_at: Timestamp
    last_message: LastInternal | None


class InternalChatList(Out):
    chats: list[InternalChat]
    unread_total: int = Field(description="The caller's unread internal messages, all chats together.")


class OpenChat(Strict):
    user_id: Id = Field(description="The colleague to chat with; the caller's own id opens their notes.")


class InternalFileOut(Out):
    id: str
    filename: str
    content_type: str
    size: int
    url: str


class Author(Out):
    id: int
    name: str


class InternalMessageOut(Out):
    id: int
    chat_id: int
    author: Author | None
    text: str
    created_at: Timestamp
    files: list[InternalFileOut]


class InternalMessages(Out):
    messages: list[InternalMessageOut] = Field(description="Oldest first.")
    has_more: bool = Field(description="Older messages remain: ask again with `before` = the first id.")
    read_up_to: int = Field(description="The caller's read mark in this chat.")


class MessagesQuery(In):
    before: int | None = Field(None, ge=1, le=2**31 - 1, description="Only messages older than this id (paging back).")
    limit: int = Field(50, ge=1, le=100)


class SendInternal(Strict):
    text: str | None = Field(None, json_schema_extra={"maxLength": 4096})
    attachment_id: str | None = Field(None, max_length=40,
                                      description="A file the caller uploaded (POST /internal_files), not sent yet.")


class ReadIn(Strict):
    up_to: Id | None = Field(None, description="Read up to this message (default: the latest).")


class ReadOut(Out):
    chat_id: int
    read_up_to: int
    unread: int
    unread_total: int


class People(Out):
    users: list[Person] = Field(description="Active colleagues one may open a chat with, the caller first.")


class FileUpload(In):
    """multipart/form-data, the field `file`. Allowed types (sniffed from the bytes) as for conversation
    files. The file is the uploader's until they send it (`attachment_id`)."""

    file: bytes = Field(json_schema_extra={"format": "binary"})
