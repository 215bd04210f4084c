"""REST API of internal discussions and @mentions under /api/v1 (shapes in console/api/schemas/discussions.py;
rules in models/discussions/ and docs/discussions.md):

- `GET|POST /conversations/<id>/discussion`: read it (members; supervisors and admins who see the
  conversation); start it, inviting `user_ids`;
- `POST /conversations/<id>/discussion/members`: invite more (members);
- `POST /conversations/<id>/discussion/entries`: write (members; 409 `discussion_closed` once the
  conversation is closed);
- `GET /conversations/<id>/discussion/candidates`: who can be invited or mentioned (who sees it);
- `GET /mentions`, `POST /mentions/<id>/read`: the caller's mentions, unread first.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, jsonify
from sqlalchemy.orm import Session

from console.api.declare import api, json_body
from console.api.schemas import discussions as sd
from console.auth import api_user
from console.services import services
from models.conversations.access import access_conversation
from models.conversations.inbox import users_who_can_see
from models.conversations.messages import check_text
from models.conversations.visibility import can_see
from models.discussions.discussions import (
    access_discussion,
    discussion_json,
    discussion_of,
    do_invite,
    do_post_entry,
    entry_json,
    member_ids,
    users_by_id,
)
from models.discussions.journal import post_system_entries
from models.discussions.mentions import do_mark_mention_read, handle_of, mentions_of, unread_count
from models.schema.accounts import User

bp = Blueprint("discussions", __name__, url_prefix="/api/v1")


def _discussion_out(s: Session, user: User, public_id: str) -> dict[str, Any]:
    conv = access_conversation(s, user, public_id)
    d, members = access_discussion(s, user, conv)
    return discussion_json(s, user, conv, d, members)


@bp.get("/conversations/<public_id>/discussion")
@api("The conversation's internal discussion", sd.DiscussionOut)
def discussion(public_id: str) -> Response:
    user = api_user()
    with services().db.session() as s:
        return jsonify(_discussion_out(s, user, public_id))


def _invite(public_id: str) -> Response:
    user = api_user()
    body = json_body(sd.Invite)
    with services().db.transaction() as s:
        conv = access_conversation(s, user, public_id, lock=True)
        do_invite(s, user, conv, body.user_ids)
    with services().db.session() as s:
        return jsonify(_discussion_out(s, user, public_id))


@bp.post("/conversations/<public_id>/discussion")
@api("Start the discussion (or invite more people to it)", sd.DiscussionOut, body=sd.Invite, errors=(409,),
     description="The caller becomes a member. Invitees must be able to see the conversation (400 "
                 "`cannot_see_conversation` otherwise): inviting never widens who sees it. 409 `discussion_closed` "
                 "when the conversation is closed; 409 `discussion_exists` for a non-member when it exists.")
def start(public_id: str) -> Response:
    return _invite(public_id)


@bp.post("/conversations/<public_id>/discussion/members")
@api("Invite people to the discussion", sd.DiscussionOut, body=sd.Invite, errors=(409,))
def invite(public_id: str) -> Response:
    return _invite(public_id)


@bp.post("/conversations/<public_id>/discussion/entries")
@api("Write in the discussion", sd.Entry, status=201, body=sd.NewEntry, errors=(403, 409, 413),
     description="409 `discussion_closed` once the conversation is closed (view-only until it is reopened).")
def post_entry(public_id: str) -> tuple[Response, int]:
    user = api_user()
    body = json_body(sd.NewEntry)
    text = check_text(body.text, services().settings.max_message_length)
    with services().db.transaction() as s:
        conv = access_conversation(s, user, public_id, lock=True)
        entry = do_post_entry(s, user, conv, text)
        return jsonify(entry_json(entry, users_by_id(s, [user.id]))), 201


@bp.get("/conversations/<public_id>/discussion/candidates")
@api("Who can be invited to the discussion or mentioned: the users who can see the conversation",
     sd.CandidateList)
def candidates(public_id: str) -> Response:
    user = api_user()
    with services().db.session() as s:
        conv = access_conversation(s, user, public_id)
        d = discussion_of(s, conv)
        members = set(member_ids(s, d)) if d is not None else set()
        users = sorted((u for u in users_who_can_see(s, conv.team_id) if can_see(u, conv)),
                       key=lambda u: u.name.lower())
        return jsonify({"users": [{"id": u.id, "name": u.name, "handle": handle_of(u), "member": u.id in members}
                                  for u in users]})


@bp.get("/mentions")
@api("The caller's @mentions, unread first", sd.MentionList)
def mentions() -> Response:
    user = api_user()
    with services().db.session() as s:
        return jsonify({"mentions": mentions_of(s, user), "unread": unread_count(s, user)})


@bp.post("/mentions/<int:mention_id>/read")
@api("Mark a mention read", sd.MentionOut)
def read(mention_id: int) -> Response:
    user = api_user()
    with services().db.transaction() as s:
        do_mark_mention_read(s, user, mention_id)
    with services().db.session() as s:
        return jsonify(mentions_of(s, user, [mention_id])[0])


def register(app: Flask) -> None:
    """The API, and the commit writer that posts transfers, handoffs and closing into discussions."""
    app.register_blueprint(bp)
    db = app.extensions["parley"].db
    if post_system_entries not in db.writers:
        db.writers.append(post_system_entries)
