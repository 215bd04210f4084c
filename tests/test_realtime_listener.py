"""The realtime contract: one listener emits to Socket.IO, with a method per event and one audience rule."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path
from typing import Any

import models.events as events
from console.realtime.listener import RealtimeListener, handler_name
from console.realtime.rooms import ALL_ROOM, audience, team_room, union, user_room
from console.runtime.jobs import InlineJobs
from models.db import Database

ROOT = Path(__file__).resolve().parent.parent
LISTENER = Path("console/realtime/listener.py")
# Events no browser hears: an outbox row committed only wakes the delivery worker; revoked access closes
# sockets (console/realtime/revocation.py) rather than pushing to them.
# Work for workers (the outbox, webhook deliveries), or for webhooks only (a contact's details), never a push.
NOT_PUSHED = {events.OutboundQueued, events.AccessRevoked, events.WebhooksQueued, events.ContactUpdated,
              events.ConversationRated,  # the console's rating panel asks for it (conversation_rating.js)
              events.WebhookSubscriptionsChanged}  # heard by console/runtime/subscription_sync.py, not browsers
BASES = {events.Event, events.ConversationEvent}


def _event_classes() -> list[type[events.Event]]:
    return [cls for _, cls in inspect.getmembers(events, inspect.isclass)
            if issubclass(cls, events.Event) and cls.__module__ == events.__name__ and cls not in BASES]


def test_every_event_that_reaches_browsers_has_its_method() -> None:
    for cls in _event_classes():
        method = getattr(RealtimeListener, handler_name(cls), None)
        if cls in NOT_PUSHED:
            assert method is None, f"{cls.__name__} is not pushed, yet the listener has {handler_name(cls)}"
        else:
            assert callable(method), f"RealtimeListener has no {handler_name(cls)} for {cls.__name__}"


def test_method_names_follow_the_events() -> None:
    assert handler_name(events.MessageCreated) == "message_created"
    assert handler_name(events.ConversationHandedOff) == "conversation_handed_off"
    assert handler_name(events.AgentAvailabilityChanged) == "agent_availability_changed"


def test_the_listener_dispatches_by_name_through_its_emit(db: Database) -> None:
    heard: list[tuple[Any, ...]] = []
    listener = RealtimeListener(db, InlineJobs(), lambda *a, **kw: heard.append((*a, kw)))
    listener(events.BotTyping(conversation_id=1, contact_id=7, typing=True))
    listener(events.OutboundQueued(outbox_id=1))  # not pushed: no emit
    assert heard == [("typing", {"typing": True, "sender_type": "bot"},
                      {"namespace": "/webchat", "to": "contact:7"})]


def test_audience_is_the_visibility_rule() -> None:
    assert audience(3, None) == [team_room(3), ALL_ROOM]  # the team, and supervisors
    assert audience(3, [5, 2]) == [user_room(5), user_room(2)]  # restricted: its named users only
    assert audience(3, []) == []  # restricted to nobody: nobody
    # several conversations (a contact's presence): each room once; none at all: supervisors
    assert union([audience(3, None), audience(4, [2]), audience(3, None)]) == \
        [team_room(3), ALL_ROOM, user_room(2)]
    assert union([]) == [ALL_ROOM]
    assert union([audience(3, [])]) == []


def _python_files(*folders: str) -> list[Path]:
    return sorted(p.relative_to(ROOT) for folder in folders for p in (ROOT / folder).rglob("*.py"))


def _emits(path: Path) -> list[ast.Call]:
    tree = ast.parse((ROOT / path).read_text(), str(path))
    return [node for node in ast.walk(tree) if isinstance(node, ast.Call) and (
        (isinstance(node.func, ast.Attribute) and node.func.attr == "emit")
        or (isinstance(node.func, ast.Name) and node.func.id == "emit"))]


# Modules of Socket.IO handlers (they answer their own caller): the core ones and the widget SDK's.
SOCKET_HANDLERS = {Path("console/sockets.py"), Path("console/widget_sdk.py")}


def test_only_the_realtime_listener_emits() -> None:
    """Socket handlers may answer their own caller (flask_socketio's bare `emit`, no room); every
    broadcast goes through the realtime listener."""
    for path in _python_files("console", "models", "bot", "connectors"):
        if path == LISTENER:
            continue
        for call in _emits(path):
            where = f"{path}:{call.lineno}"
            assert path in SOCKET_HANDLERS, f"{where} emits outside the realtime listener"
            assert isinstance(call.func, ast.Name), f"{where}: socket handlers reply with flask_socketio.emit"
            assert not {kw.arg for kw in call.keywords} & {"to", "room", "broadcast", "namespace"}, \
                f"{where}: a socket handler broadcasts; push through the realtime listener"


def test_realtime_knows_no_flask_and_no_runtime() -> None:
    """The listener is handed its emit (an app's `socketio.emit`, or a worker's queue-only emitter),
    and runtime calls into realtime, never the other way round."""
    for path in _python_files("console/realtime"):
        tree = ast.parse((ROOT / path).read_text(), str(path))
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            for name in names:
                assert not name.startswith(("flask", "console.runtime", "console.extensions")), \
                    f"{path}:{node.lineno} imports {name}"


def test_a_push_to_several_rooms_is_one_emit(db: Database) -> None:
    """Encoded once and published once through the message queue, whatever number of rooms hear it
    (a socket in two of them hears it once: python-socketio joins the rooms' members)."""
    heard: list[tuple[Any, ...]] = []
    listener = RealtimeListener(db, InlineJobs(), lambda *a, **kw: heard.append((*a, kw)))
    listener._to([team_room(3), ALL_ROOM], "conversation", {"id": "c1"})
    listener._to([user_room(9)], "notification", {"kind": "x"})
    listener._to([], "notification", {"kind": "nobody"})
    assert [(h[0], h[-1]["to"]) for h in heard] == [("conversation", [team_room(3), ALL_ROOM]),
                                                    ("notification", user_room(9))]


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0
        self.timers: list[tuple[float, Any]] = []  # (due, fn): what `later` was asked to call

    def later(self, delay: float, fn: Any) -> None:
        self.timers.append((self.now + delay, fn))

    def advance(self, seconds: float) -> None:
        self.now += seconds
        due = [fn for at, fn in self.timers if at <= self.now]
        self.timers = [(at, fn) for at, fn in self.timers if at > self.now]
        for fn in due:
            fn()


def test_a_paced_coalescer_runs_a_burst_once_per_pace_and_a_quiet_mark_at_once() -> None:
    """Issue 17 (speed): summaries and counters go to every console of a team; a burst of 100 handoffs
    ran the counters ~190 times (20 frames each). Paced, a burst costs a run per `pace_s`, keeping
    every key and the last state; a change after a quiet spell still goes at once."""
    from console.realtime.coalescing import Coalescer

    clock = _Clock()
    runs: list[set[int]] = []
    paced = Coalescer(InlineJobs(), runs.append, pace_s=0.1, clock=lambda: clock.now, later=clock.later)
    paced.mark(0)
    assert runs == [{0}]  # the first: at once
    for n in range(1, 101):  # 100 changes over 0.5 s
        paced.mark(n)
        clock.advance(0.005)
    clock.advance(0.1)
    assert len(runs) == 6  # one at once, then one per 0.1 s
    assert set().union(*runs) == set(range(101)) and sum(len(r) for r in runs) == 101
    clock.advance(5)  # quiet: the next change goes at once
    paced.mark(7)
    assert runs[-1] == {7} and len(runs) == 7
    at_once = Coalescer(InlineJobs(), runs.append)  # unpaced (tests, inline jobs): a run per mark
    for n in range(3):
        at_once.mark(n)
    assert runs[-3:] == [{0}, {1}, {2}]


def test_a_paced_run_due_after_the_job_pool_stopped_is_dropped_quietly() -> None:
    """A paced run falls due on a timer thread; when the process has stopped its job pool meanwhile (a
    shutdown), the run is dropped, not an exception in the timer's thread (CI saw one: "cannot schedule
    new futures after shutdown")."""
    from console.realtime.coalescing import Coalescer
    from console.runtime.jobs import ThreadJobs

    clock = _Clock()
    jobs = ThreadJobs(workers=1)
    runs: list[set[int]] = []
    paced = Coalescer(jobs, runs.append, pace_s=0.1, clock=lambda: clock.now, later=clock.later)
    paced.mark(0)
    paced.mark(1)  # within the pace: waits for the timer
    jobs.shutdown(wait=True)
    assert runs == [{0}] and len(clock.timers) == 1
    clock.advance(0.2)  # the timer fires after the pool stopped: raises without the guard
    assert runs == [{0}]
