"""Shapes of a returning customer's history (console/api/history.py) and a pre-planned session's files
(console/api/prepared_files.py)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from console.api.schemas.common import In, Out, Timestamp


class EarlierConversation(Out):
    id: str
    name: str | None
    status: Literal["open", "closed"]
    channel: str
    created_at: Timestamp
    closed_at: Timestamp
    last_activity_at: Timestamp
    messages: int = Field(description="All its messages, private notes included (expand: GET …/messages).")
    notes: int = Field(description="How many of them are private notes.")


class History(Out):
    conversation_id: str
    earlier: list[EarlierConversation] = Field(description="The contact's earlier conversations you may see, "
                                                           "newest first.")


class PreparedUpload(In):
    """multipart/form-data: one file (the allowed types of a conversation's attachments)."""

    file: bytes = Field(json_schema_extra={"format": "binary"})


class PreparedFileOut(Out):
    id: str = Field(description="The attachment's id (download: GET /api/v1/attachments/<id>).")
    filename: str
    content_type: str | None
    size: int | None
    shared: bool = Field(description="Sent to the customer with the invitation.")


class PreparedFiles(Out):
    conversation_id: str
    files: list[PreparedFileOut]
