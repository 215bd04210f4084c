"""Team management under /api/v1/teams: list (everyone: the console's pickers use it), and for admins
create, rename, archive and set the members. A team's routing settings are `PATCH /teams/{id}/routing`
(console/api/routing.py), its hours and canned replies console/api/workspace.py's."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from console.api.declare import api, json_body, query_args
from console.api.schemas import teams as st
from console.auth import api_user
from console.serialize import iso, user_brief
from console.services import services
from models.accounts.admin import require_admin
from models.accounts.teams import access_team, do_archive_team, do_create_team, do_rename_team, do_set_members
from models.routing.settings import team_settings
from models.schema.accounts import Team, TeamMember, User
from models.schema.conversations import Conversation, Status

bp = Blueprint("api_teams", __name__, url_prefix="/api/v1")


def teams_json(s: Session, teams: list[Team]) -> list[dict[str, Any]]:
    ids = [t.id for t in teams]
    members: dict[int, list[int]] = {i: [] for i in ids}
    for team_id, user_id in s.execute(select(TeamMember.team_id, TeamMember.user_id)
                                      .where(TeamMember.team_id.in_(ids)).order_by(TeamMember.user_id)):
        members[team_id].append(user_id)
    open_counts: dict[int, int] = {team_id: count for team_id, count in s.execute(
        select(Conversation.team_id, func.count(Conversation.id)).where(
            Conversation.team_id.in_(ids), Conversation.status == Status.OPEN.value)
        .group_by(Conversation.team_id))}
    return [{"id": t.id, "name": t.name, "archived": t.archived_at is not None, "archived_at": iso(t.archived_at),
             "member_ids": members[t.id], "open_conversations": int(open_counts.get(t.id, 0)),
             "routing": team_settings(s, t.id).json()} for t in teams]


def _one(team_id: int) -> Response:
    with services().db.session() as s:
        return jsonify(teams_json(s, [access_team(s, team_id)])[0])


@bp.get("/teams")
@api("Teams with their members, open conversations and routing settings", st.TeamList, query=st.TeamsQuery,
     description="Archived teams only with `archived=true`.")
def list_teams() -> Response:
    api_user()
    archived = query_args(st.TeamsQuery).archived
    with services().db.session() as s:
        stmt = select(Team).order_by(Team.id)
        if not archived:
            stmt = stmt.where(Team.archived_at.is_(None))
        return jsonify({"teams": teams_json(s, list(s.scalars(stmt)))})


@bp.post("/teams")
@api("Create a team (admins)", st.Team, status=201, body=st.NewTeam, errors=(403, 409))
def create_team() -> Any:
    actor = api_user()
    require_admin(actor)
    name = json_body(st.NewTeam).name
    with services().db.transaction() as s:
        team_id = do_create_team(s, actor, name).id
    return _one(team_id), 201


@bp.patch("/teams/<int:team_id>")
@api("Rename a team (admins)", st.Team, body=st.TeamPatch, errors=(403, 409))
def rename_team(team_id: int) -> Response:
    actor = api_user()
    require_admin(actor)
    name = json_body(st.TeamPatch).name
    with services().db.transaction() as s:
        do_rename_team(s, actor, team_id, name)
    return _one(team_id)


@bp.post("/teams/<int:team_id>/archive")
@api("Archive a team (admins)", st.Team, errors=(403, 409),
     description="Only when no open conversation is left in it (409 `open_conversations`); the default team, "
                 "where new conversations start, cannot be archived (409 `default_team`).")
def archive_team(team_id: int) -> Response:
    actor = api_user()
    require_admin(actor)
    with services().db.transaction() as s:
        do_archive_team(s, actor, team_id)
    return _one(team_id)


@bp.put("/teams/<int:team_id>/members")
@api("Set a team's members: exactly these users (admins)", st.Members, body=st.MembersIn, errors=(403, 409),
     description="Users who join or leave have their console sessions ended (their sockets were in the old "
                 "teams' rooms): they sign in again with the new teams.")
def set_members(team_id: int) -> Response:
    actor = api_user()
    require_admin(actor)
    user_ids = json_body(st.MembersIn).user_ids
    with services().db.transaction() as s:
        do_set_members(s, actor, team_id, user_ids)
    with services().db.session() as s:
        users = s.scalars(select(User).join(TeamMember, TeamMember.user_id == User.id)
                          .where(TeamMember.team_id == team_id).order_by(User.name))
        return jsonify({"team_id": team_id, "members": [user_brief(u) for u in users]})
