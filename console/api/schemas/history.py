"""Shapes of a returning customer's history (console/api/history.py)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from console.api.schemas.common import Out, Timestamp


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
