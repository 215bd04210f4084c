"""Shapes of outreach (console/api/outreach.py): starting a conversation, invitations, ending and
renewing a session, a team's end-of-session rule."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from console.api.schemas.common import Flag, Id, In, Out, Timestamp

EndRule = Literal["read_only", "no_access", "write_again"]


class NewContact(In):
    name: str = Field(json_schema_extra={"maxLength": 200})
    phone: str | None = Field(None, description="E.164, e.g. +14155550123 (SMS, WhatsApp).")
    email: str | None = Field(None, description="For an email invite.")


class TemplateIn(In):
    name: str
    variables: list[str] = []


class StartConversation(In):
    contact_id: Id | None = Field(None, description="An existing contact (or give `contact`).")
    contact: NewContact | None = Field(None, description="A new contact (one known by that number or address "
                                                         "is reused).")
    channel: Literal["sms", "whatsapp", "email"]
    inbox_id: Id | None = Field(None, description="Default: the channel's default inbox (email: the webchat one).")
    text: str | None = Field(None, json_schema_extra={"maxLength": 4096},
                             description="The first message (the welcome message of an invitation).")
    template: TemplateIn | None = Field(None, description="WhatsApp: an approved template (outside the 24-hour "
                                                          "window the only thing allowed).")
    invite: Flag = Field(False, description="SMS: add the customer's personal chat link. Email always invites.")
    pre_plan: Flag = Field(False, description="Prepare only: nothing is sent until POST …/invite.")


class InviteIn(In):
    phone: str | None = Field(None, description="Correct the number first (SMS invitations).")
    email: str | None = Field(None, description="Correct the address first (email invitations).")


class PreparedIn(In):
    welcome: str | None = Field(None, json_schema_extra={"maxLength": 4096})
    name: str | None = Field(None, description="The customer's name.")


class CustomerStatus(Out):
    state: Literal["never_joined", "online", "offline"]
    last_seen_at: Timestamp
    invited: bool
    invitation_sent: bool


class InvitationOut(Out):
    conversation_id: str
    via: Literal["sms", "email"]
    address: str
    welcome: str | None
    state: Literal["prepared", "sent", "joined", "expired"]
    sent_at: Timestamp
    expires_at: Timestamp
    joined_at: Timestamp
    sends: int
    customer: CustomerStatus


class InboxOption(Out):
    id: int
    name: str
    kind: str
    team: str
    is_default: bool


class TemplateOption(Out):
    name: str
    language: str
    body: str
    variables: list[str]


class OutreachOptions(Out):
    inboxes: list[InboxOption]
    email: bool = Field(description="Email is configured (PARLEY_SMTP_URL).")
    sms: bool
    whatsapp: bool
    whatsapp_window_open: bool = Field(description="For `contact_id`: may free text go out on WhatsApp?")
    templates: list[TemplateOption]


class OptionsQuery(In):
    contact_id: int | None = Field(None, ge=0, le=2**31 - 1, description="The contact to write to.")


class ContactQuery(In):
    q: str = Field("", description="Part of a name, a number or an email address.")


class ContactOption(Out):
    id: int
    name: str
    phone: str | None
    email: str | None


class ContactOptions(Out):
    contacts: list[ContactOption]


class TeamOutreachIn(In):
    end_behaviour: EndRule


class TeamOutreachOut(Out):
    team_id: int
    end_behaviour: EndRule
