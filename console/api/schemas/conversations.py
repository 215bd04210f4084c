"""Shapes of the caller, their counters, conversations and messages (console/api/conversations.py)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from console.api.schemas.common import Channel, Conversation, Flag, Id, In, Message, Out
from console.api.schemas.routing import QueryId

View = Literal["team", "mine", "bot", "active"]
Tile = Literal["unassigned", "unreplied", "my_unreplied", "assigned_to_me", "unread"]


class Counters(Out):
    unreplied: int
    my_unreplied: int
    unassigned: int
    assigned_to_me: int
    unread: int


class ConversationQuery(In):
    view: View | None = Field(None, description="team (the default without a filter), mine, bot, or active "
                                                "(every open conversation; supervisors and admins, 403 otherwise).")
    filter: Tile | None = Field(None, description="A dashboard tile's list: exactly the conversations its counter "
                                                  "counts (the sum of the rows' `unreplied` / `unread` for the "
                                                  "message-counting tiles, the number of rows for the others).")
    status: Literal["open", "closed"] = "open"
    q: str | None = Field(None, description="Search in the contact's name or email and in message text.")
    inbox_id: QueryId | None = Field(None, description="Only conversations that came in through this inbox.")


class ConversationList(Out):
    conversations: list[Conversation]


class MessageList(Out):
    messages: list[Message]


class NewMessage(In):
    text: str = Field(json_schema_extra={"maxLength": 4096},
                      description="The limit is PARLEY_MAX_MESSAGE_LENGTH (4096): longer gets 413.")
    private: Flag = False
    channel: Channel | None = Field(None, description="Reply channel (default: where the customer last wrote from).")


class Assignees(In):
    user_ids: list[Id]
