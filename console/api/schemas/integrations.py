"""Shapes of the integrations (console/api/integrations.py): webhook subscriptions and their delivery log,
conversation actions and bound records, and `WebhookPayload`, the body every webhook delivery carries
(docs/webhooks.md)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, StrictBool, StrictFloat, StrictInt

from console.api.schemas.common import In, Out, Strict, Timestamp

EventName = Literal["conversation.created", "message.created", "conversation.handed_off", "conversation.assigned",
                    "conversation.closed", "conversation.reopened", "conversation.rated", "contact.updated",
                    "invoice.paid"]
Url = Annotated[str, Field(max_length=2000, description="An absolute http(s) URL.")]
Description = Annotated[str, Field(max_length=200)]


# --- the webhook body ------------------------------------------------------------------------------

class WebhookTeam(Out):
    id: int
    name: str | None


class WebhookConversation(Out):
    id: str = Field(description="The conversation's public id (c_…).")
    status: Literal["open", "closed"]
    owner: Literal["bot", "human"]
    phase: str | None
    channel: str
    team: WebhookTeam
    inbox_id: int | None
    assignee_ids: list[int]
    created_at: Timestamp
    last_activity_at: Timestamp
    closed_at: Timestamp


class WebhookIdentity(Out):
    channel: str
    address: str | None = Field(description="The number or address; null for webchat.")


class WebhookContact(Out):
    id: int
    name: str
    email: str | None
    phone: str | None
    identities: list[WebhookIdentity]


class WebhookAuthor(Out):
    id: int
    name: str


class WebhookMessage(Out):
    id: int
    direction: Literal["in", "out"]
    sender_type: str = Field(description="contact, bot, agent or system")
    text: str = Field(description="As written: data, to be escaped by whoever displays it.")
    private: bool = Field(description="A private note between agents.")
    channel: str
    created_at: Timestamp
    author: WebhookAuthor | None


class WebhookHandoff(Out):
    reason: str


class WebhookAssignee(Out):
    id: int
    name: str | None


class WebhookAssignment(Out):
    assignees: list[WebhookAssignee]
    previous_assignee_ids: list[int]


class WebhookRating(Out):
    score: int = Field(description="1 to 5.")
    comment: str | None = Field(description="The customer's text, as written (escape it where shown).")
    agent_id: int | None = Field(description="The agent assigned when the conversation closed.")
    created_at: str


class WebhookData(Out):
    conversation: WebhookConversation | None = Field(description="Null only for contact.updated.")
    contact: WebhookContact | None
    message: WebhookMessage | None = Field(None, description="message.created")
    handoff: WebhookHandoff | None = Field(None, description="conversation.handed_off")
    assignment: WebhookAssignment | None = Field(None, description="conversation.assigned")
    change: str | None = Field(None, description="contact.updated: identity_linked or merged")
    invoice: dict[str, Any] | None = Field(None, description="invoice.paid: the invoice as `GET /api/v1/invoices/"
                                                             "<id>` shows it (amounts in minor units)")
    rating: WebhookRating | None = Field(None, description="conversation.rated")


class WebhookPayload(Out):
    """The JSON body of every webhook delivery. Headers: `X-Parley-Event`, `X-Parley-Delivery` (the same on
    every retry: drop duplicates by it), `X-Parley-Timestamp` and `X-Parley-Signature`
    (`sha256=` + hex HMAC-SHA256 of `<timestamp>.<raw body>` with the subscription's secret)."""

    id: str = Field(description="The event's id (evt_…), the same for every subscription it went to.")
    event: EventName
    created_at: str
    data: WebhookData


class WebhookEvent(Out):
    name: EventName
    description: str
    reserved: bool


class WebhookEventList(Out):
    events: list[WebhookEvent]
    payload: WebhookPayload | None = Field(None, description="Always null: points to the payload's schema.")


# --- subscriptions -------------------------------------------------------------------------------

class SubscriptionIn(Strict):
    url: Url
    events: list[Annotated[str, Field(max_length=60)]] = Field(max_length=20)
    description: Description = ""


class SubscriptionPatch(Strict):
    url: Url | None = None
    events: list[Annotated[str, Field(max_length=60)]] | None = Field(None, max_length=20)
    description: Description | None = None
    active: StrictBool | None = Field(None, description="false pauses it; true resumes it (a paused one too).")


class Subscription(Out):
    id: int
    url: str
    events: list[str]
    description: str
    active: bool
    paused: bool = Field(description="Paused because deliveries failed for PARLEY_WEBHOOK_PAUSE_AFTER.")
    pause_reason: str | None
    paused_at: Timestamp
    failing_since: Timestamp
    created_at: Timestamp
    updated_at: Timestamp


class SubscriptionCreated(Subscription):
    secret: str = Field(description="Signs every delivery. Shown in this answer only: keep it now.")


class SubscriptionList(Out):
    subscriptions: list[Subscription]


class Attempt(Out):
    number: int
    started_at: Timestamp
    duration_ms: float
    status_code: int | None
    response: str = Field(description="The first ~1 KB of the receiver's answer.")
    error: str | None


class Delivery(Out):
    id: str = Field(description="X-Parley-Delivery")
    event: str
    state: Literal["pending", "sending", "delivered", "failed"]
    attempts: int
    next_attempt_at: Timestamp
    last_status_code: int | None
    last_error: str | None
    created_at: Timestamp
    delivered_at: Timestamp
    body: str
    log: list[Attempt]


class DeliveryList(Out):
    deliveries: list[Delivery]


class DeliveryQuery(In):
    state: Literal["pending", "sending", "delivered", "failed"] | None = None
    limit: Annotated[int, Field(ge=1, le=200)] = 50


# --- conversation actions ---------------------------------------------------------------------------

class ActionIn(Strict):
    name: Annotated[str, Field(max_length=80)]
    label: Annotated[str, Field(max_length=60)]
    url: Url
    conversation_fields: list[Annotated[str, Field(max_length=40)]] | None = Field(
        None, max_length=20, description="id, status, owner, phase, channel, team, inbox_id, assignee_ids, "
                                          "created_at, last_activity_at, closed_at, messages (default: id)")
    contact_fields: list[Annotated[str, Field(max_length=40)]] | None = Field(
        None, max_length=10, description="id, name, email, phone, identities (default: id)")
    timeout_seconds: StrictInt | StrictFloat | None = None
    enabled: StrictBool | None = None


class ActionPatch(Strict):
    name: Annotated[str, Field(max_length=80)] | None = None
    label: Annotated[str, Field(max_length=60)] | None = None
    url: Url | None = None
    conversation_fields: list[Annotated[str, Field(max_length=40)]] | None = Field(None, max_length=20)
    contact_fields: list[Annotated[str, Field(max_length=40)]] | None = Field(None, max_length=10)
    timeout_seconds: StrictInt | StrictFloat | None = None
    enabled: StrictBool | None = None


class Action(Out):
    id: int
    name: str
    label: str
    enabled: bool
    url: str | None = Field(None, description="Admins only.")
    conversation_fields: list[str] | None = None
    contact_fields: list[str] | None = None
    timeout_seconds: float | None = None


class ActionCreated(Action):
    secret: str = Field(description="Signs the action's requests like webhooks. Shown in this answer only.")


class ActionList(Out):
    actions: list[Action]


class Record(Out):
    id: int
    external_id: str
    title: str
    url: str | None = Field(description="http(s) only; any other link the endpoint gave is dropped.")
    action_id: int | None
    action: str | None
    created_at: Timestamp


class RecordList(Out):
    records: list[Record]


class ActionRun(Out):
    status_code: int
    record: Record | None
    records: list[Record]
