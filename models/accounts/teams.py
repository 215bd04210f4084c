"""Teams: the default team every conversation starts in, and membership."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.schema.accounts import Team, TeamMember, User

DEFAULT_TEAM_NAME = "Support"


def default_team(session: Session) -> Team:
    team = session.scalar(select(Team).order_by(Team.id).limit(1))
    if team is None:
        team = Team(name=DEFAULT_TEAM_NAME)
        session.add(team)
        session.flush()
    return team


def do_add_member(session: Session, team: Team, user: User) -> None:
    if session.get(TeamMember, (team.id, user.id)) is None:
        session.add(TeamMember(team_id=team.id, user_id=user.id))
        session.flush()
