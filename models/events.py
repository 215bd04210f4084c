"""Typed domain events, published after the transaction that caused them commits.

Listeners (realtime, later routing and reporting) subscribe to these; nothing else couples the
layer that changes state to the layers that react to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Event:
    pass


@dataclass(frozen=True)
class ConversationEvent(Event):
    conversation_id: int
    team_id: int
    contact_id: int


@dataclass(frozen=True)
class StoredMessage:
    """A text message as the transaction that stored it wrote it, with its conversation's public id
    and `restricted` flag as that transaction read them: what the realtime push of `MessageCreated`
    sends (console/realtime/listener.py), without a read-back in a session of its own per message
    (two per customer message answered by the bot: bench/README.md, issue 17). The attributes are the
    push query's columns (console/realtime/payloads.py `pushed_message`); no author, files or error."""

    id: int
    public_id: str
    restricted: bool
    direction: str
    sender_type: str
    text: str
    channel: str
    delivery_status: str
    created_at: datetime
    rich: dict[str, Any] | None = None
    bot_intent: str | None = None
    bot_confidence: float | None = None
    bot_decision: str | None = None
    bot_reason: str | None = None
    private: bool = False
    author_id: None = None
    error_code: None = None
    error_message: None = None
    has_files: bool = False


@dataclass(frozen=True)
class MessageCreated(ConversationEvent):
    message_id: int
    sender_type: str
    private: bool
    channel: str
    # Messages in a conversation the bot owns change no counter (counters count the human side only).
    human_owned: bool = False
    # A customer message stored with the bot's claim on its turn (models/conversations/webchat_ingest.py):
    # this process answers it at once, and its conversation's summary waits for the turn's end (the
    # `BotTyping` that ends it), one push for the message and its answer.
    bot_answers: bool = False
    # The same, answered by a worker process (`parley web`, models/conversations/webchat_ingest.py): the
    # summary is that worker's, pushed with the answer or as the turn ends; the storing process pushes none.
    answered_elsewhere: bool = False
    # The message as its transaction wrote it (`StoredMessage`): the push sends it without reading it
    # back. None: the listener reads it (every path but the customer's text and the bot's webchat answer).
    stored: StoredMessage | None = None


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
class Brief:
    """How a notification names a conversation, as the transaction that published the event read it:
    carried in the event, its push needs no query of its own."""

    public_id: str
    channel: str
    phase: str | None
    contact_id: int
    contact_name: str | None
    team_name: str


@dataclass(frozen=True)
class AutoAssigned(ConversationEvent):
    """Routing gave the conversation to an agent (no offer, or the offer was accepted). `brief`:
    routing's batches read it with the conversation (the agent's `assigned` notification goes out
    as soon as the batch commits, without a query per chat); None: the listener reads it."""

    user_id: int
    brief: Brief | None = None


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


@dataclass(frozen=True)
class ConversationDeleted(ConversationEvent):
    """Gone with its messages and files: whoever had it in a list drops it, and counters move."""

    public_id: str
    named: tuple[int, ...] | None  # restricted to these users when it was deleted; None: its team saw it


@dataclass(frozen=True)
class ContactBlockChanged(Event):
    """Blocked or unblocked: the consoles showing its open conversation say so."""

    contact_id: int
    blocked: bool


@dataclass(frozen=True)
class ConversationRenamed(ConversationEvent):
    name: str | None


@dataclass(frozen=True)
class OutboundQueued(Event):
    """An outbox row was committed: wake the worker (it also polls, so this is only for latency)."""

    outbox_id: int


@dataclass(frozen=True)
class MessageUpdated(Event):
    """A stored message changed after it was created (delivery status, an attachment arrived)."""

    conversation_id: int
    team_id: int
    message_id: int
    change: str  # "delivery_status" | "attachment"


@dataclass(frozen=True)
class AccessRevoked(Event):
    """Console sessions or API tokens of a user ended (logout, password change, deactivation, revoke):
    the sockets opened with them must close at once, in whichever process holds them."""

    user_id: int
    session_ids: tuple[int, ...]
    token_ids: tuple[int, ...]


@dataclass(frozen=True)
class ConversationRated(ConversationEvent):
    """The customer rated a closed conversation (models/feedback/ratings.py)."""

    score: int


@dataclass(frozen=True)
class ContactUpdated(Event):
    """A contact's details changed (an identity linked, another contact merged into it)."""

    contact_id: int
    change: str


@dataclass(frozen=True)
class WebhooksQueued(Event):
    """Webhook deliveries were committed: wake their worker (it also polls: latency only)."""

    count: int


@dataclass(frozen=True)
class WebhookSubscriptionsChanged(Event):
    """An admin made, changed or removed a webhook subscription: every process forgets which events are
    wanted (models/integrations/subscriptions.py)."""


@dataclass(frozen=True)
class InvoiceChanged(ConversationEvent):
    """An invoice or checkout was sent, or its status moved (paid, expired, refunded, void)."""

    invoice_id: int
    status: str


@dataclass(frozen=True)
class InternalMessageCreated(Event):
    """A message in an internal chat (models/internal/): heard by its participants' own rooms only."""

    chat_id: int
    message_id: int
    author_id: int
    user_ids: tuple[int, ...]  # the participants (one user for a self-notes chat)


@dataclass(frozen=True)
class InternalChatChanged(Event):
    """Read or deleted: the participants' unread figures move (`deleted`: the chat is gone)."""

    chat_id: int
    user_ids: tuple[int, ...]
    deleted: bool = False


@dataclass(frozen=True)
class DiscussionEntryPosted(ConversationEvent):
    """An entry (a member's text or a system line) in a conversation's internal discussion: its members hear it."""

    discussion_id: int
    entry_id: int


@dataclass(frozen=True)
class MentionCreated(ConversationEvent):
    """A user was @mentioned in a private note or a discussion entry: a card for them."""

    mention_id: int
    user_id: int
