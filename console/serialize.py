"""JSON shapes of conversations, messages, packets and files, shared by the REST API and the socket pushes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.orm import Session

from models.channels.attachments import INLINE_SAFE
from models.conversations.inbox import last_messages, latest_packets, unread_by_conversation, unreplied_by_conversation
from models.inboxes.manage import inbox_names_of
from models.outreach.sessions import customer_statuses
from models.schema.accounts import User
from models.schema.channels import Attachment, AttachmentState
from models.schema.conversations import (
    Conversation,
    HandoffPacket,
    Message,
    SenderType,
)


def attachment_json(att: Attachment) -> dict[str, Any]:
    ready = att.state == AttachmentState.READY.value
    return {"id": att.public_id, "filename": att.filename, "content_type": att.content_type, "size": att.size,
            "state": att.state, "error": att.error,
            "url": f"/api/v1/attachments/{att.public_id}" if ready else None,
            "inline": ready and att.content_type in INLINE_SAFE}


def iso(ts: datetime | None) -> str | None:
    return ts.isoformat() if ts is not None else None


def user_brief(user: User) -> dict[str, Any]:
    return {"id": user.id, "name": user.name, "email": user.email}


def packet_json(p: HandoffPacket | None) -> dict[str, Any] | None:
    if p is None:
        return None
    return {"reason": p.reason, "intent": p.intent, "confidence": p.confidence, "ranking": p.ranking,
            "summary": p.summary, "engine": p.engine, "created_at": iso(p.created_at), "stages": p.stages or []}


def message_json(m: Message, public_id: str) -> dict[str, Any]:
    author = {"id": m.author.id, "name": m.author.name} if m.author_id and m.author else None
    return message_shape(m, public_id, author, _attachments_json(m))


def message_shape(m: Any, public_id: str, author: dict[str, Any] | None,
                  attachments: list[dict[str, Any]]) -> dict[str, Any]:
    """`message_json`'s shape from anything with a message's columns as attributes: an entity, or a
    row read in Core (the realtime push, console/realtime/listener.py)."""
    bot = None
    if m.sender_type == SenderType.BOT.value:
        bot = {"intent": m.bot_intent, "confidence": m.bot_confidence, "decision": m.bot_decision,
               "reason": m.bot_reason}
    return {"id": m.id, "conversation_id": public_id, "direction": m.direction, "sender_type": m.sender_type,
            "author": author, "text": m.text, "private": m.private, "channel": m.channel,
            "created_at": iso(m.created_at), "delivery_status": m.delivery_status, "bot": bot,
            "error": {"code": m.error_code, "message": m.error_message} if m.error_code else None,
            "attachments": attachments, "rich": m.rich}


def _attachments_json(m: Message) -> list[dict[str, Any]]:
    """A message's files (served by /api/v1/attachments/<id>, console/attachments.py)."""
    from console.serialize import attachment_json

    state = inspect(m)
    if "attachments" in state.unloaded and state.session is None:
        return []  # a detached message whose files were not loaded: leave them to the next fetch
    return [attachment_json(a) for a in m.attachments]


def conversations_json(session: Session, user: User | None, convs: Sequence[Conversation]) -> list[dict[str, Any]]:
    """Serialise conversations with their per-conversation figures, in a fixed number of queries.

    With `user=None` (a broadcast to a room) the per-user `unread` figure is left out.
    """
    ids = [c.id for c in convs]
    unreplied = unreplied_by_conversation(session, ids)
    unread = unread_by_conversation(session, user, ids) if user is not None else None
    lasts = last_messages(session, ids, include_private=True)
    packets = latest_packets(session, ids)
    inbox_names = inbox_names_of(session, [c.inbox_id for c in convs if c.inbox_id is not None])
    customers = customer_statuses(session, convs)
    out = []
    for c in convs:
        item = summary_json(c, unreplied.get(c.id, 0), lasts.get(c.id), packets.get(c.id), customers[c.id])
        item["inbox"] = {"id": c.inbox_id, "name": inbox_names[c.inbox_id]} if c.inbox_id in inbox_names else None
        if unread is not None:
            item["unread"] = unread.get(c.id, 0)
        out.append(item)
    return out


def summary_json(c: Conversation, unreplied: int, last: Message | None,
                 packet: HandoffPacket | None, customer: dict[str, Any]) -> dict[str, Any]:
    """One conversation as lists show it (`conversations_json`, which adds its inbox's name, and the live
    pushes of console/realtime/summaries.py, which read the same figures in one query)."""
    return {
        "id": c.public_id, "name": c.name, "status": c.status, "owner": c.owner, "phase": c.phase,
        "team": {"id": c.team.id, "name": c.team.name}, "channel": c.channel, "inbox_id": c.inbox_id,
        "contact": {"id": c.contact.id, "name": c.contact.name, "online": c.contact.online,
                    "blocked": c.contact.blocked_at is not None},
        "assignees": [user_brief(a.user) for a in c.assignments],
        "last_message": ({"text": last.text, "sender_type": last.sender_type, "private": last.private,
                          "created_at": iso(last.created_at)} if last else None),
        "unreplied": unreplied,
        "waiting_since": iso(c.waiting_since), "last_activity_at": iso(c.last_activity_at),
        "created_at": iso(c.created_at), "closed_at": iso(c.closed_at),
        "handoff": packet_json(packet),
        "customer_status": customer,
    }
