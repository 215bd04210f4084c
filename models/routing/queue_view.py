"""The supervisors' Queue view: per team, who waits (place, time waited, whom it is offered to) and the
team's agents with their load and availability, so a supervisor can see where to send a waiting chat.

Places are the team's real queue places (`queue_positions`), counted over every waiting chat; a
restricted chat the supervisor may not see keeps its place but is not listed (nothing about it leaks,
and the places shown are the ones the customers are told).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from models.conversations.roles import is_supervisor
from models.conversations.visibility import can_see
from models.errors import Forbidden, NotFound
from models.routing.availability import active_chats, capacity_of
from models.routing.queue import queue_positions, queue_select
from models.schema.accounts import Team, TeamMember, User
from models.schema.conversations import Assignment, Conversation
from models.schema.routing import Offer, OfferStatus


@dataclass(frozen=True)
class Waiting:
    conversation: Conversation
    position: int
    waiting_seconds: int
    offered_to: User | None  # an offer is out to this agent (phase `assigning`)
    offer_expires_at: datetime | None


@dataclass(frozen=True)
class AgentLoad:
    user: User
    active_chats: int  # open chats assigned to them, plus chats offered to them
    capacity: int

    @property
    def at_capacity(self) -> bool:
        return self.active_chats >= self.capacity


@dataclass(frozen=True)
class TeamQueue:
    team: Team
    waiting: list[Waiting]
    agents: list[AgentLoad]


def check_may_supervise(user: User) -> None:
    if not is_supervisor(user):
        raise Forbidden("Only supervisors and admins see the queues.")


def waited_seconds(conv: Conversation, now: datetime) -> int:
    since = conv.queued_at or conv.handed_off_at or conv.created_at
    return max(0, int((now - since).total_seconds()))


def team_waiting(session: Session, user: User, team_id: int, now: datetime) -> list[Waiting]:
    """The team's queue, longest-waiting first, as far as `user` may see it."""
    positions = queue_positions(session, team_id)
    convs = [c for c in session.scalars(queue_select(team_id).options(
        selectinload(Conversation.contact), selectinload(Conversation.team),
        selectinload(Conversation.assignments).selectinload(Assignment.user))) if can_see(user, c)]
    offers = {o.conversation_id: o for o in session.scalars(
        select(Offer).where(Offer.conversation_id.in_([c.id for c in convs]),
                            Offer.status == OfferStatus.PENDING.value).order_by(Offer.id))}
    users = {u.id: u for u in session.scalars(select(User).where(User.id.in_({o.user_id for o in offers.values()})))}
    out = []
    for c in convs:
        offer = offers.get(c.id)
        out.append(Waiting(c, positions[c.id], waited_seconds(c, now), users.get(offer.user_id) if offer else None,
                           offer.expires_at if offer else None))
    return out


def team_agents(session: Session, team_id: int) -> list[AgentLoad]:
    """The team's active members with their load (`active_chats`) and capacity."""
    members = list(session.scalars(select(User).join(TeamMember, TeamMember.user_id == User.id)
                                   .where(TeamMember.team_id == team_id, User.active.is_(True))
                                   .order_by(User.name, User.id)))
    loads = active_chats(session, [m.id for m in members])
    return [AgentLoad(m, loads[m.id], capacity_of(m)) for m in members]


def supervisor_queues(session: Session, user: User, team_id: int | None, now: datetime) -> list[TeamQueue]:
    """Every team's queue (or one team's: 404 if there is no such team), for supervisors and admins."""
    check_may_supervise(user)
    teams: Sequence[Team]
    if team_id is not None:
        team = session.get(Team, team_id)
        if team is None:
            raise NotFound("No such team.")
        teams = [team]
    else:
        teams = list(session.scalars(select(Team).order_by(Team.name, Team.id)))
    return [TeamQueue(t, team_waiting(session, user, t.id, now), team_agents(session, t.id)) for t in teams]
