"""REST endpoints of inboxes (under /api/v1; shapes in console/api/schemas/inboxes.py): where a
conversation lands — webchat widgets and numbers, each owned by a team — and the admin's Inboxes page
(which keeps the SMS/WhatsApp number forms of the old Channels page)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, jsonify, render_template, request

from console.api.declare import api, json_body
from console.api.schemas import inboxes as sch
from console.auth import api_user, current_user, login_required
from console.services import services
from models.errors import Forbidden
from models.inboxes.manage import (
    access_inbox,
    check_admin,
    do_create_inbox,
    do_delete_inbox,
    do_update_inbox,
    inboxes_json,
    visible_inboxes,
)

bp = Blueprint("api_inboxes", __name__, url_prefix="/api/v1")


def base_url() -> str:
    """Where the widget's script is served from: the public URL, else the address this request came to."""
    return services().settings.public_url or request.host_url


def _one(s: Any, inbox: Any) -> dict[str, Any]:
    return inboxes_json(s, [inbox], base_url())[0]


@bp.get("/inboxes")
@api("Inboxes: admins and supervisors see all, agents their teams' (the Team inbox filter)", sch.InboxList)
def inboxes() -> Response:
    user = api_user()
    with services().db.session() as s:
        return jsonify({"inboxes": inboxes_json(s, visible_inboxes(s, user), base_url())})


@bp.post("/inboxes")
@api("Add an inbox (admins): a webchat widget (returns its key and script tag) or a number for a team",
     sch.Inbox, status=201, body=sch.InboxIn, errors=(403, 409))
def create_inbox() -> tuple[Response, int]:
    user = api_user()
    check_admin(user)
    body = json_body(sch.InboxIn).model_dump(exclude_unset=True)
    with services().db.transaction() as s:
        inbox = do_create_inbox(s, user, body, services().settings.widget_origins)
        return jsonify(_one(s, inbox)), 201


@bp.get("/inboxes/<int:inbox_id>")
@api("One inbox", sch.Inbox)
def inbox(inbox_id: int) -> Response:
    user = api_user()
    with services().db.session() as s:
        inbox = access_inbox(s, user, inbox_id)
        item = _one(s, inbox)
        if user.role == "admin" and inbox.kind == "webchat":  # widget SDK: only admins see it (docs/widget.md)
            item["identity_secret"] = inbox.secret
        return jsonify(item)


@bp.patch("/inboxes/<int:inbox_id>")
@api("Change an inbox (admins): rename, move to another team, a widget's options", sch.Inbox,
     body=sch.InboxChange, errors=(403, 409))
def update_inbox(inbox_id: int) -> Response:
    user = api_user()
    check_admin(user)
    body = json_body(sch.InboxChange).model_dump(exclude_unset=True)
    with services().db.transaction() as s:
        inbox = access_inbox(s, user, inbox_id)
        do_update_inbox(s, user, inbox, body, services().settings.widget_origins)
        s.flush()
        return jsonify(_one(s, inbox))


@bp.delete("/inboxes/<int:inbox_id>")
@api("Remove an inbox (admins); refused while it is the last of its kind with open conversations",
     status=204, errors=(403, 409))
def delete_inbox(inbox_id: int) -> tuple[str, int]:
    user = api_user()
    check_admin(user)
    with services().db.transaction() as s:
        do_delete_inbox(s, user, access_inbox(s, user, inbox_id))
    return "", 204


@login_required
def inboxes_page() -> Any:
    user = current_user()
    if user is None or user.role != "admin":
        raise Forbidden("Only admins can manage inboxes.")
    return render_template("inboxes.html", user=user)


def register(app: Flask) -> None:
    app.register_blueprint(bp)
    app.add_url_rule("/inboxes", "inboxes_page", inboxes_page)
