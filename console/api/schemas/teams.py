"""Shapes of team management (console/api/teams.py)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from console.api.schemas.common import Id, In, Out, Strict, Timestamp, UserBrief
from console.api.schemas.routing import TeamRouting

TeamName = Annotated[str, Field(min_length=1, max_length=120)]


class Team(Out):
    id: int
    name: str
    archived: bool
    archived_at: Timestamp
    member_ids: list[int]
    open_conversations: int
    routing: TeamRouting


class TeamList(Out):
    teams: list[Team]


class TeamsQuery(In):
    archived: bool = Field(False, description="true: archived teams too")


class NewTeam(Strict):
    name: TeamName


class TeamPatch(Strict):
    name: TeamName


class MembersIn(Strict):
    user_ids: Annotated[list[Id], Field(max_length=1000)]


class Members(Out):
    team_id: int
    members: list[UserBrief]
