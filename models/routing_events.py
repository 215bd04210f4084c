"""Typed events of routing, published after commit like those of `models.events`.

The conversation ones are `ConversationEvent`s, so the socket broadcaster refreshes the conversation
and the counters for them as for any other change; the routing listener adds the notifications.
"""

from __future__ import annotations

from dataclasses import dataclass

from models.events import ConversationEvent, Event


@dataclass(frozen=True)
class AgentAvailabilityChanged(Event):
    user_id: int
    availability: str
    previous: str
    # True when the system changed it (no console open for 5 minutes, or restored on reconnecting).
    automatic: bool = False


@dataclass(frozen=True)
class ConversationQueued(ConversationEvent):
    """Entered its team's queue: handed off, unassigned, moved to another team, an offer expired."""

    reason: str


@dataclass(frozen=True)
class ConversationOffered(ConversationEvent):
    offer_id: int
    user_id: int
    expires_at: str


@dataclass(frozen=True)
class OfferEnded(ConversationEvent):
    offer_id: int
    user_id: int
    status: str


@dataclass(frozen=True)
class AutoAssigned(ConversationEvent):
    """Routing gave the conversation to an agent (no offer, or the offer was accepted)."""

    user_id: int


@dataclass(frozen=True)
class TransferChanged(ConversationEvent):
    transfer_id: int
    status: str
    from_user_id: int | None
    to_user_id: int | None
    to_team_id: int | None
    actor_id: int | None


@dataclass(frozen=True)
class ConversationRestricted(ConversationEvent):
    """Its visibility changed: who lost sight of it must drop it from their lists."""

    user_ids: tuple[int, ...]
    restricted: bool
