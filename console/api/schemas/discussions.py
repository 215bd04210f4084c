"""Shapes of a conversation's internal discussion and of @mentions (console/api/discussions.py)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from console.api.schemas.common import Id, In, Out, Timestamp, UserBrief


class Invite(In):
    user_ids: list[Id] = Field(description="Users to invite; each must be able to see the conversation. "
                                           "Empty: start the discussion with only yourself.")


class NewEntry(In):
    text: str = Field(json_schema_extra={"maxLength": 4096},
                      description="`@handle` (the local part of a member's email) notifies that member.")


class Member(Out):
    id: int
    name: str
    handle: str
    invited_by: int | None


class Entry(Out):
    id: int
    kind: Literal["text", "system"]
    text: str
    created_at: str
    author: UserBrief | None = Field(description="null for a system entry.")


class DiscussionOut(Out):
    conversation_id: str
    created_at: str
    writable: bool = Field(description="The caller may write now (a member, the conversation open).")
    view_only: bool = Field(description="The conversation is closed: nobody writes until it is reopened.")
    member: bool
    members: list[Member]
    entries: list[Entry]


class Candidate(Out):
    id: int
    name: str
    handle: str
    member: bool


class CandidateList(Out):
    users: list[Candidate]


class MentionOut(Out):
    id: int
    conversation_id: str
    source: Literal["note", "discussion"]
    source_id: int
    author: UserBrief | None
    text: str = Field(description="The start of the note or entry.")
    created_at: str
    read_at: Timestamp


class MentionList(Out):
    mentions: list[MentionOut]
    unread: int
