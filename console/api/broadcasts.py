"""REST API of broadcasts under /api/v1 (shapes in console/api/schemas/broadcasts.py; the rules in
models/broadcasts/): `POST /broadcasts` (202: recipients written and classified in the request, the
messages queued by a background job, a chunk per transaction), `GET /broadcasts`, `GET /broadcasts/<id>`
(counts and a page of recipients with their delivery status), `POST /broadcasts/<id>/resume` (send what
a process that died left pending). Supervisors and admins only."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify
from sqlalchemy.orm import Session

from console.api.declare import api, json_body, query_args
from console.api.schemas import broadcasts as sb
from console.auth import api_user
from console.serialize import iso
from console.services import services
from models.broadcasts.send import (
    BroadcastRequest,
    check_broadcast,
    check_may_broadcast,
    do_create_broadcast,
    process_broadcast,
    visible_contacts,
)
from models.broadcasts.summary import access_broadcast, broadcasts_of, counts, recipients
from models.contacts.tags import contact_ids_with_tag, normalise_tag
from models.schema.accounts import User
from models.schema.broadcasts import Broadcast

bp = Blueprint("broadcasts", __name__, url_prefix="/api/v1")


def _json(s: Session, user: User, b: Broadcast, *, offset: int = 0, limit: int = 100) -> dict[str, Any]:
    by = s.get(User, b.created_by_id) if b.created_by_id else None
    return {"id": b.id, "channel": b.channel, "tag": b.tag, "text": b.text,
            "template": (b.template or {}).get("template", {}).get("name"), "state": b.state,
            "created_at": iso(b.created_at), "finished_at": iso(b.finished_at),
            "created_by": by.name if by else None, "counts": counts(s, b.id),
            "recipients": recipients(s, user, b.id, offset=offset, limit=limit)}


@bp.post("/broadcasts")
@api("Broadcast one message to several contacts or to a tag: SMS text, or a WhatsApp template", sb.BroadcastOut,
     status=202, body=sb.BroadcastIn, errors=(403, 404, 413, 422),
     description="Each recipient gets their own conversation (or the message joins their open one), queued "
                 "through the outbox and paced by PARLEY_BROADCAST_RATE. Blocked contacts, SMS opt-outs "
                 "(STOP) and contacts without a number on the channel are skipped and counted. WhatsApp "
                 "without a template: 422 `template_required`. Supervisors and admins only.")
def create() -> tuple[Response, int]:
    user = api_user()
    check_may_broadcast(user)
    body = json_body(sb.BroadcastIn)
    settings = services().settings
    req = BroadcastRequest(
        channel=body.channel, contact_ids=list(body.contact_ids) if body.contact_ids is not None else None,
        tag=normalise_tag(body.tag) if body.tag is not None else None, inbox_id=body.inbox_id, text=body.text,
        template_name=body.template.name if body.template else None,
        template_language=body.template.language if body.template else None,
        template_params=tuple(body.template.params) if body.template else ())
    check_broadcast(req, settings.max_message_length)
    with services().db.transaction() as s:
        wanted = req.contact_ids if req.contact_ids is not None else contact_ids_with_tag(s, req.tag or "")
        b = do_create_broadcast(s, user, req, visible_contacts(s, user, wanted))
        broadcast_id = b.id
    services().jobs.submit(process_broadcast, services().db, broadcast_id, settings.broadcast_rate)
    with services().db.session() as s:
        return jsonify(_json(s, user, access_broadcast(s, user, broadcast_id))), 202


@bp.post("/broadcasts/<int:broadcast_id>/resume")
@api("Finish a broadcast whose sending was cut short (a process died): its pending recipients are sent",
     sb.BroadcastOut, status=202, errors=(403,),
     description="Safe while it is still running: each chunk is claimed under its rows' locks, nothing is "
                 "sent twice.")
def resume(broadcast_id: int) -> tuple[Response, int]:
    user = api_user()
    with services().db.session() as s:
        access_broadcast(s, user, broadcast_id)
    services().jobs.submit(process_broadcast, services().db, broadcast_id, services().settings.broadcast_rate)
    with services().db.session() as s:
        return jsonify(_json(s, user, access_broadcast(s, user, broadcast_id))), 202


@bp.get("/broadcasts")
@api("Recent broadcasts (the latest 50) with their counts", sb.BroadcastList, errors=(403,))
def list_broadcasts() -> Response:
    user = api_user()
    check_may_broadcast(user)
    with services().db.session() as s:
        return jsonify({"broadcasts": [_json(s, user, b, limit=0) for b in broadcasts_of(s)]})


@bp.get("/broadcasts/<int:broadcast_id>")
@api("A broadcast: its counts and a page of recipients with their delivery status", sb.BroadcastOut,
     query=sb.BroadcastQuery, errors=(403,))
def get_broadcast(broadcast_id: int) -> Response:
    user = api_user()
    args = query_args(sb.BroadcastQuery)
    with services().db.session() as s:
        return jsonify(_json(s, user, access_broadcast(s, user, broadcast_id), offset=args.offset,
                             limit=args.limit))
