"""The webchat visitor's pre-chat form and end-of-chat rating, as `/webchat` socket events (thin
adapters over models/feedback/). Each answers through its acknowledgement: `{"ok": true, ...}` or
`{"ok": false, "error": {"code", "message"}}`, the message fit to show the visitor as it is.

- `prechat` `{"name", "email"}`: checked against the widget's inbox form, stored on the visitor's own
  contact (made now if this is a first visit).
- `rate` `{"conversation_id", "score", "comment"}`: a closed conversation of this visitor, once.
"""

from __future__ import annotations

from typing import Any

from flask import request

from connectors.webchat import CHANNEL as WEBCHAT
from connectors.webchat import visitor_display_name
from console.extensions import socketio
from console.limits import RateLimited
from console.realtime.rooms import WEBCHAT_NS
from console.services import services
from console.sockets import _count_visitor_message, visitors
from models.contacts.identities import do_find_or_create_contact
from models.errors import Forbidden, ParleyError
from models.feedback.prechat import check_prechat_answers, do_prechat
from models.feedback.ratings import access_visitor_conversation, check_rating, do_rate, rating_json
from models.inboxes.routing import inbox_for_widget


def _failed(exc: ParleyError) -> dict[str, Any]:
    error: dict[str, Any] = {"code": exc.code, "message": exc.message}
    if isinstance(exc, RateLimited):
        error["retry_after"] = exc.retry_after
    return {"ok": False, "error": error}


@socketio.on("prechat", namespace=WEBCHAT_NS)
def webchat_prechat(data: Any = None) -> dict[str, Any]:
    visitor = visitors.get(request.sid)  # type: ignore[attr-defined]
    try:
        if visitor is None:
            raise ParleyError("Reconnect to chat.", code="no_session")
        _count_visitor_message(visitor)  # the same budget as messages: each answer is a write
        with services().db.transaction() as s:
            inbox = inbox_for_widget(s, visitors.widget_key(request.sid))  # type: ignore[attr-defined]
            answers = check_prechat_answers(inbox.options, data)
            contact = do_find_or_create_contact(s, WEBCHAT, visitor.visitor_id,
                                                visitor_display_name(visitor.visitor_id))
            if contact.blocked:
                raise Forbidden("This contact is blocked.", code="blocked")
            do_prechat(s, contact, answers)
    except ParleyError as exc:
        return _failed(exc)
    return {"ok": True, **answers}


@socketio.on("rate", namespace=WEBCHAT_NS)
def webchat_rate(data: Any = None) -> dict[str, Any]:
    visitor = visitors.get(request.sid)  # type: ignore[attr-defined]
    try:
        if visitor is None:
            raise ParleyError("Reconnect to chat.", code="no_session")
        score, comment = check_rating(data)
        _count_visitor_message(visitor)
        with services().db.transaction() as s:
            conv = access_visitor_conversation(s, WEBCHAT, visitor.visitor_id, data.get("conversation_id"))
            rating = do_rate(s, conv, score, comment)
            answer = rating_json(rating) or {}
    except ParleyError as exc:
        return _failed(exc)
    return {"ok": True, "score": answer["score"], "comment": answer["comment"]}
