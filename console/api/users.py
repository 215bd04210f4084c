"""User management under /api/v1/users (admins write; admins and supervisors read) and the caller's own
profile under /api/v1/me (name and notification choices; the password is console/api/me.py's).

Inviting and password resets mail a one-time link (console/invitations.py): the link is stored and
committed first, then mailed; whether the mail server took it is in the answer.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from console import invitations
from console.api.declare import api, json_body, query_args
from console.api.schemas import users as su
from console.api.schemas.routing import changes as sent
from console.auth import api_user
from console.serialize import iso
from console.services import services
from models.accounts.admin import (
    NewUser,
    access_user,
    do_add_user,
    do_deactivate_user,
    do_reactivate_user,
    do_update_user,
    require_admin,
    require_manager,
    status_of,
    users_select,
)
from models.accounts.passwords import IssuedLink, Purpose, do_issue_password_link
from models.accounts.profile import do_update_profile, notifications_of
from models.errors import Conflict
from models.routing.availability import capacity_of
from models.schema.accounts import Team, User

bp = Blueprint("api_users", __name__, url_prefix="/api/v1")


def user_json(s: Session, user: User, names: dict[int, str] | None = None) -> dict[str, Any]:
    names = names if names is not None else {tid: name for tid, name in s.execute(select(Team.id, Team.name))}
    return {"id": user.id, "email": user.email, "name": user.name, "role": user.role, "status": status_of(user),
            "teams": [{"id": t, "name": names.get(t, "")} for t in sorted(user.team_ids)],
            "capacity": capacity_of(user), "capacity_override": user.capacity,
            "availability": user.availability, "created_at": iso(user.created_at),
            "invited_at": iso(user.invited_at), "deactivated_at": iso(user.deactivated_at)}


def _mail_link(user_id: int, link: IssuedLink, base: str, inviter: str) -> invitations.MailOutcome:
    settings = services().settings
    with services().db.session() as s:
        user = s.get(User, user_id)
        assert user is not None  # committed a moment ago
        mail = invitations.compose(settings, to=user.email, name=user.name, url=invitations.link_url(base, link),
                                   link=link, inviter=inviter)
    return invitations.deliver(settings, mail)


@bp.get("/users")
@api("Users: search by name or email, filter by role, status and team", su.UserList, query=su.UsersQuery,
     errors=(403,), description="Everyone signed in gets the users who are not deactivated (the people a chat can "
                                "be assigned to); invited and deactivated users (`status`) only admins and "
                                "supervisors.")
def list_users() -> Response:
    actor = api_user()
    q = query_args(su.UsersQuery)
    if q.status not in (None, "active"):
        require_manager(actor)
    stmt = users_select(q.q, q.role, q.status, q.team_id)
    with services().db.session() as s:
        total = s.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
        names = {tid: name for tid, name in s.execute(select(Team.id, Team.name))}
        rows = s.scalars(stmt.limit(q.limit).offset(q.offset)).all()
        return jsonify({"users": [user_json(s, u, names) for u in rows], "total": total})


@bp.post("/users")
@api("Create a user with a password, or invite one by email (admins)", su.UserCreated, status=201,
     body=su.NewUser, errors=(403, 409),
     description="Without `password` the user is invited: a one-time link to choose a password (valid 72 h) "
                 "is mailed to them through PARLEY_SMTP_URL (409 `mail_not_configured` without it). The user "
                 "exists as soon as this answers; `invitation.sent` says whether the mail server took the mail "
                 "(if not, send a new link with `POST /users/{id}/password-reset`).")
def create_user() -> Any:
    actor = api_user()
    require_admin(actor)
    body = json_body(su.NewUser)
    settings = services().settings
    base = link = None
    with services().db.transaction() as s:
        user = do_add_user(s, actor, NewUser(
            email=body.email, name=body.name, role=body.role, capacity=body.capacity, password=body.password,
            team_ids=tuple(body.team_ids) if body.team_ids is not None else None))
        if body.password is None:  # after the input checks (a 400 first), before anything is committed
            invitations.require_mail(settings)
            base = invitations.base_url(settings, request.host_url)
            link = do_issue_password_link(s, user, Purpose.INVITE, actor=actor)
        user_id = user.id
    invitation = None
    if link is not None and base is not None:
        outcome = _mail_link(user_id, link, base, actor.name)
        invitation = {**outcome.json(), "expires_at": iso(link.expires_at)}
    with services().db.session() as s:
        return jsonify({**user_json(s, access_user(s, actor, user_id)), "invitation": invitation}), 201


@bp.get("/users/<int:user_id>")
@api("One user (admins and supervisors)", su.User, errors=(403,))
def get_user(user_id: int) -> Response:
    actor = api_user()
    with services().db.session() as s:
        return jsonify(user_json(s, access_user(s, actor, user_id)))


@bp.patch("/users/<int:user_id>")
@api("Edit a user's name, role, teams or capacity (admins)", su.User, body=su.UserPatch, errors=(403, 409),
     description="A role or team change ends the user's console sessions (they sign in again with the new "
                 "rights) and closes the sockets opened with their API tokens. The last active admin cannot "
                 "be demoted (409 `last_admin`).")
def update_user(user_id: int) -> Response:
    actor = api_user()
    require_admin(actor)
    changes = sent(json_body(su.UserPatch))
    for key in ("name", "role", "team_ids"):
        if key in changes and changes[key] is None:
            changes.pop(key)  # null: leave it as it is (only capacity has a meaning for null)
    with services().db.transaction() as s:
        do_update_user(s, actor, user_id, changes)
    with services().db.session() as s:
        return jsonify(user_json(s, access_user(s, actor, user_id)))


def _state_change(user_id: int, action: Any) -> Response:
    actor = api_user()
    require_admin(actor)
    with services().db.transaction() as s:
        action(s, actor, user_id)
    with services().db.session() as s:
        return jsonify(user_json(s, access_user(s, actor, user_id)))


@bp.post("/users/<int:user_id>/deactivate")
@api("Deactivate a user (admins): they cannot sign in, and their sessions, API tokens and sockets end now",
     su.User, errors=(403, 409), description="409 `last_admin` for the last active admin, "
                                              "`already_deactivated` when they are.")
def deactivate_user(user_id: int) -> Response:
    return _state_change(user_id, do_deactivate_user)


@bp.post("/users/<int:user_id>/reactivate")
@api("Reactivate a user (admins): they may sign in again", su.User, errors=(403, 409))
def reactivate_user(user_id: int) -> Response:
    return _state_change(user_id, do_reactivate_user)


@bp.post("/users/<int:user_id>/password-reset")
@api("Mail a user a one-time link to choose a new password (admins)", su.PasswordLinkSent,
     errors=(403, 409), description="Valid 2 h (72 h, as an invitation, for a user who never chose a password); "
                                    "earlier links of theirs stop working. Their password stays until the link "
                                    "is used. 409 for a deactivated user or without PARLEY_SMTP_URL.")
def password_reset(user_id: int) -> Response:
    actor = api_user()
    require_admin(actor)
    settings = services().settings
    invitations.require_mail(settings)
    base = invitations.base_url(settings, request.host_url)
    with services().db.transaction() as s:
        user = access_user(s, actor, user_id)
        if not user.active:
            raise Conflict(f"{user.email} is deactivated: reactivate them first.", code="deactivated")
        purpose = Purpose.INVITE if user.invited_at is not None else Purpose.RESET
        link = do_issue_password_link(s, user, purpose, actor=actor)
    outcome = _mail_link(user_id, link, base, actor.name)
    return jsonify({"purpose": purpose.value, "expires_at": iso(link.expires_at), "mail": outcome.json()})


def _me_json(s: Session, user: User) -> dict[str, Any]:
    names = {tid: name for tid, name in s.execute(select(Team.id, Team.name).where(Team.id.in_(user.team_ids)))}
    return {"id": user.id, "email": user.email, "name": user.name, "role": user.role,
            "availability": user.availability, "teams": [{"id": t, "name": names[t]} for t in sorted(names)],
            "notifications": notifications_of(user)}


@bp.get("/me")
@api("The caller: name, role, teams, availability and notification choices", su.Me)
def get_me() -> Response:
    user = api_user()
    with services().db.session() as s:
        me = s.get(User, user.id)
        assert me is not None
        return jsonify(_me_json(s, me))


@bp.patch("/me")
@api("Change the caller's own name or notification choices", su.Me, body=su.MePatch)
def update_me() -> Response:
    user = api_user()
    body = json_body(su.MePatch)
    changes: dict[str, Any] = {}
    if body.name is not None:
        changes["name"] = body.name
    if body.notifications is not None:
        changes["notifications"] = body.notifications.model_dump(exclude_none=True)
    with services().db.transaction() as s:
        me = s.get(User, user.id)
        assert me is not None
        do_update_profile(s, me, changes)
        return jsonify(_me_json(s, me))
