"""Routing's listener on the event bus: the work a committed change sets off. It emits nothing.

Auto-assignment hangs here, after commit, rather than inside `do_handoff`: the handoff commits on
its own (the customer's message and the bot's turn are safe whatever routing does next), and
routing then runs in short transactions of its own, in the background, so a slow or busy queue
never holds up the bot or a webhook. If the process dies in between, nothing is lost: the
conversation is simply waiting in its queue, and the timer runner's sweep drains every queue with
waiting conversations every few seconds (and on start).

Besides draining queues (handoffs, capacity freed, an agent online, an offer expired), this listener
arms the idle/waiting timers for changes made by the core actions and sends the SMS/WhatsApp queue
notice. What people hear of it goes through the realtime listener (console/realtime/listener.py):
`conversation_waiting` once routing leaves a conversation queued, `queue_moved` once routing had its
go at a queue that moved.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from console.realtime.listener import RealtimeListener
from console.runtime.jobs import Jobs, ThreadJobs
from console.runtime.timer_runner import TimerRunner
from models.conversations.inbox import latest_packets
from models.db import Database
from models.events import (
    AgentAvailabilityChanged,
    AutoAssigned,
    ConversationAssigned,
    ConversationEvent,
    ConversationHandedOff,
    ConversationOffered,
    ConversationQueued,
    ConversationStatusChanged,
    Event,
    OfferEnded,
    TransferChanged,
)
from models.routing.assign import drain
from models.routing.queue import do_announce_queue, queue_positions, teams_of
from models.routing.timers import arm_conversation_timers
from models.schema.accounts import Availability
from models.schema.base import utcnow
from models.schema.conversations import Assignment, Conversation, Phase, Status

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

    def forget(self, **kinds: Iterable[int]) -> None:
        """Unmark work made needless meanwhile (not yet taken by a run; once taken, it is simply done)."""
        with self._lock:
            for kind, ids in kinds.items():
                getattr(self._work, kind).difference_update(ids)

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


# Changes that can move a team's queue (and so the places its webchat customers are told).
QUEUE_MOVES = (ConversationHandedOff, ConversationQueued, ConversationAssigned, ConversationStatusChanged,
               ConversationOffered, OfferEnded, TransferChanged)


class RoutingWork:
    def __init__(self, db: Database, jobs: Jobs, realtime: RealtimeListener) -> None:
        self.db = db
        self.jobs = jobs
        self.realtime = realtime
        self._batches = _Batches(jobs, self._work)

    def __call__(self, evt: Event) -> None:
        if isinstance(evt, AgentAvailabilityChanged):
            if evt.availability == Availability.ONLINE.value:
                self.jobs.submit(self._drain_teams_of, {evt.user_id})
            return
        if not isinstance(evt, ConversationEvent):
            return
        if isinstance(evt, ConversationHandedOff):
            self._batches.mark(timers=[evt.conversation_id], drains=[evt.team_id],
                               announce=[evt.conversation_id], notices=[evt.conversation_id])
        elif isinstance(evt, ConversationQueued):
            self._batches.mark(drains=[evt.team_id], announce=[evt.conversation_id],
                               notices=[evt.conversation_id] if evt.reason == "transferred" else [])
        elif isinstance(evt, ConversationAssigned):
            freed = set(evt.previous_user_ids) - set(evt.user_ids)
            # Someone given it, nobody freed: the queue only lost a chat and no agent gained room, so
            # there is nothing new to route (routing's own batches would otherwise set off one more
            # transaction each, finding nothing). Unassigned (back in the queue) or freed: drain.
            requeued = not evt.user_ids
            self._batches.mark(timers=[evt.conversation_id], drains=[evt.team_id] if requeued or freed else [])
            if freed:
                self.jobs.submit(self._drain_teams_of, freed)
        elif isinstance(evt, AutoAssigned):
            # Routing armed the idle timer in the transaction that assigned it (published right after
            # its ConversationAssigned): re-arming it would cost the routing thread a transaction per
            # batch, in the middle of a burst.
            self._batches.forget(timers=[evt.conversation_id])
        elif isinstance(evt, ConversationStatusChanged):
            self._batches.mark(timers=[evt.conversation_id], drains=[evt.team_id])
            if evt.change in ("closed", "returned_to_bot"):
                self.jobs.submit(self._drain_teams_of_assignees, evt.conversation_id)
        elif isinstance(evt, OfferEnded) and evt.status != "accepted":
            self._batches.mark(drains=[evt.team_id])
        if isinstance(evt, QUEUE_MOVES):
            self.realtime.queue_moved(evt.team_id, evt.conversation_id)

    def _work(self, work: _Work) -> None:
        """Routing first: a handoff waits for nothing else. Then the timers of what it did not give
        to someone (an assignment's idle timer is armed in the transaction that made it)."""
        given: set[int] = set()
        for team_id in sorted(work.drains):
            given.update(r.conversation_id for r in drain(self.db, team_id, first=True) if not r.offered)
        if timers := work.timers - given:
            now = utcnow()
            with self.db.transaction() as s:
                for conv in s.scalars(select(Conversation).where(Conversation.id.in_(timers))):
                    arm_conversation_timers(s, conv, now)
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

    def _announce(self, conversation_id: int, *, notice: bool) -> None:
        """Still in the queue after routing had its go: tell the team (and, on SMS/WhatsApp, the customer)."""
        with self.db.transaction() as s:
            conv = s.scalar(select(Conversation).options(selectinload(Conversation.contact),
                                                         selectinload(Conversation.team))
                            .where(Conversation.id == conversation_id))
            if conv is None or conv.status != Status.OPEN.value \
                    or conv.phase not in (Phase.WAITING.value, Phase.ASSIGNING.value):
                return
            packet = latest_packets(s, [conv.id]).get(conv.id)
            self.realtime.conversation_waiting(s, conv, queue_positions(s, conv.team_id).get(conv.id),
                                               packet.reason if packet else None)
            if notice:  # SMS/WhatsApp: the queue message; any channel out of hours: when the team opens
                do_announce_queue(s, conv.id)


def own_jobs(jobs: Jobs) -> Jobs:
    """Routing gets threads of its own: behind a burst of bot turns in the shared pool, a handoff
    would wait seconds for its agent. (InlineJobs, in tests, stays inline.)"""
    return ThreadJobs(workers=2) if isinstance(jobs, ThreadJobs) else jobs


@dataclass
class RoutingServices:
    listener: RoutingWork
    runner: TimerRunner


def install(app: Flask, db: Database, jobs: Jobs, realtime: RealtimeListener) -> RoutingServices:
    """Subscribe routing after `realtime`, so that what an event itself says is pushed before the
    work it sets off (with inline jobs, before the drain's own events)."""
    listener = RoutingWork(db, jobs, realtime)
    db.bus.subscribe(listener)
    svc = RoutingServices(listener, TimerRunner(db))
    app.extensions["parley_routing"] = svc
    return svc


def routing_services(app: Flask) -> RoutingServices:
    svc: RoutingServices = app.extensions["parley_routing"]
    return svc
