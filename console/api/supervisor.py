"""REST API of the supervisors' views under /api/v1: the Queue view (every team's waiting chats and
agents' loads) and the per-row unread figures the console refreshes live (shapes in
console/api/schemas/supervisor.py). The Active view is `GET /conversations?view=active`."""

from __future__ import annotations

import re

from flask import Blueprint, Response, jsonify
from sqlalchemy import select

from console.api.declare import api, query_args
from console.api.schemas import routing as sr
from console.api.schemas import supervisor as ss
from console.auth import api_user
from console.serialize import conversations_json, iso
from console.services import services
from models.conversations.inbox import unread_by_conversation
from models.conversations.visibility import visible_clause
from models.errors import InvalidInput
from models.routing.queue_view import supervisor_queues
from models.schema.base import utcnow
from models.schema.conversations import Conversation

bp = Blueprint("api_supervisor", __name__, url_prefix="/api/v1")

MAX_IDS = 100
PUBLIC_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


@bp.get("/supervisor/queue")
@api("Every team's queue with its agents' load and availability (supervisors and admins)", ss.SupervisorQueue,
     query=sr.TeamQuery, errors=(403, 404),
     description="Waiting and offered chats, longest-waiting first, with their place and time waited; restricted "
                 "chats the caller may not see keep their place but are not listed. Assign with "
                 "`POST /conversations/<id>/assign`.")
def queue() -> Response:
    user = api_user()
    team_id = query_args(sr.TeamQuery).team_id
    with services().db.session() as s:
        out = []
        for tq in supervisor_queues(s, user, team_id, utcnow()):
            convs = conversations_json(s, user, [w.conversation for w in tq.waiting])
            out.append({
                "team": {"id": tq.team.id, "name": tq.team.name},
                "waiting": [{"conversation": c, "position": w.position, "waiting_seconds": w.waiting_seconds,
                             "queued_at": iso(w.conversation.queued_at or w.conversation.handed_off_at
                                              or w.conversation.created_at),
                             "offered_to": {"id": w.offered_to.id, "name": w.offered_to.name} if w.offered_to else None,
                             "offer_expires_at": iso(w.offer_expires_at)}
                            for w, c in zip(tq.waiting, convs, strict=True)],
                "agents": [{"id": a.user.id, "name": a.user.name, "email": a.user.email, "role": a.user.role,
                            "availability": a.user.availability, "active_chats": a.active_chats,
                            "capacity": a.capacity, "at_capacity": a.at_capacity} for a in tq.agents],
            })
        return jsonify({"queues": out})


@bp.get("/unread")
@api("The caller's unread figure of each of these conversations (the list rows' badges)", ss.UnreadCounts,
     query=ss.UnreadQuery)
def unread() -> Response:
    user = api_user()
    ids = [i for i in dict.fromkeys(x.strip() for x in query_args(ss.UnreadQuery).ids.split(",")) if i]
    if len(ids) > MAX_IDS:
        raise InvalidInput(f"At most {MAX_IDS} conversation ids at once.")
    ids = [i for i in ids if PUBLIC_ID.fullmatch(i)]  # anything else names no conversation
    with services().db.session() as s:
        rows = s.execute(select(Conversation.id, Conversation.public_id)
                         .where(Conversation.public_id.in_(ids), visible_clause(user))).all() if ids else []
        counts = unread_by_conversation(s, user, [cid for cid, _ in rows])
        return jsonify({"unread": {pid: counts.get(cid, 0) for cid, pid in rows}})
