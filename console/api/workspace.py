"""REST API of a team's workspace under /api/v1: canned replies, opening hours, and a conversation's
workspace (the settings of the conversation's team, for whoever works it on that team's behalf).

Shapes in console/api/schemas/workspace.py.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify
from sqlalchemy import select
from sqlalchemy.orm import Session

from console.api.declare import api, json_body, query_args
from console.api.schemas import workspace as sw
from console.auth import api_user
from console.services import services
from models.conversations.access import access_conversation
from models.errors import NotFound
from models.routing.canned import (
    check_body,
    check_code,
    do_create_canned_reply,
    do_delete_canned_reply,
    do_update_canned_reply,
    fill,
    readable,
    reply_json,
)
from models.routing.hours import check_hours, do_set_team_hours, hours_json, serves, team_hours_state
from models.routing.settings import team_settings
from models.schema.accounts import Team, User
from models.schema.base import utcnow
from models.schema.contacts import Contact

bp = Blueprint("api_workspace", __name__, url_prefix="/api/v1")


def _team_names(s: Session) -> dict[int, str]:
    return {t.id: t.name for t in s.scalars(select(Team))}


def _team_param(s: Session, user: User, team_id: int | None) -> int | None:
    if team_id is None:
        return None
    if s.get(Team, team_id) is None or not serves(user, team_id):
        raise NotFound("No such team.")
    return team_id


@bp.get("/canned_replies")
@api("Canned replies: the caller's teams' (every team's for supervisors and admins) and the caller's personal ones",
     sw.CannedReplyList, query=sw.RepliesQuery, errors=(404,))
def list_canned_replies() -> Response:
    """The caller's teams' replies (every team's for supervisors and admins) and their personal ones."""
    user = api_user()
    args = query_args(sw.RepliesQuery)
    q = (args.q or "").strip()[:200] or None
    with services().db.session() as s:
        team_id = _team_param(s, user, args.team_id)
        if team_id is not None:
            team_ids = [team_id]
        elif user.sees_all_teams:
            team_ids = list(s.scalars(select(Team.id)))
        else:
            team_ids = list(user.team_ids)
        names = _team_names(s)
        rows = readable(s, user, team_ids, q)
        return jsonify({"canned_replies": [reply_json(r, user, names) for r in rows]})


@bp.post("/canned_replies")
@api("Create a canned reply: a team's (supervisors, admins) or, without team_id, a personal one", sw.CannedReply,
     status=201, body=sw.NewCannedReply, errors=(403, 404, 409, 413))
def create_canned_reply() -> tuple[Response, int]:
    user = api_user()
    body = json_body(sw.NewCannedReply)
    code, text = check_code(body.short_code), check_body(body.body)
    with services().db.transaction() as s:
        reply = do_create_canned_reply(s, user, short_code=code, body=text, team_id=body.team_id)
        return jsonify(reply_json(reply, user, _team_names(s))), 201


@bp.patch("/canned_replies/<int:reply_id>")
@api("Change a canned reply (a team's: supervisors, admins; a personal one: its owner)", sw.CannedReply,
     body=sw.CannedReplyChange, errors=(403, 409, 413))
def update_canned_reply(reply_id: int) -> Response:
    user = api_user()
    body = json_body(sw.CannedReplyChange).model_dump(exclude_unset=True)
    changes: dict[str, Any] = {}
    if "short_code" in body:
        changes["short_code"] = check_code(body["short_code"])
    if "body" in body:
        changes["body"] = check_body(body["body"])
    with services().db.transaction() as s:
        reply = do_update_canned_reply(s, user, reply_id, changes)
        return jsonify(reply_json(reply, user, _team_names(s)))


@bp.delete("/canned_replies/<int:reply_id>")
@api("Delete a canned reply", status=204, errors=(403,))
def delete_canned_reply(reply_id: int) -> tuple[str, int]:
    user = api_user()
    with services().db.transaction() as s:
        do_delete_canned_reply(s, user, reply_id)
    return "", 204


def _hours_out(s: Session, team_id: int) -> dict[str, Any]:
    hours, state = team_hours_state(s, team_id, utcnow())
    return {"team_id": team_id, **hours_json(hours, state)}


def _served_team(s: Session, user: User, team_id: int) -> None:
    if s.get(Team, team_id) is None or not serves(user, team_id):
        raise NotFound("No such team.")


@bp.get("/teams/<int:team_id>/hours")
@api("A team's opening hours, whether it is open now and when it next opens", sw.TeamHours)
def get_hours(team_id: int) -> Response:
    user = api_user()
    with services().db.session() as s:
        _served_team(s, user, team_id)
        return jsonify(_hours_out(s, team_id))


@bp.put("/teams/<int:team_id>/hours")
@api("Set a team's opening hours (supervisors, admins)", sw.TeamHours, body=sw.HoursIn, errors=(403,),
     description="Outside its hours a team still queues conversations, but the customer gets the out-of-hours "
                 "message and, on webchat, when the team opens instead of an estimated wait.")
def put_hours(team_id: int) -> Response:
    user = api_user()
    hours = check_hours(json_body(sw.HoursIn).model_dump(exclude_unset=True))
    with services().db.transaction() as s:
        _served_team(s, user, team_id)
        do_set_team_hours(s, user, team_id, hours)
    with services().db.session() as s:
        return jsonify(_hours_out(s, team_id))


@bp.delete("/teams/<int:team_id>/hours")
@api("Remove a team's opening hours: always open (supervisors, admins)", sw.TeamHours, errors=(403,))
def delete_hours(team_id: int) -> Response:
    user = api_user()
    with services().db.transaction() as s:
        _served_team(s, user, team_id)
        do_set_team_hours(s, user, team_id, None)
    with services().db.session() as s:
        return jsonify(_hours_out(s, team_id))


@bp.get("/conversations/<public_id>/workspace")
@api("The settings the caller works this conversation with: its team's", sw.Workspace,
     description="The conversation's team (not the caller's home team): its canned replies filled in for this "
                 "conversation (`text`), plus the caller's personal ones; its routing policy; its hours. "
                 "`on_behalf` is true when the caller is not a member of that team.")
def workspace(public_id: str) -> Response:
    """The settings of the conversation's team, for the caller: whoever may see the conversation works it
    with its team's canned replies (plus their personal ones), routing and hours."""
    user = api_user()
    with services().db.session() as s:
        conv = access_conversation(s, user, public_id)
        team = s.get(Team, conv.team_id)
        contact = s.get(Contact, conv.contact_id)
        assert team is not None
        names = _team_names(s)
        contact_name = contact.name if contact is not None else None
        replies = [reply_json(r, user, names, filled=fill(r.body, contact_name=contact_name,
                                                                 agent_name=user.name))
                   for r in readable(s, user, [team.id])]
        hours, state = team_hours_state(s, team.id, utcnow())
        member = team.id in user.team_ids
        return jsonify({
            "conversation_id": conv.public_id,
            "team": {"id": team.id, "name": team.name},
            "member": member,
            "on_behalf": not member,
            "canned_replies": replies,
            "routing": team_settings(s, team.id).json(),
            "hours": hours_json(hours, state),
        })
