"""Routing's database budget, counted (never timed; bench/routing.py times it): a burst of handoffs is
routed in batches, and what a batch costs must not grow with the team's size, nor by more than the rows
it writes with the number of chats it gives. Then what an assignment pushes: one `assigned` notification,
to that agent alone, read in one statement.

Before issue 17 a batch locked each agent it considered in a statement of its own, read its teams in
another and counted its chats in two more, and flushed each chat on its own (per chat: the lock, the
assignees, the conversation, the period, the assignment, the audit rows, `last_routed_at`): on SQLite
71 statements to give 6 chats to 2 agents (28 now), 27 for one chat (13 now), and 4 more for each agent
who could take one; and the notification read its conversation, contact and team in 3.

Each statement is a round trip on PostgreSQL, and under a burst each round trip waits for the GIL again
(bench/README.md, "Issue 17, routing's round trips"): what a batch reads is read in as few statements
as its row locks allow (the agents are locked before their chats are counted, so those stay two).
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import delete, select, update

from console.realtime.listener import RealtimeListener
from console.realtime.rooms import user_room
from models.db import Database
from models.events import AutoAssigned
from models.routing.assign import drain
from models.schema.accounts import User
from models.schema.conversations import Assignment, Conversation
from models.schema.routing import Timer
from tests.support.actors import make_user
from tests.support.routing import agent, handoff, me, notifications, team_id
from tests.support.statements import counting, hold_caches


@pytest.fixture(autouse=True)
def _steady_state(monkeypatch: pytest.MonkeyPatch) -> None:
    hold_caches(monkeypatch)  # a cache's periodic re-read is not a per-message cost (tests/support/statements.py)


# One batch: its team's routing settings, the queue with whether each contact has an assignment preset
# (1), the team's online agents locked with their teams (1, joined) and then their assigned and offered
# chats counted (1, both counts in one statement), the chunk of conversations locked with their
# assignees, contacts and teams (1, joined); the writes flushed together: conversations, assignments,
# one UPDATE for every agent's `last_routed_at`, the timers (4). A batch that was not full is the last
# one. (13 before: the presets, the agents' teams, the offers' count and the assignees each in a statement
# of their own.)
BATCH = 9
# Then the rows whose ids come back: PostgreSQL sends each table's rows in one statement (the audit
# rows, the assignment periods); SQLite one INSERT a row (two audit rows and a period per chat), after
# the no-op UPDATE that takes its write lock (models/routing/locks.py `serialize`).
PG_ROWS = 2
SQLITE_LOCK, SQLITE_PER_CHAT = 1, 3


def _waiting(app: Flask, db: Database, chats: int) -> list[str]:
    """`chats` handed-off conversations waiting in Support's queue (nobody online yet)."""
    return [handoff(app)[1] for _ in range(chats)]


def _online(db: Database, emails: list[str], availability: str = "online") -> None:
    with db.transaction() as s:  # behind the app's back: its own listeners do not route meanwhile
        s.execute(update(User).where(User.email.in_(emails)).values(availability=availability, capacity=3))


def _route(db: Database, team: int) -> tuple[int, int]:
    """Drain the team's queue on a process of its own (no listeners: only routing's statements count);
    returns (chats routed, statements)."""
    router = Database(db.url)
    try:
        with counting(router.engine) as statements:
            routed = drain(router, team)
    finally:
        router.dispose()
    print(f"\n{len(routed)} routed, {statements.count} statements:\n{statements.report()}")
    return len(routed), statements.count


def _budget(db: Database, chats: int) -> int:
    return BATCH + (SQLITE_LOCK + SQLITE_PER_CHAT * chats if db.is_sqlite else PG_ROWS)



def _listening(db: Database) -> tuple[RealtimeListener, list[tuple[str, Any, str | None]]]:
    """A realtime listener whose pushes are kept, in order, as (event, payload, room)."""
    pushed: list[tuple[str, Any, str | None]] = []
    return RealtimeListener(db, _Held(), lambda event, payload, namespace=None, to=None:
                            pushed.append((event, payload, to))), pushed

def test_a_batch_costs_the_same_whatever_the_teams_size(app: Flask, db: Database) -> None:
    emails = [f"agent{i}@example.com" for i in range(8)]
    for email in emails:
        make_user(db, email)
    team = team_id(db, "Support")
    _waiting(app, db, 6)
    _online(db, emails[:2])
    routed_small, small = _route(db, team)
    assert routed_small == 6  # two agents with room for three each
    assert small <= _budget(db, 6)
    with db.transaction() as s:  # the same six chats waiting again, for a team of eight online
        s.execute(delete(Assignment))
        s.execute(update(Conversation).values(phase="waiting"))
    _online(db, emails)
    routed_large, large = _route(db, team)
    assert routed_large == 6
    assert large == small  # no statement per agent


def test_a_batch_grows_only_by_the_rows_it_writes(app: Flask, db: Database) -> None:
    make_user(db, "ada@example.com")
    team = team_id(db, "Support")
    _waiting(app, db, 1)
    _online(db, ["ada@example.com"])
    assert _route(db, team) == (1, _budget(db, 1))
    _online(db, ["ada@example.com"], "away")
    _waiting(app, db, 2)
    _online(db, ["ada@example.com"])
    assert _route(db, team) == (2, _budget(db, 2))


class _Held:
    """A job pool that keeps what it is given (the coalesced summaries and counters are not counted)."""

    def __init__(self) -> None:
        self.held: list[Any] = []

    def submit(self, fn: Any, *args: Any) -> None:
        self.held.append((fn, args))


def test_an_assignment_pushes_one_notification_to_its_agent_read_in_one_statement(app: Flask, db: Database) -> None:
    ada, bob = agent(app, db, "ada@example.com"), agent(app, db, "bob@example.com")
    bob.post("/me/availability", {"status": "away"})
    _, public_id = handoff(app)
    told = notifications(ada, "assigned")
    assert [n["conversation"]["id"] for n in told] == [public_id]  # once, and to ada
    assert notifications(bob, "assigned") == []
    with db.session() as s:
        conv = s.scalar(select(Conversation).where(Conversation.public_id == public_id))
        assert conv is not None
        evt = AutoAssigned(conv.id, conv.team_id, conv.contact_id, me(ada))
    listener, pushed = _listening(db)
    with counting(db.engine) as statements:
        listener(evt)
    assert statements.count == 1, statements.report()
    assert [(e, p["kind"], p["conversation"]["id"], to) for e, p, to in pushed] == [
        ("notification", "assigned", public_id, user_room(me(ada)))]
    assert pushed[0][1]["conversation"]["contact"]["name"] and pushed[0][1]["conversation"]["team"]["name"] == "Support"


def test_a_handoff_given_at_once_arms_its_idle_timer_once(app: Flask, db: Database) -> None:
    """Routing runs before the timers of what it was told about, and arms an assignment's idle timer in
    the transaction that makes it: no waiting timer armed just to be replaced, no idle timer re-armed
    after (both were, in transactions of their own, before issue 17)."""
    ada = agent(app, db, "ada@example.com")
    with counting(db.engine) as statements:
        _, public_id = handoff(app)
    assert [n["conversation"]["id"] for n in notifications(ada, "assigned")] == [public_id]
    armed = [sql for sql in statements.seen if sql.startswith("INSERT INTO routing_timers")]
    assert len(armed) == 1, statements.report()
    with db.session() as s:
        kinds = list(s.scalars(select(Timer.kind).join(Conversation, Conversation.id == Timer.conversation_id)
                               .where(Conversation.public_id == public_id)))
    assert kinds == ["idle"]


def test_routing_names_the_chat_in_its_event_so_the_notification_reads_nothing(app: Flask, db: Database) -> None:
    """Issue 17 (speed): routing's batch reads the contact and team with the conversations it locks
    (no statement more, `BATCH`) and carries them in `AutoAssigned`; the agent's notification then goes
    out with no query of its own, the same shape as the one read in one statement above."""
    make_user(db, "ada@example.com")
    team = team_id(db, "Support")
    public_id = _waiting(app, db, 1)[0]
    _online(db, ["ada@example.com"])
    router = Database(db.url)
    heard: list[Any] = []
    router.bus.subscribe(heard.append)
    try:
        assert len(drain(router, team)) == 1
    finally:
        router.dispose()
    evt = next(e for e in heard if isinstance(e, AutoAssigned))
    assert evt.brief is not None and evt.brief.public_id == public_id
    listener, pushed = _listening(db)
    with counting(db.engine) as statements:
        listener(evt)
    assert statements.count == 0, statements.report()
    reader, read = _listening(db)
    reader(AutoAssigned(evt.conversation_id, evt.team_id, evt.contact_id, evt.user_id))
    assert pushed == read  # what the listener would have read: the same notification, to the same agent
    assert pushed[0][1]["kind"] == "assigned" and pushed[0][2] == user_room(evt.user_id)


def test_a_handoff_given_at_once_costs_one_routing_transaction(app: Flask, db: Database,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The assignment routing makes (someone given the chat, nobody freed) sets off no further drain:
    before issue 17's second pass it marked its team's queue again, one more transaction finding nothing
    for every batch of a burst."""
    import models.routing.assign as assign

    batches: list[int] = []
    real = assign.route_some

    def counted(*args: Any, **kwargs: Any) -> Any:
        routed = real(*args, **kwargs)
        batches.append(len(routed))
        return routed

    monkeypatch.setattr(assign, "route_some", counted)
    ada = agent(app, db, "ada@example.com")
    batches.clear()  # going online drained an empty queue
    _, public_id = handoff(app)
    assert [n["conversation"]["id"] for n in notifications(ada, "assigned")] == [public_id]
    assert batches == [1]
