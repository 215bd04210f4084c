"""Conversation actions: an admin's button ("Create ticket") that posts chosen conversation and contact
fields to an endpoint; a record the endpoint returns (`{"id", "title", "url"}`) is bound to the
conversation and shown in its About pane. The HTTP call itself is the connectors' (webhooks_out.py);
this module validates definitions, builds the request body and binds what came back."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.audit import audit
from models.discussions.discussions import do_post_system_entry
from models.errors import Conflict, InvalidInput, NotFound
from models.integrations.catalog import contact_json, conversation_json
from models.integrations.subscriptions import check_url
from models.schema.accounts import User
from models.schema.base import utcnow
from models.schema.contacts import Contact
from models.schema.conversations import Conversation, Message
from models.schema.integrations import ConversationAction, ConversationRecord

CONVERSATION_FIELDS = ("id", "status", "owner", "phase", "channel", "team", "inbox_id", "assignee_ids",
                       "created_at", "last_activity_at", "closed_at", "messages")
CONTACT_FIELDS = ("id", "name", "email", "phone", "identities")
TRANSCRIPT_MESSAGES = 50
_NAME = re.compile(r"^[a-z][a-z0-9_]{1,79}$")


class RecordRefused(Exception):
    """The endpoint answered 2xx, but with a record that is not `{"id", "title", "url"}`."""


def _fields(raw: Any, allowed: tuple[str, ...], key: str) -> list[str]:
    if raw is None:
        return ["id"]
    if not isinstance(raw, list) or not all(isinstance(f, str) for f in raw):
        raise InvalidInput(f"'{key}' must be a list of: {', '.join(allowed)}.")
    unknown = [f for f in raw if f not in allowed]
    if unknown:
        raise InvalidInput(f"Unknown {key}: {', '.join(unknown[:5])[:200]}. Known: {', '.join(allowed)}.")
    return [f for f in allowed if f in raw]


def check_action(body: dict[str, Any], *, partial: bool = False) -> dict[str, Any]:
    """Validate an admin's definition (all of it, or the fields a PATCH sends)."""
    out: dict[str, Any] = {}
    if "name" in body or not partial:
        name = body.get("name")
        if not isinstance(name, str) or not _NAME.match(name.strip()):
            raise InvalidInput("'name' must be snake_case, 2-80 characters (e.g. create_ticket).")
        out["name"] = name.strip()
    if "label" in body or not partial:
        label = body.get("label")
        if not isinstance(label, str) or not label.strip() or len(label.strip()) > 60:
            raise InvalidInput("'label' (the button's text) must be 1-60 characters.")
        out["label"] = label.strip()
    if "url" in body or not partial:
        out["url"] = check_url(body.get("url"))
    if "conversation_fields" in body or not partial:
        out["conversation_fields"] = _fields(body.get("conversation_fields"), CONVERSATION_FIELDS,
                                             "conversation_fields")
    if "contact_fields" in body or not partial:
        out["contact_fields"] = _fields(body.get("contact_fields"), CONTACT_FIELDS, "contact_fields")
    if "timeout_seconds" in body:
        t = body["timeout_seconds"]
        if not isinstance(t, int | float) or isinstance(t, bool) or not 0.5 <= float(t) <= 30:
            raise InvalidInput("'timeout_seconds' must be a number between 0.5 and 30.")
        out["timeout_seconds"] = float(t)
    if "enabled" in body:
        if not isinstance(body["enabled"], bool):
            raise InvalidInput("'enabled' must be true or false.")
        out["enabled"] = body["enabled"]
    return out


def action_json(row: ConversationAction, *, admin: bool = True, with_secret: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {"id": row.id, "name": row.name, "label": row.label, "enabled": row.enabled}
    if admin:
        out.update(url=row.url, conversation_fields=list(row.conversation_fields),
                   contact_fields=list(row.contact_fields), timeout_seconds=row.timeout_seconds,
                   created_at=row.created_at.isoformat(), updated_at=row.updated_at.isoformat())
    if with_secret:
        out["secret"] = row.secret
    return out


def access_action(session: Session, action_id: int) -> ConversationAction:
    row = session.get(ConversationAction, action_id)
    if row is None:
        raise NotFound("No such conversation action.")
    return row


def do_save_action(session: Session, actor: User, values: dict[str, Any],
                   row: ConversationAction | None = None) -> ConversationAction:
    name = values.get("name")
    if name is not None:
        taken = session.scalar(select(ConversationAction.id).where(ConversationAction.name == name))
        if taken is not None and (row is None or taken != row.id):
            raise Conflict(f"An action named {name!r} exists already.", code="exists")
    now = utcnow()
    if row is None:
        row = ConversationAction(created_at=now, **values)
        session.add(row)
    else:
        for key, value in values.items():
            setattr(row, key, value)
    row.updated_at = now
    session.flush()
    audit(session, "conversation_action.saved", actor=actor, action_id=row.id, name=row.name, url=row.url)
    return row


def do_delete_action(session: Session, actor: User, row: ConversationAction) -> None:
    audit(session, "conversation_action.deleted", actor=actor, action_id=row.id, name=row.name)
    session.delete(row)


def request_body(session: Session, action: ConversationAction, conv: Conversation, agent: User,
                 run_id: str) -> dict[str, Any]:
    """What the endpoint gets: only the fields the admin chose. Customer text is copied as data."""
    full = conversation_json(session, conv)
    conversation = {k: full[k] for k in action.conversation_fields if k in full}
    if "messages" in action.conversation_fields:
        rows = session.scalars(select(Message).where(Message.conversation_id == conv.id,
                                                     Message.private.is_(False))
                               .order_by(Message.id.desc()).limit(TRANSCRIPT_MESSAGES))
        conversation["messages"] = [{"id": m.id, "sender_type": m.sender_type, "text": m.text,
                                     "created_at": m.created_at.isoformat()} for m in reversed(list(rows))]
    contact = session.get(Contact, conv.contact_id)
    contact_full = contact_json(contact) if contact is not None else {}
    return {"run_id": run_id, "action": {"id": action.id, "name": action.name},
            "agent": {"id": agent.id, "name": agent.name, "email": agent.email},
            "conversation": conversation,
            "contact": {k: contact_full[k] for k in action.contact_fields if k in contact_full}}


def parse_record(answer: Any) -> dict[str, Any] | None:
    """The record in an endpoint's JSON answer (`{"id","title","url"}` or `{"record": {...}}`), or None
    when it returned none. A link that is not http(s) is dropped: it is never shown to agents."""
    if not isinstance(answer, dict):
        return None
    record = answer.get("record", answer) if isinstance(answer.get("record"), dict) else answer
    if "id" not in record and "title" not in record:
        return None
    rid, title, url = record.get("id"), record.get("title"), record.get("url")
    if isinstance(rid, bool) or not isinstance(rid, str | int) or not str(rid).strip() or len(str(rid)) > 200:
        raise RecordRefused("the record's 'id' must be a text or number of at most 200 characters")
    if not isinstance(title, str) or not title.strip():
        raise RecordRefused("the record needs a 'title' (text)")
    link = None
    if isinstance(url, str) and len(url) <= 2000:
        parts = urlsplit(url.strip())
        if parts.scheme in ("http", "https") and parts.netloc:
            link = url.strip()
    return {"id": str(rid).strip(), "title": title.strip()[:300], "url": link}


def do_bind_record(session: Session, actor: User, conv: Conversation, action: ConversationAction,
                   record: dict[str, Any]) -> ConversationRecord:
    """Bind (or refresh: same action, same id) a returned record to the conversation."""
    now = utcnow()
    row = session.scalar(select(ConversationRecord).where(
        ConversationRecord.conversation_id == conv.id, ConversationRecord.action_id == action.id,
        ConversationRecord.external_id == record["id"]))
    if row is None:
        row = ConversationRecord(conversation_id=conv.id, action_id=action.id, external_id=record["id"],
                                 created_by_id=actor.id, created_at=now, title=record["title"])
        session.add(row)
        # Posted in the internal discussion too, when the conversation has one (models/discussions/).
        do_post_system_entry(session, conv, f"{actor.name} linked {action.label}: {record['title']} ({record['id']}).")
    row.title, row.url, row.updated_at = record["title"], record["url"], now
    session.flush()
    return row


def record_json(row: ConversationRecord, action_name: str | None = None) -> dict[str, Any]:
    return {"id": row.id, "external_id": row.external_id, "title": row.title, "url": row.url,
            "action_id": row.action_id, "action": action_name, "created_at": row.created_at.isoformat()}


def records_json(session: Session, conv: Conversation) -> list[dict[str, Any]]:
    names = dict(session.execute(select(ConversationAction.id, ConversationAction.label)).all())
    rows = session.scalars(select(ConversationRecord).where(ConversationRecord.conversation_id == conv.id)
                           .order_by(ConversationRecord.id))
    return [record_json(r, names.get(r.action_id) if r.action_id else None) for r in rows]
