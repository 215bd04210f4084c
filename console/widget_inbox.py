"""The webchat side of inboxes: which inbox a widget belongs to (its `data-widget-key`), whether it may
run on the site it is on, and what it shows (greeting, colour, title) — served to the widget as JSON.

Origins: PARLEY_WIDGET_ORIGINS is the deployment's outer gate (the socket layer refuses other sites
before any handler runs); an inbox that lists its own origins refines it for its key, so a key copied
onto another allowed site is refused there.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from console.services import services
from models.errors import ParleyError
from models.feedback.options import feedback_view
from models.inboxes.options import widget_view
from models.inboxes.routing import check_origin, check_widget_key, flagged_default, inbox_for_widget
from models.schema.channels import Inbox, InboxKind

bp = Blueprint("widget_inbox", __name__)


def _inbox(s: Any, key: str | None) -> Inbox | None:
    """The widget's inbox (None: a keyless widget on an install that has no webchat inbox yet)."""
    return inbox_for_widget(s, key) if key is not None else flagged_default(s, InboxKind.WEBCHAT.value)


def widget_inbox_on_connect(auth: Any) -> str | None:
    """The key a /webchat socket connects with, checked: an unknown key, or a site its inbox does not
    list, refuses the connection with a reason the widget shows."""
    try:
        key = check_widget_key(auth.get("widget_key") if isinstance(auth, dict) else None)
        with services().db.session() as s:
            inbox = _inbox(s, key)
            if inbox is not None:
                check_origin(inbox, request.headers.get("Origin"))
    except ParleyError as exc:
        raise ConnectionRefusedError({"code": exc.code, "message": exc.message}) from None
    return key


def check_widget_request(s: Any, key: object) -> Inbox:
    """For the widget's HTTP requests (a file upload): the key's inbox, on a site it is enabled for."""
    inbox = inbox_for_widget(s, check_widget_key(key))
    check_origin(inbox, request.headers.get("Origin"))
    return inbox


def cors(response: Response) -> Response:
    origins = services().settings.widget_origins
    origin = request.headers.get("Origin")
    if origins == ("*",):
        response.headers["Access-Control-Allow-Origin"] = "*"
    elif origin and origin in origins:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Vary"] = "Origin"
    return response


@bp.get("/webchat/widget-config")
def widget_config() -> Any:
    """What the widget shows, from its inbox (plain text: the widget renders it with textContent)."""
    from console.errors import status_of

    try:
        with services().db.session() as s:
            key = check_widget_key(request.args.get("key"))
            inbox = _inbox(s, key)
            if inbox is not None:
                check_origin(inbox, request.headers.get("Origin"))
            # Only what the inbox sets: an older embed's data-color / data-title stay when it sets none.
            view = {k: v for k, v in widget_view(inbox.options or {}).items()
                    if (inbox.options or {}).get(k)} if inbox is not None else {}
            # The pre-chat form and the rating, when the inbox turns them on (absent: off).
            view.update({k: v for k, v in feedback_view(inbox.options if inbox else None).items() if v})
    except ParleyError as exc:
        return cors(jsonify({"error": {"code": exc.code, "message": exc.message}})), status_of(exc)
    response = cors(jsonify(view))
    response.headers["Cache-Control"] = "no-cache"
    return response
