"""Offer and accept: a chat offered to one agent at a time, taken by the first to accept."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, func, select, update
from sqlalchemy.orm import Session, joinedload

from models.audit import audit
from models.contacts.presets import presets_of
from models.conversations.assignment import _set_assignees
from models.conversations.visibility import can_see
from models.db import Database, publish_on_commit
from models.errors import Conflict, InvalidState
from models.events import (
    AutoAssigned,
    Brief,
    ConversationOffered,
    ConversationQueued,
    OfferEnded,
)
from models.routing.availability import DEFAULT_CAPACITY, active_chats, capacity_of
from models.routing.locks import access_locked, lock_conversation, lock_user, serialize
from models.routing.queue import QUEUE_SCAN, _waited, queued_since, waiting_in
from models.routing.settings import TeamSettings, team_settings
from models.schema.accounts import Availability, TeamMember, User
from models.schema.base import utcnow
from models.schema.conversations import (
    Conversation,
    Owner,
    Phase,
    Status,
)
from models.schema.routing import (
    ContactPreset,
    Offer,
    OfferStatus,
    Policy,
    PresetKind,
    TimerKind,
)


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

    def team_pool(self, team_id: int) -> list[_Candidate]:
        """The team's online active agents with room, locked in id order and their loads counted
        together under the lock: a few statements per batch, whatever the team's size (not a lock, a
        membership look-up and two counts per agent)."""
        users = list(self.session.scalars(
            select(User).join(TeamMember, and_(TeamMember.user_id == User.id, TeamMember.team_id == team_id))
            .where(User.active.is_(True), User.availability == Availability.ONLINE.value)
            .order_by(User.id).with_for_update(key_share=True, of=User)
            .options(joinedload(User.memberships)).execution_options(populate_existing=True)).unique())
        loads = active_chats(self.session, [u.id for u in users])
        out = []
        for user in users:
            self.users[user.id] = user
            self.loads[user.id] = loads[user.id]
            if loads[user.id] < capacity_of(user):
                last = next((m.last_routed_at for m in user.memberships if m.team_id == team_id), None)
                out.append(_Candidate(user.id, loads[user.id], capacity_of(user), last))
        return out

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
        if user is None or not claims.room(user) or not can_see(user, conv):
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

    Set-based, so that a burst costs a few statements per batch rather than a dozen per chat: the
    team's agents are locked and counted together first (in id order; the conversations after them
    are taken with SKIP LOCKED, so routing never waits on one while holding an agent), the waiting
    conversations locked a chunk at a time with their assignees, and the writes flushed together.
    """
    serialize(session)
    settings = team_settings(session, team_id)
    # Related rows come joined to the rows they belong to (whether a contact has an assignment preset,
    # an agent's teams, a chat's assignees): every statement is a round trip on PostgreSQL, and under a
    # burst each one queues for the GIL again (tests/test_routing_counts.py counts them).
    assign_preset = exists().where(ContactPreset.contact_id == Conversation.contact_id,
                                   ContactPreset.kind == PresetKind.ASSIGN.value)
    rows = session.execute(select(Conversation.id, Conversation.contact_id, assign_preset).where(waiting_in(team_id))
                           .order_by(queued_since(), Conversation.id).limit(QUEUE_SCAN)).all()
    if not rows:
        return []
    with_presets = {contact_id for _cid, contact_id, has_preset in rows if has_preset}
    claims = _Claims(session)
    manual = settings.policy == Policy.MANUAL.value  # manual: agents take chats themselves
    team_pool = [] if manual else claims.team_pool(team_id)
    todo = [(cid, contact_id) for cid, contact_id, _preset in rows if contact_id in with_presets or team_pool]
    routed: list[Routed] = []
    idle_timers: list[tuple[str, int, datetime, int]] = []
    given_to: set[int] = set()
    while todo and len(routed) < limit:
        chunk, todo = todo[:limit - len(routed)], todo[limit - len(routed):]
        locked = {c.id: c for c in session.scalars(
            select(Conversation).where(Conversation.id.in_([cid for cid, _ in chunk]), waiting_in(team_id))
            .options(joinedload(Conversation.assignments), joinedload(Conversation.contact, innerjoin=True),
                     joinedload(Conversation.team, innerjoin=True))
            .with_for_update(skip_locked=True, of=Conversation).execution_options(populate_existing=True))
            .unique()}
        for cid, contact_id in chunk:
            conv = locked.get(cid)
            if conv is None:
                continue  # taken meanwhile, or another router holds it
            preset = presets_of(session, contact_id)[PresetKind.ASSIGN.value] \
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
                      settings=settings, timers=idle_timers, given_to=given_to, brief=True)
            routed.append(Routed(conv.id, user.id, offered=bool(settings.offer_timeout_seconds)))
    from models.routing.timers import arm_many

    _routed_to(session, team_id, given_to, now)
    arm_many(session, idle_timers)
    return routed


def drain(db: Database, team_id: int, now: datetime | None = None, max_rounds: int = 200, *,
          first: bool = False) -> list[Routed]:
    """Route the team's queue until nothing more can be routed, a short transaction per batch.

    A batch that was not full found nothing more it could route: no further transaction just to see
    that again (whatever is handed off or freed meanwhile sets off a drain of its own). `first`:
    people wait on it (a customer for a person, an agent for the chat) — on SQLite its batches write
    before anything else waiting (`WriteLock`); the timer runner's sweep, a safety net, does not."""
    routed: list[Routed] = []
    for _ in range(max_rounds):
        with db.transaction(first=first) as s:
            batch = route_some(s, team_id, now or utcnow())
        routed += batch
        if len(batch) < ROUTE_BATCH:
            break
    return routed


def _give(session: Session, conv: Conversation, user: User, now: datetime, *, via: str,
          settings: TeamSettings | None = None, timers: list[tuple[str, int, datetime, int]] | None = None,
          given_to: set[int] | None = None, brief: bool = False) -> None:
    """Assign to `user` as routing (no actor), and start the idle clock. `timers` and `given_to`
    collect the timer and the agent's routing time for one write per batch (`route_some`); `brief`:
    the conversation's contact and team are loaded (`route_some`), so the event names it for the
    agent's notification."""
    from models.routing.timers import arm_conversation_timers

    waited = _waited(conv, now)
    _set_assignees(session, None, conv, [user.id], flush=False)
    if given_to is None:
        _routed_to(session, conv.team_id, {user.id}, now)
    else:
        given_to.add(user.id)
    audit(session, "routing.assigned", conversation=conv, user_id=user.id, team_id=conv.team_id,
                  via=via, waited_seconds=round(waited, 3))
    named = Brief(conv.public_id, conv.channel, conv.phase, conv.contact.id, conv.contact.name,
                  conv.team.name) if brief else None
    publish_on_commit(session, AutoAssigned(conv.id, conv.team_id, conv.contact_id, user.id, named))
    arm_conversation_timers(session, conv, now, settings, collect=timers)


def _routed_to(session: Session, team_id: int, user_ids: set[int], now: datetime) -> None:
    """When routing last gave these agents one of the team's chats (round robin, least-loaded ties)."""
    if user_ids:
        session.execute(update(TeamMember).where(TeamMember.team_id == team_id, TeamMember.user_id.in_(user_ids))
                        .values(last_routed_at=now))


def _offer(session: Session, conv: Conversation, user: User, now: datetime, timeout: int) -> Offer:
    from models.routing.timers import arm

    offer = Offer(conversation_id=conv.id, user_id=user.id, created_at=now,
                  expires_at=now + timedelta(seconds=timeout))
    session.add(offer)
    conv.phase = Phase.ASSIGNING.value
    session.execute(update(TeamMember).where(TeamMember.team_id == conv.team_id, TeamMember.user_id == user.id)
                    .values(last_routed_at=now))
    session.flush()
    arm(session, TimerKind.OFFER, conv.id, offer.expires_at, ref_id=offer.id)
    audit(session, "routing.offered", conversation=conv, user_id=user.id, team_id=conv.team_id,
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
            audit(session, "routing.offer_accepted", actor=user, conversation=conv, offer_id=offer.id)
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
    audit(session, "routing.taken", actor=user, conversation=conv)
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
        audit(session, "routing.offer_expired", conversation=conv, user_id=offer.user_id,
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
