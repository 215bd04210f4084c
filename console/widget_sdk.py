"""The widget SDK's socket events on /webchat (`window.Parley` in console/static/widget.js): `identify`
(setUser, verified by the inbox's identifier hash) and `attributes` (setAttributes). Thin adapters: the
rules live in models/contacts/widget_sdk.py. Each answers through the acknowledgement callback,
`{"ok": true, ...}` or `{"ok": false, "error": {code, message}}`.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import request
from flask_socketio import emit, join_room, leave_room

from connectors.webchat import customer_message, visitor_display_name
from console.extensions import socketio
from console.limits import RateLimited, limits
from console.realtime.payloads import queue_state
from console.realtime.rooms import WEBCHAT_NS, contact_room
from console.serialize import iso
from console.services import services
from console.sockets import visitors
from models.contacts.identities import do_find_or_create_contact
from models.contacts.widget import visitor_history
from models.contacts.widget_sdk import (
    WEBCHAT,
    check_attributes,
    check_profile,
    check_user_id,
    contact_of_visitor,
    do_identify,
    do_set_attributes,
)
from models.conversations.ingest import open_conversation_of
from models.errors import ParleyError
from models.inboxes.routing import check_widget_key, flagged_default, inbox_for_widget
from models.schema.channels import Inbox, InboxKind

log = logging.getLogger(__name__)


def _refusal(exc: ParleyError) -> dict[str, Any]:
    error: dict[str, Any] = {"code": exc.code, "message": exc.message}
    if isinstance(exc, RateLimited):
        error["retry_after"] = exc.retry_after
    return {"ok": False, "error": error}


def _inbox(s: Any, key: str | None) -> Inbox | None:
    """The inbox this widget belongs to (its secret verifies users); a keyless widget's default, if any."""
    key = check_widget_key(key)
    return inbox_for_widget(s, key) if key is not None else flagged_default(s, InboxKind.WEBCHAT.value)


@socketio.on("identify", namespace=WEBCHAT_NS)
def webchat_identify(data: Any = None) -> dict[str, Any]:
    """setUser(id, {name, email, phone}, identifierHash): this browser becomes that user's, and is shown
    the user's open conversation (a second browser resumes it)."""
    sid = request.sid  # type: ignore[attr-defined]
    visitor = visitors.get(sid)
    try:
        if visitor is None:
            raise ParleyError("Reconnect to chat.", code="no_session")
        if not isinstance(data, dict):
            raise ParleyError('Send {"id": ..., "identifier_hash": ...}.', code="invalid")
        # A wrong guess costs the same as a message: hashes cannot be tried in bulk.
        limits().hit("webchat_identify", services().settings.rate_limit_webchat_messages, visitor.visitor_id,
                     "Too many attempts")
        user_id, profile = check_user_id(data.get("id")), check_profile(data.get("user"))
        with services().db.transaction() as s:
            before = contact_of_visitor(s, visitor.visitor_id)
            before_id = before.id if before is not None else None
            contact = do_identify(s, _inbox(s, visitors.widget_key(sid)), visitor.visitor_id, user_id, profile,
                                  data.get("identifier_hash"))
            contact_id = contact.id
            resumed = _resume_payload(s, contact_id, visitor.visitor_id)
    except ParleyError as exc:
        log.info("webchat identify refused: %s", exc.code)
        return _refusal(exc)
    if before_id is not None and before_id != contact_id:
        leave_room(contact_room(before_id))
    join_room(contact_room(contact_id))
    conversation_id, history, queue = resumed
    emit("session", {"token": visitor.token, "conversation_id": conversation_id})
    emit("history", {"conversation_id": conversation_id, "messages": history})
    if queue is not None:
        emit("queue", queue)
    return {"ok": True, "conversation_id": conversation_id}


def _resume_payload(s: Any, contact_id: int, visitor_id: str
                    ) -> tuple[str | None, list[dict[str, Any]], dict[str, Any] | None]:
    """The open conversation this browser now sees, what it may be shown of it, and its queue place."""
    contact = contact_of_visitor(s, visitor_id)
    if contact is None or contact.id != contact_id:
        return None, [], None
    conv = open_conversation_of(s, contact)
    if conv is None:
        return None, [], None
    rows = visitor_history(s, conv, visitor_id)
    history = [customer_message(id=m.id, conversation_id=conv.public_id, sender_type=m.sender_type, text=m.text,
                                created_at=iso(m.created_at) or "") for m in rows]
    queue = {"conversation_id": conv.public_id, **queue_state(s, conv)} if conv.owner == "human" else None
    return conv.public_id, history, queue


@socketio.on("attributes", namespace=WEBCHAT_NS)
def webchat_attributes(data: Any = None) -> dict[str, Any]:
    """setAttributes({...}): onto this browser's contact (made now if it has not written yet) and its open
    conversation. Needs no verification: it describes this browser's own contact, nobody else's."""
    visitor = visitors.get(request.sid)  # type: ignore[attr-defined]
    try:
        if visitor is None:
            raise ParleyError("Reconnect to chat.", code="no_session")
        change = check_attributes(data.get("attributes") if isinstance(data, dict) else None)
        limits().hit("webchat_attributes", services().settings.rate_limit_webchat_messages, visitor.visitor_id,
                     "Too many attribute changes")
        with services().db.transaction() as s:
            contact = do_find_or_create_contact(s, WEBCHAT, visitor.visitor_id,
                                                visitor_display_name(visitor.visitor_id))
            attributes = do_set_attributes(s, contact, change)
            contact_id = contact.id
    except ParleyError as exc:
        return _refusal(exc)
    join_room(contact_room(contact_id))
    return {"ok": True, "attributes": attributes}
