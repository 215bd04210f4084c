"""Shapes of broadcasts and contacts' tags (console/api/broadcasts.py, console/api/tags.py)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from console.api.schemas.common import Id, In, Out, Timestamp


class TemplateIn(In):
    name: str = Field(json_schema_extra={"maxLength": 200})
    language: str | None = Field(None, description="The template's language (default: the one configured).")
    params: list[str] = Field([], description="The template's variables, in order.")


class BroadcastIn(In):
    contact_ids: list[Id] | None = Field(None, description="The recipients (or give `tag`).")
    tag: str | None = Field(None, description="Every contact carrying this tag (that you may see).")
    channel: Literal["sms", "whatsapp"]
    inbox_id: Id | None = Field(None, description="The inbox (and its team) new conversations land in. Default: "
                                                  "the channel's default inbox.")
    text: str | None = Field(None, json_schema_extra={"maxLength": 4096}, description="SMS: the message.")
    template: TemplateIn | None = Field(None, description="WhatsApp: an approved template (required).")


class BroadcastCounts(Out):
    recipients: int
    pending: int = Field(description="Not handed to the outbox yet.")
    queued: int = Field(description="In the outbox, not accepted by the provider yet.")
    sent: int
    delivered: int
    read: int
    failed: int
    skipped_blocked: int
    skipped_opted_out: int = Field(description="Texted STOP (SMS) and not START since.")
    skipped_no_address: int = Field(description="No number on the broadcast's channel.")


class Recipient(Out):
    contact_id: int
    name: str | None = Field(description="Null when you may not see this contact.")
    conversation_id: str | None
    status: str = Field(description="pending, queued, sent, delivered, read, failed, skipped_blocked, "
                                    "skipped_opted_out or skipped_no_address.")
    error: str | None


class BroadcastOut(Out):
    id: int
    channel: Literal["sms", "whatsapp"]
    tag: str | None
    text: str
    template: str | None = Field(description="The WhatsApp template's name.")
    state: Literal["sending", "done"]
    created_at: Timestamp
    finished_at: Timestamp
    created_by: str | None
    counts: BroadcastCounts
    recipients: list[Recipient] = Field(description="A page of recipients (`offset`, `limit`).")


class BroadcastQuery(In):
    offset: int = Field(0, ge=0)
    limit: int = Field(100, ge=1, le=1000)


class BroadcastList(Out):
    broadcasts: list[BroadcastOut]


class TagsIn(In):
    tags: list[str] = Field(description="The contact's tags (replacing them): 1-50 characters each, at most 20; "
                                        "stored lower-case.")


class TagsOut(Out):
    contact_id: int
    tags: list[str]


class TagCount(Out):
    tag: str
    contacts: int


class TagList(Out):
    tags: list[TagCount]
