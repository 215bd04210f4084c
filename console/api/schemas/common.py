"""Shapes shared by several resources: ids, errors, conversations, messages and their files."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt

from console.api.declare import MAX_ID

Id = Annotated[StrictInt, Field(ge=-MAX_ID - 1, le=MAX_ID, description="A row's id (32-bit).")]
Flag = StrictBool
Timestamp = Annotated[str | None, Field(description="ISO 8601 date and time, or null.")]
Channel = Literal["webchat", "sms", "whatsapp"]
Obj = dict[str, Any]


class In(BaseModel):
    """A request body: fields of the wrong type are refused (400) before anything is touched; fields the
    endpoint does not know are ignored unless the model says otherwise."""

    model_config = ConfigDict(extra="ignore")


class Strict(In):
    """A request body that refuses fields it does not know (400 `Unknown field(s): ...`)."""

    model_config = ConfigDict(extra="forbid")


class Out(BaseModel):
    """A response: the fields listed are always there with these types; more may be added later."""

    model_config = ConfigDict(extra="allow")


class ErrorDetail(Out):
    code: str
    message: str


class Error(Out):
    """Every error: `{"error": {"code", "message"}}` with the HTTP status that says what kind it is."""

    error: ErrorDetail


class Ref(Out):
    id: int
    name: str


class TeamRef(Out):
    id: int
    name: str | None


class UserBrief(Out):
    id: int
    name: str
    email: str


class Who(Out):
    id: int
    name: str | None


class LastMessage(Out):
    text: str
    sender_type: str
    private: bool
    created_at: Timestamp


class HandoffPacket(Out):
    reason: str = Field(description="customer_asked, out_of_scope, low_confidence, repeated_fallback, "
                                     "bot_error or policy")
    intent: str | None
    confidence: float | None
    ranking: Any = None
    summary: str | None = None
    engine: str | None = None
    created_at: Timestamp
    stages: list[Any] = []


class ContactBrief(Out):
    id: int
    name: str
    online: bool
    blocked: bool = Field(False, description="The contact is blocked (its new messages reach nobody).")


Phase = Literal["waiting", "assigning", "assigned", "transferring", "ended", "failed"]


class Conversation(Out):
    id: str = Field(description="The conversation's public id (c_…).")
    name: str | None = Field(None, description="The name agents gave it (null: none; show the contact's).")
    status: Literal["open", "closed"]
    owner: Literal["bot", "human"]
    phase: Phase | None
    team: TeamRef
    inbox_id: int | None = Field(None, description="The inbox it came in through (null: older than inboxes, "
                                 "or its inbox was removed).")
    inbox: Ref | None = None
    channel: str
    contact: ContactBrief
    assignees: list[UserBrief]
    last_message: LastMessage | None
    unreplied: int
    unread: int = Field(0, description="Messages the caller has not seen (left out of socket broadcasts).")
    waiting_since: Timestamp
    last_activity_at: Timestamp
    created_at: Timestamp
    closed_at: Timestamp
    handoff: HandoffPacket | None


class Attachment(Out):
    id: str
    filename: str
    content_type: str | None
    size: int | None
    state: str = Field(description="pending, ready, refused or failed")
    error: str | None
    url: str | None
    inline: bool


class Author(Out):
    id: int
    name: str


class BotTurn(Out):
    intent: str | None
    confidence: float | None
    decision: str | None
    reason: str | None


class DeliveryError(Out):
    code: str
    message: str | None


class QuickReply(Out):
    title: str = Field(description="What the customer sees (and sends back).")
    payload: str = Field(description="What the bot is given when the customer picks it, e.g. `/order_status`.")


class RichContent(Out):
    """A bot message's buttons and image (a Rasa response's `buttons` and `image`)."""

    buttons: list[QuickReply] = []
    image: str | None = Field(default=None, description="An http(s) image URL.")


class Message(Out):
    id: int
    conversation_id: str
    direction: Literal["in", "out"]
    sender_type: str = Field(description="contact, bot, agent or system")
    author: Author | None
    text: str
    private: bool
    channel: str
    created_at: Timestamp
    delivery_status: str | None
    bot: BotTurn | None
    error: DeliveryError | None = Field(description="Why an SMS/WhatsApp message failed.")
    attachments: list[Attachment]
    rich: RichContent | None = Field(default=None, description="Buttons and an image beside the text (bot messages).")


class Nothing(In):
    """No body is read."""
