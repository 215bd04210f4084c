"""Shapes of routing (console/api/routing.py): availability, accept, transfers, queues, journeys, and the
admin settings behind them (team routing, agent capacity, visibility, contact presets)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, StrictInt

from console.api.declare import MAX_ID
from console.api.schemas.common import Conversation, Flag, Id, In, Obj, Out, Ref, Strict, Timestamp, UserBrief, Who

QueryId = Annotated[int, Field(ge=-MAX_ID - 1, le=MAX_ID)]
Policy = Literal["manual", "round_robin", "least_loaded"]
Seconds = Annotated[StrictInt | None, Field(ge=5, le=MAX_ID, description="Seconds; null switches it off.")]


class AvailabilityIn(In):
    status: Literal["online", "away", "offline"]


class Availability(Out):
    id: int
    availability: Literal["online", "away", "offline"]


class Offer(Out):
    id: int
    conversation: Conversation
    expires_at: Timestamp


class Transfer(Out):
    id: int
    status: str = Field(description="pending, accepted, rejected, expired, cancelled or done")
    from_user: Who | None
    to_user: Who | None
    to_team: Ref | None
    requested_by: Who | None
    created_at: Timestamp
    expires_at: Timestamp
    decided_at: Timestamp


class TransferResult(Out):
    transfer: Transfer
    conversation: Conversation | None = Field(description="null when the caller can no longer see it")


class MyRouting(Out):
    availability: str
    capacity: int
    active_chats: int
    offers: list[Offer]
    transfer_requests: list[TransferResult]


class TransferIn(In):
    to_user_id: Id | None = None
    to_team_id: Id | None = None
    direct: Flag | None = None


class TeamQuery(In):
    team_id: QueryId | None = Field(None, description="One team (default: every team the caller serves).")


class OfferBrief(Out):
    user_id: int
    expires_at: Timestamp


class QueuedConversation(Conversation):
    position: int
    queued_at: Timestamp
    estimated_wait_seconds: int | None = Field(description="null while the team is closed")
    team_open: bool | None = Field(None, description="teams with opening hours only: open now")
    opens_at: Timestamp = None
    opens_at_text: str | None = None
    offer: OfferBrief | None


class QueueAgent(Out):
    id: int
    name: str
    availability: str
    active_chats: int
    capacity: int


class Queue(Out):
    team: Ref
    policy: Policy
    offer_timeout_seconds: int | None
    conversations: list[QueuedConversation]
    agents: list[QueueAgent]


class QueueList(Out):
    queues: list[Queue]


class JourneyStep(Out):
    at: Timestamp
    kind: str
    text: str
    actor: Who | None
    message_id: int | None = Field(description="The last message at that point (to open it there)")
    data: Obj


class JourneyConversation(Out):
    id: str
    status: Literal["open", "closed"]
    state: Literal["Bot", "Waiting", "Assigning", "Assigned", "Transferring", "Ended", "Failed"]
    phase: str | None
    channel: str
    team: Ref
    agents: list[UserBrief]
    created_at: Timestamp
    handed_off_at: Timestamp
    closed_at: Timestamp
    last_activity_at: Timestamp
    steps: list[JourneyStep]


class JourneyContact(Out):
    id: int
    name: str
    email: str | None
    phone: str | None


class Journey(Out):
    contact: JourneyContact
    conversations: list[JourneyConversation]


class TeamRouting(Out):
    policy: Policy
    offer_timeout_seconds: int | None
    transfer_timeout_seconds: int
    idle_timeout_seconds: int | None
    waiting_timeout_seconds: int | None
    closing_message: str
    queue_message: str


class TeamRoutingIn(Strict):
    policy: Policy | None = None
    offer_timeout_seconds: Seconds = None
    transfer_timeout_seconds: Annotated[StrictInt, Field(ge=5, le=MAX_ID)] | None = None
    idle_timeout_seconds: Seconds = None
    waiting_timeout_seconds: Seconds = None
    closing_message: Annotated[str, Field(max_length=1000)] | None = None
    queue_message: Annotated[str, Field(max_length=1000)] | None = None


class CapacityIn(Strict):
    capacity: Annotated[StrictInt, Field(ge=0, le=100)] | None = Field(description="null: the default, 3")


class Capacity(Out):
    id: int
    capacity: int
    capacity_override: int | None


class VisibilityIn(In):
    user_ids: list[Id] | None = Field(description="null lifts the restriction")


class Visibility(Out):
    restricted: bool
    users: list[UserBrief]


class PresetsIn(Strict):
    visible_user_ids: list[Id] = Field(default_factory=list)
    assign_user_ids: list[Id] = Field(default_factory=list)


class ContactPresets(Out):
    visible_user_ids: list[int]
    assign_user_ids: list[int]


def changes(model: In) -> dict[str, Any]:
    """The fields the client sent (for the `check_*` functions that take a partial dict)."""
    return model.model_dump(exclude_unset=True)
