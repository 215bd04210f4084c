"""Shapes of the contacts endpoints (console/api/contacts.py) and of a conversation's admin endpoints
(console/api/conversation_admin.py): find, edit, block, erase contacts; name, delete a conversation."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from console.api.schemas.common import Id, In, Out, Timestamp, UserBrief


class ContactQuery(In):
    q: str = Field("", max_length=1000,
                   description="Name, email or number (at least 2 characters); empty: the latest contacts.")
    tag: str | None = Field(None, max_length=100, description="Only contacts carrying this tag.")


class Block(Out):
    at: Timestamp
    by: UserBrief | None = Field(description="Who blocked the contact (null: a deleted user).")
    reason: str | None


class ContactBrief(Out):
    id: int
    name: str
    email: str | None
    phone: str | None
    blocked: Block | None = Field(None, description="Set while the contact is blocked.")


class ContactList(Out):
    contacts: list[ContactBrief]


class Identity(Out):
    channel: str
    address: str | None


class ContactConversation(Out):
    id: str
    name: str | None = None
    status: Literal["open", "closed"]
    channel: str
    created_at: Timestamp


class Contact(ContactBrief):
    online: bool
    identities: list[Identity]
    conversations: list[ContactConversation]


class IdentityIn(In):
    channel: str = Field(description="sms or whatsapp")
    address: str = Field(json_schema_extra={"example": "+4915112345678"})


class MergeIn(In):
    contact_id: Id = Field(description="The contact to merge into this one.")


class ContactChange(In):
    name: str | None = Field(None, description="1-200 characters.")
    email: str | None = Field(None, description="An email address, or null to clear it.")
    phone: str | None = Field(None, description="International format (+…), or null to clear it.")


class BlockIn(In):
    reason: str | None = Field(None, json_schema_extra={"maxLength": 250},
                               description="Why (at most 250 characters; shown to colleagues).")


class Blocked(Out):
    contact: Contact
    open_conversation: str | None = Field(
        description="The contact's open conversation, if the caller can see it: the agent is asked to end it.")


class BlockedContact(ContactBrief):
    blocked_messages: int = Field(description="Messages the contact sent since it was blocked.")


class BlockedContactList(Out):
    contacts: list[BlockedContact]


class BlockedMessage(Out):
    id: int
    channel: str
    text: str
    media_count: int
    received_at: Timestamp


class BlockedMessageList(Out):
    messages: list[BlockedMessage]


class ConversationChange(In):
    name: str | None = Field(description="At most 200 characters; blank or null clears it.")


class Visibility(Out):
    restricted: bool
    users: list[UserBrief] = Field(description="Who it is restricted to (empty when it is not restricted).")
    may_change: bool = Field(description="Whether the caller may restrict it (assignees, supervisors, admins).")
