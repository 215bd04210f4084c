"""Routing's listener on the event bus: what happens after a committed change.

Auto-assignment hangs here, after commit, rather than inside `do_handoff`: the handoff commits on
its own (the customer's message and the bot's turn are safe whatever routing does next), and
routing then runs in short transactions of its own, in the background, so a slow or busy queue
never holds up the bot or a webhook. If the process dies in between, nothing is lost: the
conversation is simply waiting in its queue, and the timer runner's sweep drains every queue with
waiting conversations every few seconds (and on start).

Besides draining queues (handoffs, capacity freed, an agent online, an offer expired), this
listener arms the idle/waiting timers for changes made by the core actions, tells agents what
concerns them (`notification` on `/console`), tells webchat customers their place in the queue
(`queue` on `/webchat`), sends the SMS/WhatsApp queue notice, and takes a conversation out of the
lists of those who lost sight of it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from console.extensions import socketio
from console.realtime.broadcaster import ALL_ROOM, CONSOLE, WEBCHAT_NS, contact_room, team_room, user_room
from console.runtime.jobs import Coalescer, Jobs, ThreadJobs
from console.runtime.timer_runner import TimerRunner
from console.serialize import iso
from models.conversations.inbox import latest_packets, users_who_can_see
from models.conversations.visibility import named_users
from models.db import Database
from models.events import (
    AgentAvailabilityChanged,
    AutoAssigned,
    ConversationAssigned,
    ConversationEvent,
    ConversationHandedOff,
    ConversationOffered,
    ConversationQueued,
    ConversationRestricted,
    ConversationStatusChanged,
    Event,
    MessageCreated,
    OfferEnded,
    TransferChanged,
)
from models.routing.assign import drain
from models.routing.queue import do_announce_queue, queue_outlook, queue_positions, teams_of
from models.routing.timers import arm_conversation_timers
from models.schema.accounts import Availability, Team, User
from models.schema.base import utcnow
from models.schema.conversations import Assignment, Channel, Conversation, Phase, Status
from models.schema.routing import Transfer

log = logging.getLogger(__name__)


class _Batches:
    """Runs `fn(batch)` in the background for work marked since the last run; at most one run at a
    time, and a mark made while running (even from inside `fn`, by the events it causes) is picked
    up by the same run's next round, never by a re-entrant call."""

    def __init__(self, jobs: Jobs, fn: Callable[[_Work], None]) -> None:
        self._jobs = jobs
        self._fn = fn
        self._work = _Work()
        self._active = False
        self._lock = threading.Lock()

    def mark(self, **kinds: Iterable[int]) -> None:
        with self._lock:
            for kind, ids in kinds.items():
                getattr(self._work, kind).update(ids)
            if self._active:
                return
            self._active = True
        self._jobs.submit(self._run)

    def _run(self) -> None:
        while True:
            with self._lock:
                if self._work.empty():
                    self._active = False
                    return
                work, self._work = self._work, _Work()
            try:
                self._fn(work)
            except Exception:  # keep serving later marks; the sweep retries what this one missed
                log.exception("routing work failed: %r", work)


@dataclass
class _Work:
    timers: set[int] = field(default_factory=set)  # conversations whose idle/waiting timer to arm
    drains: set[int] = field(default_factory=set)  # teams whose queue to route
    announce: set[int] = field(default_factory=set)  # conversations that entered a queue
    notices: set[int] = field(default_factory=set)  # ... and whose SMS/WhatsApp customer to tell

    def empty(self) -> bool:
        return not (self.timers or self.drains or self.announce or self.notices)


def brief(conv: Conversation) -> dict[str, Any]:
    """The conversation as a notification names it."""
    return {"id": conv.public_id, "channel": conv.channel, "phase": conv.phase,
            "contact": {"id": conv.contact.id, "name": conv.contact.name},
            "team": {"id": conv.team.id, "name": conv.team.name}}


def audience(session: Session, conv: Conversation) -> list[str]:
    """The console rooms that may hear about a conversation: its named users when restricted."""
    named = named_users(session, [conv.id])
    if conv.id in named:
        return [user_room(uid) for uid in named[conv.id]]
    return [team_room(conv.team_id), ALL_ROOM]


def _notify(rooms: Iterable[str], payload: dict[str, Any]) -> None:
    for room in rooms:
        socketio.emit("notification", payload, namespace=CONSOLE, to=room)


# Changes that can move a team's queue (and so the places its webchat customers are told).
QUEUE_MOVES = (ConversationHandedOff, ConversationQueued, ConversationAssigned, ConversationStatusChanged,
               ConversationOffered, OfferEnded, TransferChanged)


class RoutingListener:
    def __init__(self, db: Database, jobs: Jobs) -> None:
        self.db = db
        self.jobs = jobs
        self._batches = _Batches(jobs, self._work)
        self._queues = Coalescer(jobs, self._push_queues)

    # --- the bus ------------------------------------------------------------------------------

    def __call__(self, evt: Event) -> None:
        if isinstance(evt, AgentAvailabilityChanged):
            self.jobs.submit(self._availability, evt)
            return
        if not isinstance(evt, ConversationEvent) or isinstance(evt, MessageCreated):
            return
        if isinstance(evt, ConversationHandedOff):
            self._batches.mark(timers=[evt.conversation_id], drains=[evt.team_id],
                               announce=[evt.conversation_id], notices=[evt.conversation_id])
        elif isinstance(evt, ConversationQueued):
            self._batches.mark(drains=[evt.team_id], announce=[evt.conversation_id],
                               notices=[evt.conversation_id] if evt.reason == "transferred" else [])
        elif isinstance(evt, ConversationAssigned):
            freed = set(evt.previous_user_ids) - set(evt.user_ids)
            self._batches.mark(timers=[evt.conversation_id], drains=[evt.team_id])
            if freed:
                self.jobs.submit(self._drain_teams_of, freed)
        elif isinstance(evt, ConversationStatusChanged):
            self._batches.mark(timers=[evt.conversation_id], drains=[evt.team_id])
            if evt.change in ("closed", "returned_to_bot"):
                self.jobs.submit(self._drain_teams_of_assignees, evt.conversation_id)
        # Notifications to one agent go out at once, from the thread that committed the change
        # (a router's, or the request's): queued behind other work they would arrive late.
        elif isinstance(evt, OfferEnded):
            self._offer_ended(evt)
            if evt.status != "accepted":
                self._batches.mark(drains=[evt.team_id])
        elif isinstance(evt, ConversationOffered):
            self._offered(evt)
        elif isinstance(evt, AutoAssigned):
            self._assigned(evt)
        elif isinstance(evt, TransferChanged):
            self._transfer(evt)
        elif isinstance(evt, ConversationRestricted):
            self.jobs.submit(self._restricted, evt)
        if isinstance(evt, QUEUE_MOVES):
            self._queues.mark(("team", evt.team_id))
            self._queues.mark(("conv", evt.conversation_id))

    # --- routing work -----------------------------------------------------------------------------

    def _work(self, work: _Work) -> None:
        now = utcnow()
        if work.timers:
            with self.db.transaction() as s:
                for conv in s.scalars(select(Conversation).where(Conversation.id.in_(work.timers))):
                    arm_conversation_timers(s, conv, now)
        for team_id in sorted(work.drains):
            drain(self.db, team_id)
        if work.announce:
            with self.db.session() as s:  # most were routed just now: only those still queued
                queued = sorted(s.scalars(select(Conversation.id).where(
                    Conversation.id.in_(work.announce), Conversation.status == Status.OPEN.value,
                    Conversation.phase.in_((Phase.WAITING.value, Phase.ASSIGNING.value)))))
            for conv_id in queued:
                self._announce(conv_id, notice=conv_id in work.notices)

    def _drain_teams_of(self, user_ids: set[int]) -> None:
        with self.db.session() as s:
            teams = teams_of(s, user_ids)
        self._batches.mark(drains=teams)

    def _drain_teams_of_assignees(self, conversation_id: int) -> None:
        with self.db.session() as s:
            users = s.scalars(select(Assignment.user_id).where(Assignment.conversation_id == conversation_id))
            teams = teams_of(s, users)
        self._batches.mark(drains=teams)

    def _availability(self, evt: AgentAvailabilityChanged) -> None:
        payload = {"user_id": evt.user_id, "availability": evt.availability, "automatic": evt.automatic}
        socketio.emit("availability", payload, namespace=CONSOLE, to=user_room(evt.user_id))
        socketio.emit("availability", payload, namespace=CONSOLE, to=ALL_ROOM)
        if evt.availability == Availability.ONLINE.value:
            self._drain_teams_of({evt.user_id})

    def _load(self, s: Session, conversation_id: int) -> Conversation | None:
        return s.scalar(select(Conversation).options(selectinload(Conversation.contact),
                                                     selectinload(Conversation.team))
                        .where(Conversation.id == conversation_id))

    def _announce(self, conversation_id: int, *, notice: bool) -> None:
        """Still in the queue after routing had its go: tell the team (and, on SMS/WhatsApp, the customer)."""
        with self.db.transaction() as s:
            conv = self._load(s, conversation_id)
            if conv is None or conv.status != Status.OPEN.value \
                    or conv.phase not in (Phase.WAITING.value, Phase.ASSIGNING.value):
                return
            position = queue_positions(s, conv.team_id).get(conv.id)
            packet = latest_packets(s, [conv.id]).get(conv.id)
            _notify(audience(s, conv), {"kind": "queued", "conversation": brief(conv), "position": position,
                                        "reason": packet.reason if packet else None})
            if notice:  # SMS/WhatsApp: the queue message; any channel out of hours: when the team opens
                do_announce_queue(s, conv.id)

    # --- notifications to one agent ----------------------------------------------------------------

    def _offered(self, evt: ConversationOffered) -> None:
        with self.db.session() as s:
            conv = self._load(s, evt.conversation_id)
            if conv is None:
                return
            _notify([user_room(evt.user_id)], {"kind": "offered", "conversation": brief(conv),
                                               "offer_id": evt.offer_id, "expires_at": evt.expires_at})

    def _offer_ended(self, evt: OfferEnded) -> None:
        with self.db.session() as s:
            conv = self._load(s, evt.conversation_id)
            if conv is None:
                return
            _notify([user_room(evt.user_id)], {"kind": "offer_ended", "conversation": brief(conv),
                                               "offer_id": evt.offer_id, "status": evt.status})

    def _assigned(self, evt: AutoAssigned) -> None:
        with self.db.session() as s:
            conv = self._load(s, evt.conversation_id)
            if conv is None:
                return
            _notify([user_room(evt.user_id)], {"kind": "assigned", "conversation": brief(conv)})

    def _transfer(self, evt: TransferChanged) -> None:
        with self.db.session() as s:
            conv = self._load(s, evt.conversation_id)
            t = s.get(Transfer, evt.transfer_id)
            if conv is None or t is None:
                return
            payload = {"kind": "transfer", "conversation": brief(conv), "transfer": transfer_json(s, t)}
            told = {uid for uid in (evt.from_user_id, evt.to_user_id) if uid is not None}
            told |= {uid for uid in [t.requested_by_id] if uid is not None}
            _notify([user_room(uid) for uid in sorted(told)], payload)

    def _restricted(self, evt: ConversationRestricted) -> None:
        """Take the conversation out of the lists of everyone who may no longer see it."""
        with self.db.session() as s:
            conv = s.get(Conversation, evt.conversation_id)
            if conv is None or not conv.restricted:
                return
            allowed = set(evt.user_ids)
            for user in users_who_can_see(s, conv.team_id):
                if user.id not in allowed:
                    socketio.emit("conversation_removed", {"id": conv.public_id}, namespace=CONSOLE,
                                  to=user_room(user.id))

    # --- webchat customers: their place in the queue ------------------------------------------------

    def _push_queues(self, keys: set[tuple[str, int]]) -> None:
        now = utcnow()
        with self.db.session() as s:
            teams = {k for kind, k in keys if kind == "team"}
            convs = {k for kind, k in keys if kind == "conv"}
            seen: set[int] = set()
            for team_id in teams:
                positions = queue_positions(s, team_id)
                if not positions:
                    continue
                outlook = queue_outlook(s, team_id, now)
                for conv in s.scalars(select(Conversation).where(Conversation.id.in_(positions),
                                                                 Conversation.channel == Channel.WEBCHAT.value)):
                    seen.add(conv.id)
                    pos = positions[conv.id]
                    _to_customer(conv, {"status": "waiting", "position": pos, **outlook.fields(pos), "agent": None})
            for conv in s.scalars(select(Conversation).options(
                    selectinload(Conversation.assignments).selectinload(Assignment.user))
                    .where(Conversation.id.in_(convs - seen), Conversation.channel == Channel.WEBCHAT.value)):
                _to_customer(conv, queue_state(s, conv, now))


def _to_customer(conv: Conversation, state: dict[str, Any]) -> None:
    socketio.emit("queue", {"conversation_id": conv.public_id, **state}, namespace=WEBCHAT_NS,
                  to=contact_room(conv.contact_id))


def queue_state(session: Session, conv: Conversation, now: Any = None) -> dict[str, Any]:
    """What the customer is told about their conversation's place (the `/webchat` `queue` event).

    While waiting: the place, and either an estimated wait (team open) or when the team opens
    (`team_open` false, `opens_at`, `opens_at_text` in the team's timezone)."""
    if conv.status != Status.OPEN.value:
        return {"status": "closed", "position": None, "estimated_wait_seconds": None, "agent": None}
    if conv.phase in (Phase.WAITING.value, Phase.ASSIGNING.value) and conv.owner == "human":
        pos = queue_positions(session, conv.team_id).get(conv.id)
        if pos is not None:
            outlook = queue_outlook(session, conv.team_id, now or utcnow())
            return {"status": "waiting", "position": pos, **outlook.fields(pos), "agent": None}
    if conv.owner != "human":
        return {"status": "bot", "position": None, "estimated_wait_seconds": None, "agent": None}
    agent = conv.assignments[0].user.name if conv.assignments else None
    return {"status": "assigned", "position": None, "estimated_wait_seconds": None,
            "agent": {"name": agent} if agent else None}


def transfer_json(session: Session, t: Transfer) -> dict[str, Any]:
    def who(uid: int | None) -> dict[str, Any] | None:
        u = session.get(User, uid) if uid is not None else None
        return {"id": u.id, "name": u.name} if u is not None else None

    team = session.get(Team, t.to_team_id) if t.to_team_id is not None else None
    return {"id": t.id, "status": t.status, "from_user": who(t.from_user_id), "to_user": who(t.to_user_id),
            "to_team": {"id": team.id, "name": team.name} if team is not None else None,
            "requested_by": who(t.requested_by_id), "created_at": iso(t.created_at),
            "expires_at": iso(t.expires_at), "decided_at": iso(t.decided_at)}


@dataclass
class RoutingServices:
    listener: RoutingListener
    runner: TimerRunner


def install(app: Flask, db: Database, jobs: Jobs) -> RoutingServices:
    # Routing gets threads of its own: behind a burst of bot turns in the shared pool, a handoff
    # would wait seconds for its agent. (InlineJobs, in tests, stays inline.)
    if isinstance(jobs, ThreadJobs):
        jobs = ThreadJobs(workers=2)
    listener = RoutingListener(db, jobs)
    db.bus.subscribe(listener)
    svc = RoutingServices(listener, TimerRunner(db))
    app.extensions["parley_routing"] = svc
    return svc


def routing_services(app: Flask) -> RoutingServices:
    svc: RoutingServices = app.extensions["parley_routing"]
    return svc
