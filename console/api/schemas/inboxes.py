"""Shapes of the inbox endpoints (console/api/inboxes.py): where conversations land."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from console.api.schemas.common import Flag, Id, Out, Strict, TeamRef

Kind = Literal["webchat", "sms", "whatsapp"]


class InboxIn(Strict):
    """A webchat widget (name, team_id, origins, greeting, color, title), or an SMS / WhatsApp number
    attached to a team (name, team_id, channel_config_id)."""

    kind: Kind
    name: str = Field(description="What agents see, e.g. 'Shop website' or 'Support line (SMS)'.")
    team_id: Id = Field(description="The team whose queue its new conversations go to.")
    channel_config_id: Id | None = Field(None, description="SMS/WhatsApp: the configured number (GET /channels).")
    origins: list[str] | None = Field(None, description="Webchat: the sites it may run on, e.g. "
                                      "https://shop.example.com (each also in PARLEY_WIDGET_ORIGINS); none: any.")
    greeting: str | None = Field(None, description="Webchat: the welcome line (plain text, ≤ 500).")
    color: str | None = Field(None, description="Webchat: the accent colour, #rrggbb.")
    title: str | None = Field(None, description="Webchat: the panel's title (plain text, ≤ 60).")
    prechat_form: PrechatForm | None = Field(None, description="Webchat: a form the visitor fills before the "
                                             "first message; null: none.")
    rating: Flag | None = Field(None, description="Webchat: ask for a 1-5 rating once a chat is closed.")
    is_default: Flag | None = Field(None, description="Where traffic of its kind lands when nothing names "
                                    "another inbox (keyless widgets, numbers without an inbox).")


class InboxChange(Strict):
    """Rename, move to another team (its new conversations go there), change a widget's options."""

    name: str | None = None
    team_id: Id | None = None
    origins: list[str] | None = None
    greeting: str | None = None
    color: str | None = None
    title: str | None = None
    prechat_form: PrechatForm | None = None
    rating: Flag | None = None
    is_default: Flag | None = Field(None, description="true: make it its kind's default.")
    rotate_key: Flag | None = Field(None, description="Webchat: issue a new widget key (the old snippet "
                                    "stops working).")


FieldMode = Literal["required", "optional", "off"]


class PrechatForm(Strict):
    """The pre-chat form: each field asked and required, asked and optional, or not asked."""

    name: FieldMode = "off"
    email: FieldMode = "off"


class PrechatFormOut(Out):
    name: FieldMode
    email: FieldMode


class WidgetView(Out):
    greeting: str
    title: str
    color: str


class ChannelBrief(Out):
    id: int
    kind: str
    name: str
    address: str


class Inbox(Out):
    id: int
    name: str
    kind: Kind
    team: TeamRef
    is_default: bool
    channel_config_id: int | None
    open_conversations: int
    created_at: str
    updated_at: str
    widget_key: str | None = Field(None, description="Webchat: the key in the script tag.")
    origins: list[str] | None = None
    widget: WidgetView | None = None
    prechat_form: PrechatFormOut | None = Field(None, description="Webchat: the pre-chat form, or null.")
    rating: bool | None = Field(None, description="Webchat: the end-of-chat rating is asked for.")
    embed: str | None = Field(None, description="Webchat: the script tag to paste into the site.")
    channel: ChannelBrief | None = None
    identity_secret: str | None = Field(None, description="Webchat, admins only, one inbox: signs setUser ids "
                                        "(docs/widget.md); never in lists.")


class InboxList(Out):
    inboxes: list[Inbox]
