"""Typed domain events, published after the transaction that caused them commits.

Listeners (realtime, later routing and reporting) subscribe to these; nothing else couples the
layer that changes state to the layers that react to it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Event:
    pass


@dataclass(frozen=True)
class ConversationEvent(Event):
    conversation_id: int
    team_id: int
    contact_id: int


@dataclass(frozen=True)
class MessageCreated(ConversationEvent):
    message_id: int
    sender_type: str
    private: bool
    channel: str
    # Messages in a conversation the bot owns change no counter (counters count the human side only).
    human_owned: bool = False


@dataclass(frozen=True)
class ConversationCreated(ConversationEvent):
    pass


@dataclass(frozen=True)
class ConversationHandedOff(ConversationEvent):
    reason: str


@dataclass(frozen=True)
class ConversationAssigned(ConversationEvent):
    user_ids: tuple[int, ...]
    previous_user_ids: tuple[int, ...]


@dataclass(frozen=True)
class ConversationStatusChanged(ConversationEvent):
    """Closed, reopened or returned to the bot."""

    change: str


@dataclass(frozen=True)
class ConversationRead(ConversationEvent):
    user_id: int


@dataclass(frozen=True)
class ContactPresenceChanged(Event):
    contact_id: int
    online: bool


@dataclass(frozen=True)
class BotTyping(Event):
    """Not a state change: published at once, not on commit."""

    conversation_id: int
    contact_id: int
    typing: bool
