"""Shapes of the supervisors' views (console/api/supervisor.py)."""

from __future__ import annotations

from pydantic import Field

from console.api.schemas.common import Conversation, In, Out, Ref, Timestamp, Who


class WaitingChat(Out):
    conversation: Conversation
    position: int = Field(description="The place in the team's queue (1 = next), as the customer is told it.")
    waiting_seconds: int = Field(description="Since it entered the queue.")
    queued_at: Timestamp
    offered_to: Who | None = Field(description="The agent it is offered to right now (phase `assigning`).")
    offer_expires_at: Timestamp


class AgentLoad(Out):
    id: int
    name: str
    email: str
    role: str
    availability: str = Field(description="online, away or offline")
    active_chats: int = Field(description="Open chats assigned to them, plus chats offered to them.")
    capacity: int
    at_capacity: bool


class TeamQueue(Out):
    team: Ref
    waiting: list[WaitingChat]
    agents: list[AgentLoad]


class SupervisorQueue(Out):
    queues: list[TeamQueue]


class UnreadQuery(In):
    ids: str = Field(description="Conversation ids, comma-separated (at most 100).")


class UnreadCounts(Out):
    unread: dict[str, int] = Field(description="Per conversation the caller may see: customer messages after "
                                               "the caller's read mark (others are left out).")
