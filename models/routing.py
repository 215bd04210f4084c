"""Routing: team queues, agent availability and capacity, assignment policies, offer and accept.

A handed-off conversation waits in its team's queue (`phase = waiting`). `route_some` gives the
longest-waiting one that somebody can take to an available agent with room, chosen by the team's
policy (`least_loaded`, `round_robin`; `manual` leaves the queue to the agents, who take from it with
`do_accept`). With offer and accept on, the chat is offered first (`assigning`) and must be accepted
before its offer timer fires, else it is offered to the next agent.

Concurrency. "First to take it wins" and "capacity is never exceeded" hold under any interleaving:
each change locks the conversation row and then the agent's user row (always in that order, so no
deadlock), and counts the agent's chats only after the agent's row is locked. On PostgreSQL these are
row locks (`FOR UPDATE SKIP LOCKED` over the queue, so several routers share it); SQLite has no row
locks, so `serialize` takes the database's write lock at the start of the transaction instead.

Everything takes `now`, so tests (and the timer runner) decide what time it is.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, select, text, update
from sqlalchemy.orm import Session

from models import actions, team_workspace, visibility
from models.db import Database, publish_on_commit
from models.errors import Conflict, Forbidden, InvalidInput, InvalidState, NotFound
from models.events import MessageCreated
from models.routing_events import (
    AgentAvailabilityChanged,
    AutoAssigned,
    ConversationOffered,
    ConversationQueued,
    ConversationRestricted,
    OfferEnded,
)
from models.routing_schema import (
    DEFAULT_CLOSING_MESSAGE,
    DEFAULT_QUEUE_MESSAGE,
    ContactPreset,
    Offer,
    OfferStatus,
    Policy,
    PresetKind,
    TeamRouting,
    Timer,
    TimerKind,
    Transfer,
    TransferStatus,
)
from models.schema import (
    Assignment,
    AuditEvent,
    Availability,
    Channel,
    Contact,
    Conversation,
    DeliveryStatus,
    Direction,
    Message,
    Owner,
    Phase,
    SenderType,
    Status,
    Team,
    TeamMember,
    User,
    utcnow,
)

DEFAULT_CAPACITY = 3
# An agent whose consoles have all been closed this long is set offline.
OFFLINE_AFTER = timedelta(minutes=5)
QUEUE_SCAN = 50  # waiting conversations looked at per routing step
MAX_TIMEOUT = 30 * 24 * 3600


# --- serialisation ----------------------------------------------------------------------------------


def serialize(session: Session) -> None:
    """SQLite: take the write lock now, so what this transaction reads stays true until it commits.

    PostgreSQL needs nothing here: the row locks taken below do the job, per row. A no-op UPDATE is
    the portable way to make pysqlite begin the transaction and SQLite grant the write lock (waiting
    up to its busy timeout for another writer to finish).
    """
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text("UPDATE teams SET name = name WHERE id = -1"))


def lock_conversation(session: Session, conversation_id: int) -> Conversation | None:
    return session.scalar(select(Conversation).where(Conversation.id == conversation_id)
                          .with_for_update().execution_options(populate_existing=True))


def lock_user(session: Session, user_id: int) -> User | None:
    # FOR NO KEY UPDATE: excludes other routers and availability changes, not inserts that merely
    # reference the user (an assignment made by a supervisor meanwhile).
    return session.scalar(select(User).where(User.id == user_id).with_for_update(key_share=True)
                          .execution_options(populate_existing=True))


def access_locked(session: Session, user: User, public_id: str) -> Conversation:
    """The conversation, locked and freshly read, if `user` may see it (else 404, as unknown)."""
    serialize(session)
    conv = session.scalar(select(Conversation).where(Conversation.public_id == public_id)
                          .with_for_update().execution_options(populate_existing=True))
    if conv is None or not visibility.can_see(user, conv):
        raise NotFound("No such conversation.")
    return conv


# --- team settings ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TeamSettings:
    team_id: int
    policy: str = Policy.LEAST_LOADED.value
    offer_timeout_seconds: int | None = None
    transfer_timeout_seconds: int = 60
    idle_timeout_seconds: int | None = 3600
    waiting_timeout_seconds: int | None = 6 * 3600
    closing_message: str = DEFAULT_CLOSING_MESSAGE
    queue_message: str = DEFAULT_QUEUE_MESSAGE

    def json(self) -> dict[str, Any]:
        return {"policy": self.policy, "offer_timeout_seconds": self.offer_timeout_seconds,
                "transfer_timeout_seconds": self.transfer_timeout_seconds,
                "idle_timeout_seconds": self.idle_timeout_seconds,
                "waiting_timeout_seconds": self.waiting_timeout_seconds,
                "closing_message": self.closing_message, "queue_message": self.queue_message}


SETTING_FIELDS = ("policy", "offer_timeout_seconds", "transfer_timeout_seconds", "idle_timeout_seconds",
                  "waiting_timeout_seconds", "closing_message", "queue_message")


def team_settings(session: Session, team_id: int) -> TeamSettings:
    row = session.get(TeamRouting, team_id)
    if row is None:
        return TeamSettings(team_id)
    return TeamSettings(team_id, **{f: getattr(row, f) for f in SETTING_FIELDS})


def _seconds(name: str, value: Any, *, nullable: bool, minimum: int = 1) -> int | None:
    if value is None and nullable:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not minimum <= value <= MAX_TIMEOUT:
        off = " or null (off)" if nullable else ""
        raise InvalidInput(f"{name} must be a whole number of seconds from {minimum} to {MAX_TIMEOUT}{off}.")
    return value


def check_team_settings(body: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(body) - set(SETTING_FIELDS))
    if unknown:
        raise InvalidInput(f"Unknown setting(s): {', '.join(unknown)}.")
    out: dict[str, Any] = {}
    for name, value in body.items():
        if name == "policy":
            if value not in {p.value for p in Policy}:
                raise InvalidInput("policy must be one of: manual, round_robin, least_loaded.")
            out[name] = value
        elif name in ("closing_message", "queue_message"):
            if not isinstance(value, str) or len(value) > 1000:
                raise InvalidInput(f"{name} must be a text of at most 1000 characters (\"\" sends nothing).")
            out[name] = value.strip()
        elif name == "transfer_timeout_seconds":
            out[name] = _seconds(name, value, nullable=False, minimum=5)
        else:
            out[name] = _seconds(name, value, nullable=True, minimum=5)
    return out


def do_update_team_settings(session: Session, actor: User, team_id: int, changes: dict[str, Any]) -> TeamSettings:
    if actor.role != "admin":
        raise Forbidden("Only admins change a team's routing.")
    if session.get(Team, team_id) is None:
        raise NotFound("No such team.")
    row = session.get(TeamRouting, team_id)
    if row is None:
        row = TeamRouting(team_id=team_id, **{k: v for k, v in TeamSettings(team_id).json().items()})
        session.add(row)
    for name, value in changes.items():
        setattr(row, name, value)
    row.updated_at = utcnow()
    session.flush()
    actions.audit(session, "team.routing_changed", actor=actor, team_id=team_id, changes=changes)
    return team_settings(session, team_id)


# --- availability and capacity -----------------------------------------------------------------------


def check_availability(value: Any) -> str:
    if value not in {a.value for a in Availability}:
        raise InvalidInput("status must be one of: online, away, offline.")
    return str(value)


def do_set_availability(session: Session, user_id: int, status: str, *, now: datetime,
                        automatic: bool = False) -> bool:
    """Set what the agent chose (or, `automatic`, what presence decided). Returns whether it changed."""
    serialize(session)
    user = lock_user(session, user_id)
    if user is None:
        raise NotFound("No such user.")
    previous = user.availability
    if not automatic:
        user.auto_offline_from = None
        user.console_seen_at = now  # a sign of life: the 5 minutes without a console start now
    if previous == status:
        return False
    user.availability = status
    actions.audit(session, "agent.availability", actor=None if automatic else user, user_id=user.id,
                  availability=status, previous=previous, automatic=automatic)
    publish_on_commit(session, AgentAvailabilityChanged(user.id, status, previous, automatic))
    return True


def do_console_seen(session: Session, user_ids: Iterable[int], now: datetime) -> None:
    """A heartbeat for users with a console open in this process."""
    ids = list(user_ids)
    if ids:
        session.execute(update(User).where(User.id.in_(ids)).values(console_seen_at=now))


def do_console_connected(session: Session, user_id: int, now: datetime) -> None:
    """A console connected: if presence had set the agent offline, give back what they had chosen."""
    serialize(session)
    user = lock_user(session, user_id)
    if user is None:
        return
    user.console_seen_at = now
    restore = user.auto_offline_from
    if restore and user.availability == Availability.OFFLINE.value:
        user.auto_offline_from = None
        do_set_availability(session, user_id, restore, now=now, automatic=True)


def do_sweep_disconnected(session: Session, now: datetime, after: timedelta = OFFLINE_AFTER) -> list[int]:
    """Agents (not offline) with no console seen for `after`: set offline, remembering their choice."""
    serialize(session)
    cutoff = now - after
    users = list(session.scalars(
        select(User).where(User.availability != Availability.OFFLINE.value,
                           (User.console_seen_at.is_(None)) | (User.console_seen_at < cutoff))
        .with_for_update(skip_locked=True, key_share=True).limit(200)))
    for user in users:
        chosen = user.availability
        do_set_availability(session, user.id, Availability.OFFLINE.value, now=now, automatic=True)
        user.auto_offline_from = chosen
    return [u.id for u in users]


def capacity_of(user: User) -> int:
    return user.capacity if user.capacity is not None else DEFAULT_CAPACITY


def check_capacity(value: Any) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 100:
        raise InvalidInput("capacity must be a whole number from 0 to 100, or null for the default (3).")
    return value


def do_set_capacity(session: Session, actor: User, user_id: int, capacity: int | None) -> User:
    if actor.role != "admin":
        raise Forbidden("Only admins change an agent's capacity.")
    serialize(session)
    user = lock_user(session, user_id)
    if user is None:
        raise NotFound("No such user.")
    user.capacity = capacity
    actions.audit(session, "agent.capacity", actor=actor, user_id=user_id, capacity=capacity)
    return user


def active_chats(session: Session, user_ids: Sequence[int]) -> dict[int, int]:
    """Open conversations assigned to each user, plus chats offered to them and not yet answered."""
    out = dict.fromkeys(user_ids, 0)
    if not user_ids:
        return out
    assigned = session.execute(
        select(Assignment.user_id, func.count()).join(Conversation, Conversation.id == Assignment.conversation_id)
        .where(Assignment.user_id.in_(user_ids), Conversation.status == Status.OPEN.value)
        .group_by(Assignment.user_id)).all()
    offered = session.execute(
        select(Offer.user_id, func.count()).join(Conversation, Conversation.id == Offer.conversation_id)
        .where(Offer.user_id.in_(user_ids), Offer.status == OfferStatus.PENDING.value,
               Conversation.status == Status.OPEN.value, Conversation.phase == Phase.ASSIGNING.value)
        .group_by(Offer.user_id)).all()
    for uid, n in [*assigned, *offered]:
        out[uid] += n
    return out


# --- the queue ------------------------------------------------------------------------------------------


def queued_since() -> ColumnElement[Any]:
    return func.coalesce(Conversation.queued_at, Conversation.handed_off_at, Conversation.created_at)


def waiting_in(team_id: int) -> ColumnElement[bool]:
    return and_(Conversation.team_id == team_id, Conversation.status == Status.OPEN.value,
                Conversation.owner == Owner.HUMAN.value, Conversation.phase == Phase.WAITING.value)


def in_queue(team_id: int) -> ColumnElement[bool]:
    """Waiting, or offered and not yet accepted: both still hold a place in the queue."""
    return and_(Conversation.team_id == team_id, Conversation.status == Status.OPEN.value,
                Conversation.owner == Owner.HUMAN.value,
                Conversation.phase.in_((Phase.WAITING.value, Phase.ASSIGNING.value)))


def queue_select(team_id: int) -> Select[Any]:
    return select(Conversation).where(in_queue(team_id)).order_by(queued_since(), Conversation.id)


def queue_positions(session: Session, team_id: int) -> dict[int, int]:
    """1-based places in the team's queue, longest-waiting first."""
    ids = session.scalars(select(Conversation.id).where(in_queue(team_id)).order_by(queued_since(), Conversation.id))
    return {cid: i for i, cid in enumerate(ids, start=1)}


@dataclass(frozen=True)
class WaitBasis:
    """What a team's wait estimate rests on: recent waits, and the agents online now."""

    mean_wait_seconds: float | None
    online_agents: int

    def estimate(self, position: int) -> int | None:
        """Seconds: the recent mean wait, once per "round" of online agents ahead of this place.
        None when nobody left the queue lately (no basis for a figure; the widget shows the place)."""
        if self.mean_wait_seconds is None:
            return None
        rounds = math.ceil(position / max(1, self.online_agents))
        return max(1, round(self.mean_wait_seconds * rounds))


def wait_basis(session: Session, team_id: int, now: datetime) -> WaitBasis:
    """The mean wait of the last 20 conversations that left this team's queue in the past day."""
    rows = session.scalars(
        select(AuditEvent.data).where(AuditEvent.kind == "routing.assigned",
                                      AuditEvent.created_at >= now - timedelta(days=1))
        .order_by(AuditEvent.id.desc()).limit(200))
    waits = [float(d["waited_seconds"]) for d in rows
             if isinstance(d, dict) and d.get("team_id") == team_id and "waited_seconds" in d][:20]
    online = session.scalar(
        select(func.count()).select_from(TeamMember).join(User, User.id == TeamMember.user_id)
        .where(TeamMember.team_id == team_id, User.active.is_(True),
               User.availability == Availability.ONLINE.value)) or 0
    return WaitBasis(sum(waits) / len(waits) if waits else None, online)


@dataclass(frozen=True)
class QueueOutlook:
    """What a customer waiting in a team's queue is told: an estimated wait while the team is open,
    and when it opens (in the team's timezone) while it is closed (`models/team_workspace.py`)."""

    basis: WaitBasis
    hours: team_workspace.HoursState

    def fields(self, position: int) -> dict[str, Any]:
        """`estimated_wait_seconds` (None while closed); for a team with hours, also `team_open` and,
        while closed, `opens_at` (ISO, UTC) and `opens_at_text` (in the team's timezone)."""
        h = self.hours
        out: dict[str, Any] = {"estimated_wait_seconds": self.basis.estimate(position) if h.open_now else None}
        if not h.always_open:
            out.update(team_open=h.open_now, opens_at=h.next_opening.isoformat() if h.next_opening else None,
                       opens_at_text=h.next_opening_text)
        return out


def queue_outlook(session: Session, team_id: int, now: datetime) -> QueueOutlook:
    return QueueOutlook(wait_basis(session, team_id, now), team_workspace.team_hours_state(session, team_id, now)[1])


# --- choosing an agent ------------------------------------------------------------------------------------


@dataclass
class _Candidate:
    user_id: int
    load: int
    capacity: int
    last_routed_at: datetime | None


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _pool(session: Session, team_id: int, user_ids: Sequence[int] | None = None) -> list[_Candidate]:
    """Online active agents with room: the team's members, or exactly `user_ids` (a contact preset)."""
    last = (select(TeamMember.last_routed_at).where(TeamMember.team_id == team_id, TeamMember.user_id == User.id)
            .correlate(User).scalar_subquery())
    stmt = select(User.id, User.capacity, last).where(
        User.active.is_(True), User.availability == Availability.ONLINE.value)
    if user_ids is None:
        stmt = stmt.join(TeamMember, TeamMember.user_id == User.id).where(TeamMember.team_id == team_id)
    else:
        stmt = stmt.where(User.id.in_(user_ids))
    rows = session.execute(stmt).all()
    loads = active_chats(session, [r[0] for r in rows])
    out = []
    for uid, cap, last_routed in rows:
        capacity = cap if cap is not None else DEFAULT_CAPACITY
        if loads[uid] < capacity:
            out.append(_Candidate(uid, loads[uid], capacity, last_routed))
    return out


def _ordered(cands: list[_Candidate], policy: str, tried: dict[int, datetime]) -> list[_Candidate]:
    """Policy order; agents who already let this chat's offer expire come last, oldest offer first."""
    def key(c: _Candidate) -> tuple[Any, ...]:
        previously = tried.get(c.user_id)
        first = (1, previously) if previously else (0, _EPOCH)
        rr = c.last_routed_at or _EPOCH
        if policy == Policy.ROUND_ROBIN.value:
            return (*first, rr, c.user_id)
        return (*first, c.load, rr, c.user_id)
    return sorted(cands, key=key)


def _offered_before(session: Session, conv: Conversation) -> dict[int, datetime]:
    since = conv.queued_at or conv.handed_off_at or conv.created_at
    rows = session.execute(select(Offer.user_id, func.max(Offer.created_at)).where(
        Offer.conversation_id == conv.id, Offer.created_at >= since,
        Offer.status != OfferStatus.ACCEPTED.value).group_by(Offer.user_id)).all()
    return {uid: at for uid, at in rows}


class _Claims:
    """Agents locked by this transaction, with their load counted once under the lock and then
    kept up to date here (nobody else can route to them until this transaction ends)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.users: dict[int, User | None] = {}
        self.loads: dict[int, int] = {}

    def lock(self, user_id: int) -> User | None:
        if user_id not in self.users:
            user = lock_user(self.session, user_id)
            ok = user is not None and user.active and user.availability == Availability.ONLINE.value
            self.users[user_id] = user if ok else None
            if ok:
                self.loads[user_id] = active_chats(self.session, [user_id])[user_id]
        return self.users[user_id]

    def room(self, user: User) -> bool:
        return self.loads[user.id] < capacity_of(user)

    def took(self, user: User) -> None:
        self.loads[user.id] += 1


def _claim_agent(claims: _Claims, conv: Conversation, cands: list[_Candidate]) -> User | None:
    """The first candidate who, with their row locked, is still online, may see it and has room."""
    for cand in cands:
        user = claims.lock(cand.user_id)
        if user is None or not claims.room(user) or not visibility.can_see(user, conv):
            continue
        return user
    return None


@dataclass(frozen=True)
class Routed:
    conversation_id: int
    user_id: int
    offered: bool


ROUTE_BATCH = 10  # chats given per transaction: fewer commits, and still an early first notification


def route_some(session: Session, team_id: int, now: datetime, limit: int = ROUTE_BATCH) -> list[Routed]:
    """Give the team's longest-waiting conversations that someone can take to agents, in order.

    Returns what was routed (empty when nothing more can be routed now: empty queue, nobody
    available with room, or a manual team without contact presets).
    """
    serialize(session)
    settings = team_settings(session, team_id)
    manual = settings.policy == Policy.MANUAL.value
    team_pool = [] if manual else _pool(session, team_id)  # manual: agents take chats themselves
    rows = session.execute(select(Conversation.id, Conversation.contact_id).where(waiting_in(team_id))
                           .order_by(queued_since(), Conversation.id).limit(QUEUE_SCAN)).all()
    with_presets = set(session.scalars(select(ContactPreset.contact_id).where(
        ContactPreset.contact_id.in_({r[1] for r in rows}), ContactPreset.kind == PresetKind.ASSIGN.value)))
    claims = _Claims(session)
    routed: list[Routed] = []
    idle_timers: list[tuple[str, int, datetime, int]] = []
    for cid, contact_id in rows:
        if len(routed) >= limit:
            break
        if contact_id not in with_presets and not team_pool:
            continue
        conv = session.scalar(select(Conversation).where(Conversation.id == cid, waiting_in(team_id))
                              .with_for_update(skip_locked=True).execution_options(populate_existing=True))
        if conv is None:
            continue  # taken meanwhile, or another router holds it
        preset = visibility.presets_of(session, contact_id)[PresetKind.ASSIGN.value] \
            if contact_id in with_presets else []
        pool = _pool(session, team_id, preset) if preset else team_pool
        tried = _offered_before(session, conv) if settings.offer_timeout_seconds else {}
        user = _claim_agent(claims, conv, _ordered(pool, settings.policy, tried)) if pool else None
        if user is None:
            continue
        claims.took(user)
        for cand in pool:  # keep the policy's order true for the rest of this batch
            if cand.user_id == user.id:
                cand.load += 1
                cand.last_routed_at = now
        if settings.offer_timeout_seconds:
            _offer(session, conv, user, now, settings.offer_timeout_seconds)
        else:
            _give(session, conv, user, now, via=settings.policy if not preset else "contact_preset",
                  settings=settings, timers=idle_timers)
        routed.append(Routed(conv.id, user.id, offered=bool(settings.offer_timeout_seconds)))
    from models.timers import arm_many

    arm_many(session, idle_timers)
    return routed


def drain(db: Database, team_id: int, now: datetime | None = None, max_rounds: int = 200) -> list[Routed]:
    """Route the team's queue until nothing more can be routed, a short transaction per batch."""
    routed: list[Routed] = []
    for _ in range(max_rounds):
        with db.transaction() as s:
            batch = route_some(s, team_id, now or utcnow())
        routed += batch
        if not batch:
            break
    return routed


def teams_with_waiting(session: Session) -> list[int]:
    return list(session.scalars(select(Conversation.team_id).where(
        Conversation.status == Status.OPEN.value, Conversation.owner == Owner.HUMAN.value,
        Conversation.phase == Phase.WAITING.value).distinct()))


def teams_of(session: Session, user_ids: Iterable[int]) -> set[int]:
    ids = list(user_ids)
    if not ids:
        return set()
    return set(session.scalars(select(TeamMember.team_id).where(TeamMember.user_id.in_(ids))))


# --- giving, offering, accepting -----------------------------------------------------------------------------


def _waited(conv: Conversation, now: datetime) -> float:
    since = conv.queued_at or conv.handed_off_at or conv.created_at
    return max(0.0, (now - since).total_seconds())


def _give(session: Session, conv: Conversation, user: User, now: datetime, *, via: str,
          settings: TeamSettings | None = None, timers: list[tuple[str, int, datetime, int]] | None = None) -> None:
    """Assign to `user` as routing (no actor), and start the idle clock."""
    from models.timers import arm_conversation_timers

    waited = _waited(conv, now)
    actions._set_assignees(session, None, conv, [user.id])
    session.execute(update(TeamMember).where(TeamMember.team_id == conv.team_id, TeamMember.user_id == user.id)
                    .values(last_routed_at=now))
    actions.audit(session, "routing.assigned", conversation=conv, user_id=user.id, team_id=conv.team_id,
                  via=via, waited_seconds=round(waited, 3))
    publish_on_commit(session, AutoAssigned(conv.id, conv.team_id, conv.contact_id, user.id))
    arm_conversation_timers(session, conv, now, settings, collect=timers)


def _offer(session: Session, conv: Conversation, user: User, now: datetime, timeout: int) -> Offer:
    from models.timers import arm

    offer = Offer(conversation_id=conv.id, user_id=user.id, created_at=now,
                  expires_at=now + timedelta(seconds=timeout))
    session.add(offer)
    conv.phase = Phase.ASSIGNING.value
    session.execute(update(TeamMember).where(TeamMember.team_id == conv.team_id, TeamMember.user_id == user.id)
                    .values(last_routed_at=now))
    session.flush()
    arm(session, TimerKind.OFFER, conv.id, offer.expires_at, ref_id=offer.id)
    actions.audit(session, "routing.offered", conversation=conv, user_id=user.id, team_id=conv.team_id,
                  offer_id=offer.id, expires_at=offer.expires_at.isoformat())
    publish_on_commit(session, ConversationOffered(conv.id, conv.team_id, conv.contact_id, offer.id, user.id,
                                                   offer.expires_at.isoformat()))
    return offer


def pending_offer(session: Session, conv: Conversation) -> Offer | None:
    return session.scalar(select(Offer).where(Offer.conversation_id == conv.id,
                                              Offer.status == OfferStatus.PENDING.value)
                          .order_by(Offer.id.desc()).limit(1).with_for_update())


def do_accept(session: Session, user: User, public_id: str, now: datetime) -> str:
    """Accept the chat offered to `user`, or take a waiting one from the queue: first to take it wins.

    Returns "offer" or "queue". Raises Conflict when someone else has it (or it is offered to someone
    else), or when taking it would put the agent over capacity.
    """
    conv = access_locked(session, user, public_id)
    if conv.status != Status.OPEN.value:
        raise InvalidState("This conversation is closed.")
    if conv.owner != Owner.HUMAN.value:
        raise InvalidState("The bot has this conversation; it is not in a queue.", code="not_queued")
    if conv.phase == Phase.ASSIGNING.value:
        offer = pending_offer(session, conv)
        if offer is not None and offer.user_id != user.id:
            raise Conflict("This chat is offered to someone else right now.", code="offered_to_other")
        if offer is not None:
            offer.status = OfferStatus.ACCEPTED.value
            offer.decided_at = now
            publish_on_commit(session, OfferEnded(conv.id, conv.team_id, conv.contact_id, offer.id, user.id,
                                                  OfferStatus.ACCEPTED.value))
            locked = lock_user(session, user.id)
            assert locked is not None
            actions.audit(session, "routing.offer_accepted", actor=user, conversation=conv, offer_id=offer.id)
            _give(session, conv, locked, now, via="offer")
            return "offer"
        conv.phase = Phase.WAITING.value  # a stale offer: treat it as waiting
    if conv.phase != Phase.WAITING.value or conv.assignments:
        raise Conflict("Someone has already taken this chat.", code="taken")
    locked = lock_user(session, user.id)
    assert locked is not None
    if active_chats(session, [user.id])[user.id] >= capacity_of(locked):
        raise Conflict(f"You are at your capacity ({capacity_of(locked)} active chats); close one first.",
                       code="at_capacity")
    actions.audit(session, "routing.taken", actor=user, conversation=conv)
    _give(session, conv, locked, now, via="taken")
    return "queue"


def do_expire_offer(session: Session, offer_id: int, now: datetime) -> bool:
    """The offer's time is up: back to the queue in its place (then routed to the next agent)."""
    offer = session.scalar(select(Offer).where(Offer.id == offer_id).with_for_update()
                           .execution_options(populate_existing=True))
    if offer is None or offer.status != OfferStatus.PENDING.value:
        return False
    conv = lock_conversation(session, offer.conversation_id)
    assert conv is not None
    still_offered = conv.status == Status.OPEN.value and conv.phase == Phase.ASSIGNING.value
    offer.status = (OfferStatus.EXPIRED if still_offered else OfferStatus.WITHDRAWN).value
    offer.decided_at = now
    publish_on_commit(session, OfferEnded(conv.id, conv.team_id, conv.contact_id, offer.id, offer.user_id,
                                          offer.status))
    if still_offered:
        conv.phase = Phase.WAITING.value
        actions.audit(session, "routing.offer_expired", conversation=conv, user_id=offer.user_id,
                      offer_id=offer.id)
        publish_on_commit(session, ConversationQueued(conv.id, conv.team_id, conv.contact_id, "offer_expired"))
    return True


def withdraw_offers(session: Session, conv: Conversation, now: datetime) -> None:
    for offer in session.scalars(select(Offer).where(Offer.conversation_id == conv.id,
                                                     Offer.status == OfferStatus.PENDING.value)):
        offer.status = OfferStatus.WITHDRAWN.value
        offer.decided_at = now
        publish_on_commit(session, OfferEnded(conv.id, conv.team_id, conv.contact_id, offer.id, offer.user_id,
                                              offer.status))


# --- messages from the system to the customer ---------------------------------------------------------------


def do_system_message(session: Session, conv: Conversation, text_: str) -> Message:
    """A message to the customer from the service itself (queue notice, closing message).

    Goes out like a bot reply: webchat by the socket broadcaster, SMS/WhatsApp through the outbox.
    Not activity: it does not move the idle clock.
    """
    from models.outbox import default_reply_channel, do_enqueue_outbound

    msg = Message(conversation_id=conv.id, direction=Direction.OUT.value, sender_type=SenderType.SYSTEM.value,
                  text=text_, channel=default_reply_channel(session, conv),
                  delivery_status=DeliveryStatus.QUEUED.value, created_at=utcnow())
    session.add(msg)
    session.flush()
    do_enqueue_outbound(session, conv, msg, strict=False)
    publish_on_commit(session, MessageCreated(conv.id, conv.team_id, conv.contact_id, msg.id, msg.sender_type,
                                              msg.private, msg.channel))
    return msg


def do_announce_queue(session: Session, conversation_id: int, now: datetime | None = None) -> bool:
    """Tell a customer who just entered the queue that a person will answer (once per handoff).

    Outside the team's opening hours, on every channel: the team's out-of-hours message, with when it
    opens. Otherwise on SMS/WhatsApp the team's queue message (webchat customers see their place in the
    queue and an estimated wait instead)."""
    conv = session.get(Conversation, conversation_id)
    if conv is None or conv.status != Status.OPEN.value \
            or conv.phase not in (Phase.WAITING.value, Phase.ASSIGNING.value):
        return False
    hours, state = team_workspace.team_hours_state(session, conv.team_id, now or utcnow())
    if hours is not None and not state.open_now:
        text_ = team_workspace.out_of_hours_text(hours, state)
    elif conv.channel == Channel.WEBCHAT.value:
        return False
    else:
        text_ = team_settings(session, conv.team_id).queue_message
    if not text_:
        return False
    do_system_message(session, conv, text_)
    return True


def timer_for(session: Session, kind: str, conversation_id: int, ref_id: int = 0) -> Timer | None:
    return session.scalar(select(Timer).where(Timer.kind == kind, Timer.conversation_id == conversation_id,
                                              Timer.ref_id == ref_id))


# --- visibility: per-conversation restriction, per-contact presets -------------------------------------------


def check_user_ids(session: Session, raw: Any, name: str, *, allow_null: bool) -> list[int] | None:
    if raw is None and allow_null:
        return None
    if not isinstance(raw, list) or any(not isinstance(i, int) or isinstance(i, bool) for i in raw):
        raise InvalidInput(f"{name} must be a list of user ids{' or null' if allow_null else ''}.")
    ids = list(dict.fromkeys(raw))
    found = set(session.scalars(select(User.id).where(User.id.in_(ids), User.active.is_(True)))) if ids else set()
    missing = [i for i in ids if i not in found]
    if missing:
        raise InvalidInput(f"Unknown user id(s): {', '.join(map(str, missing))}.", code="unknown_user")
    return ids


def do_restrict(session: Session, actor: User, public_id: str, raw_user_ids: Any, now: datetime) -> list[int] | None:
    """Restrict a conversation to named users (None lifts it). Admins may always; supervisors if they
    can see it. Assignees, offers and transfer requests outside the named users are undone."""
    if actor.role not in ("admin", "supervisor"):
        raise Forbidden("Only supervisors and admins restrict who sees a conversation.")
    serialize(session)
    conv = session.scalar(select(Conversation).where(Conversation.public_id == public_id)
                          .with_for_update().execution_options(populate_existing=True))
    if conv is None or (actor.role != "admin" and not visibility.can_see(actor, conv)):
        raise NotFound("No such conversation.")
    user_ids = check_user_ids(session, raw_user_ids, "user_ids", allow_null=True)
    if user_ids is not None and not user_ids:
        raise InvalidInput("Name at least one user, or send null to lift the restriction.")
    visibility.set_named_users(session, conv, user_ids)
    if user_ids is not None:
        allowed = set(user_ids)
        keep = [a.user_id for a in conv.assignments if a.user_id in allowed]
        if len(keep) != len(conv.assignments):
            actions._set_assignees(session, actor, conv, keep)
        for offer in session.scalars(select(Offer).where(Offer.conversation_id == conv.id,
                                                         Offer.status == OfferStatus.PENDING.value)):
            if offer.user_id not in allowed:
                withdraw_offers(session, conv, now)
                if conv.phase == Phase.ASSIGNING.value:
                    conv.phase = Phase.WAITING.value
        for t in session.scalars(select(Transfer).where(Transfer.conversation_id == conv.id,
                                                        Transfer.status == TransferStatus.PENDING.value)):
            if t.to_user_id not in allowed:
                t.status = TransferStatus.CANCELLED.value
                t.decided_at = now
                if conv.phase == Phase.TRANSFERRING.value:
                    conv.phase = Phase.ASSIGNED.value if conv.assignments else Phase.WAITING.value
    actions.audit(session, "conversation.visibility", actor=actor, conversation=conv, user_ids=user_ids)
    publish_on_commit(session, ConversationRestricted(conv.id, conv.team_id, conv.contact_id,
                                                      tuple(user_ids or ()), user_ids is not None))
    return user_ids


def do_set_contact_presets(session: Session, actor: User, contact_id: int,
                           body: dict[str, Any]) -> dict[str, list[int]]:
    """An admin presets, for a contact's future conversations, who sees them and who gets them."""
    if actor.role != "admin":
        raise Forbidden("Only admins set a contact's visibility and assignment presets.")
    if session.get(Contact, contact_id) is None:
        raise NotFound("No such contact.")
    unknown = sorted(set(body) - {"visible_user_ids", "assign_user_ids"})
    if unknown:
        raise InvalidInput(f"Unknown field(s): {', '.join(unknown)}.")
    current = visibility.presets_of(session, contact_id)
    wanted = {
        PresetKind.VISIBLE.value: check_user_ids(session, body.get("visible_user_ids", current["visible"]),
                                                 "visible_user_ids", allow_null=False) or [],
        PresetKind.ASSIGN.value: check_user_ids(session, body.get("assign_user_ids", current["assign"]),
                                                "assign_user_ids", allow_null=False) or [],
    }
    if wanted["visible"] and not set(wanted["assign"]) <= set(wanted["visible"]):
        raise InvalidInput("Who gets the conversations must be among who may see them.",
                           code="assign_not_visible")
    session.query(ContactPreset).filter(ContactPreset.contact_id == contact_id).delete(
        synchronize_session="evaluate")
    for kind, ids in wanted.items():
        for uid in ids:
            session.add(ContactPreset(contact_id=contact_id, user_id=uid, kind=kind))
    session.flush()
    actions.audit(session, "contact.presets", actor=actor, contact_id=contact_id, presets=wanted)
    return wanted
