"""The outgoing webhook events: their names, and the JSON each one carries (a stable schema, documented
in docs/webhooks.md and as `WebhookPayload` in the OpenAPI description).

Every body is an envelope `{"id", "event", "created_at", "data"}`. `data` always has the same keys:
`conversation` and `contact` (null when the event has none), and the event's own details under one
more key (`message`, `handoff`, `assignment`, `change`, `invoice`). Customer text is copied as a JSON string: it
is data for the receiver, never interpreted here.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.events import (
    ContactUpdated,
    ConversationAssigned,
    ConversationCreated,
    ConversationHandedOff,
    ConversationRated,
    ConversationStatusChanged,
    Event,
    InvoiceChanged,
    MessageCreated,
)
from models.feedback.ratings import rating_of
from models.invoices.shapes import invoice_json
from models.schema.accounts import Team, User
from models.schema.base import utcnow
from models.schema.contacts import Contact
from models.schema.conversations import Assignment, Conversation, Message
from models.schema.invoices import Invoice

EVENTS: dict[str, str] = {
    "conversation.created": "A customer started a new conversation.",
    "message.created": "A message was stored: from the customer, the bot, an agent, or a private note "
                       "(`message.private`).",
    "conversation.handed_off": "The bot handed the conversation to people (`handoff.reason`).",
    "conversation.assigned": "The conversation's assignees changed (`assignment`).",
    "conversation.closed": "The conversation was closed.",
    "conversation.reopened": "A closed conversation was reopened.",
    "conversation.rated": "The customer rated the closed conversation (`rating`: score 1-5, comment, agent).",
    "contact.updated": "A contact's details changed (`change`: identity_linked, merged).",
    "invoice.paid": "An invoice or checkout sent in the conversation was paid (`invoice`, amounts in minor units).",
}
RESERVED: frozenset[str] = frozenset()  # events accepted in a subscription but not sent yet: none now


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def event_names(evt: Event) -> Iterator[str]:
    """The webhook event(s) a domain event is, if any."""
    if isinstance(evt, ConversationCreated):
        yield "conversation.created"
    elif isinstance(evt, MessageCreated):
        yield "message.created"
    elif isinstance(evt, ConversationHandedOff):
        yield "conversation.handed_off"
    elif isinstance(evt, ConversationAssigned):
        yield "conversation.assigned"
    elif isinstance(evt, ConversationStatusChanged) and evt.change in ("closed", "reopened"):
        yield f"conversation.{evt.change}"
    elif isinstance(evt, ConversationRated):
        yield "conversation.rated"
    elif isinstance(evt, ContactUpdated):
        yield "contact.updated"
    elif isinstance(evt, InvoiceChanged) and evt.status == "paid":
        yield "invoice.paid"


def conversation_json(session: Session, conv: Conversation) -> dict[str, Any]:
    team = session.get(Team, conv.team_id)
    assignees = list(session.scalars(select(Assignment.user_id).where(Assignment.conversation_id == conv.id)
                                     .order_by(Assignment.user_id)))
    return {"id": conv.public_id, "status": conv.status, "owner": conv.owner, "phase": conv.phase,
            "channel": conv.channel, "team": {"id": conv.team_id, "name": team.name if team else None},
            "inbox_id": conv.inbox_id, "assignee_ids": assignees, "created_at": _iso(conv.created_at),
            "last_activity_at": _iso(conv.last_activity_at), "closed_at": _iso(conv.closed_at),
            # webchat: where it started and the site's attributes then (docs/widget.md)
            "page_url": conv.page_url, "referrer": conv.referrer, "custom_attributes": conv.custom_attributes or {}}


def contact_json(contact: Contact) -> dict[str, Any]:
    return {"id": contact.id, "name": contact.name, "email": contact.email, "phone": contact.phone,
            # a webchat identity's id is the visitor's, internal to the widget: not sent (as the console does)
            "identities": [{"channel": i.channel, "address": i.external_id if i.channel != "webchat" else None}
                           for i in contact.identities]}


def message_json(session: Session, msg: Message) -> dict[str, Any]:
    author = session.get(User, msg.author_id) if msg.author_id else None
    return {"id": msg.id, "direction": msg.direction, "sender_type": msg.sender_type, "text": msg.text,
            "private": msg.private, "channel": msg.channel, "created_at": _iso(msg.created_at),
            "author": {"id": author.id, "name": author.name} if author else None}


def _users(session: Session, ids: tuple[int, ...]) -> list[dict[str, Any]]:
    users = {u.id: u for u in session.scalars(select(User).where(User.id.in_(ids)))} if ids else {}
    return [{"id": i, "name": users[i].name if i in users else None} for i in ids]


def event_data(session: Session, name: str, evt: Event) -> dict[str, Any] | None:
    """`data` of one event, read now (inside the transaction that made the change). None: what it
    names is gone (deleted in the same transaction), so there is nothing to report."""
    data: dict[str, Any] = {"conversation": None, "contact": None}
    if isinstance(evt, ContactUpdated):
        contact = session.get(Contact, evt.contact_id)
        if contact is None:
            return None
        return {**data, "contact": contact_json(contact), "change": evt.change}
    conv = session.get(Conversation, getattr(evt, "conversation_id", 0))
    if conv is None:
        return None
    contact = session.get(Contact, conv.contact_id)
    data.update(conversation=conversation_json(session, conv), contact=contact_json(contact) if contact else None)
    if isinstance(evt, MessageCreated):
        msg = session.get(Message, evt.message_id)
        if msg is None:
            return None
        data["message"] = message_json(session, msg)
    elif isinstance(evt, ConversationHandedOff):
        data["handoff"] = {"reason": evt.reason}
    elif isinstance(evt, ConversationAssigned):
        data["assignment"] = {"assignees": _users(session, evt.user_ids),
                              "previous_assignee_ids": list(evt.previous_user_ids)}
    elif isinstance(evt, InvoiceChanged):
        inv = session.get(Invoice, evt.invoice_id)
        if inv is None:
            return None
        data["invoice"] = invoice_json(inv, conv.public_id)
    elif isinstance(evt, ConversationRated):
        data["rating"] = rating_of(session, conv.id)
    return data


def envelope(name: str, data: dict[str, Any], *, event_id: str | None = None) -> str:
    """The exact body sent (and signed) on every attempt."""
    return json.dumps({"id": event_id or "evt_" + secrets.token_urlsafe(15), "event": name,
                       "created_at": _iso(utcnow()), "data": data}, ensure_ascii=False, separators=(",", ":"))
