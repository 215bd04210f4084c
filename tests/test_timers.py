"""Durable timers: offer expiry moves the chat on, idle and waiting conversations are completed with
a closing message, timers survive a restart and fire once with several processes; agents with no
console open for 5 minutes go offline."""

from __future__ import annotations

import threading
from datetime import timedelta

from flask import Flask
from sqlalchemy import func, select, update

from console.app import create_app
from console.runtime.jobs import InlineJobs
from console.runtime.routing_work import routing_services
from console.runtime.timer_runner import TimerRunner
from models.db import Database
from models.schema.accounts import AuditEvent, User
from models.schema.conversations import Conversation, Message
from models.schema.routing import Timer
from models.settings import Settings
from tests.support.actors import Agent, make_user
from tests.support.engines import RuleEngine
from tests.support.routing import (
    agent,
    assignees,
    audit_kinds,
    conv,
    handoff,
    later,
    me,
    notifications,
    runner,
    set_routing,
    team_id,
)

SIX_HOURS = 6 * 3600


def test_an_unaccepted_offer_moves_to_the_next_agent(app: Flask, db: Database) -> None:
    admin = agent(app, db, "admin@example.com", role="admin", online=False)
    set_routing(admin, team_id(db, "Support"), offer_timeout_seconds=30)
    ada, bob = agent(app, db, "ada@example.com"), agent(app, db, "bob@example.com")
    _, conv_id = handoff(app)
    c = conv(db, conv_id)
    assert c.phase == "assigning" and assignees(db, conv_id) == []
    first, second = (ada, bob) if notifications(ada, "offered") else (bob, ada)
    assert first.get("/me/routing").get_json()["offers"][0]["conversation"]["id"] == conv_id
    r = second.post(f"/conversations/{conv_id}/accept")
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "offered_to_other"
    assert runner(app).tick(later(20)) == 0
    assert runner(app).tick(later(31)) == 1
    assert [n["status"] for n in notifications(first, "offer_ended")] == ["expired"]
    offered = notifications(second, "offered")
    assert [n["conversation"]["id"] for n in offered] == [conv_id] and offered[0]["expires_at"]
    r = second.post(f"/conversations/{conv_id}/accept")
    assert r.status_code == 200 and [a["id"] for a in r.get_json()["assignees"]] == [me(second)]
    assert conv(db, conv_id).phase == "assigned"
    kinds = audit_kinds(db, conv_id)
    assert kinds.count("routing.offered") == 2 and "routing.offer_expired" in kinds
    assert "routing.offer_accepted" in kinds


def test_an_offer_holds_a_place_in_the_agents_capacity(app: Flask, db: Database) -> None:
    admin = agent(app, db, "admin@example.com", role="admin", online=False)
    set_routing(admin, team_id(db, "Support"), offer_timeout_seconds=30)
    ada = agent(app, db, "ada@example.com")
    admin.client.patch(f"/api/v1/users/{me(ada)}/routing", json={"capacity": 1}, headers={"X-CSRF-Token": admin.csrf})
    first, second = handoff(app)[1], handoff(app)[1]
    assert conv(db, first).phase == "assigning" and conv(db, second).phase == "waiting"
    ada.post(f"/conversations/{first}/accept")
    assert conv(db, second).phase == "waiting"  # still at capacity


def test_an_idle_assigned_conversation_is_completed_with_a_closing_message(app: Flask, db: Database) -> None:
    agent(app, db, "ada@example.com")
    customer, conv_id = handoff(app)
    assert runner(app).tick(later(1800)) == 0
    # activity half an hour later moves the deadline: the timer fires, sees it, and waits again
    with db.transaction() as s:
        s.execute(update(Conversation).where(Conversation.public_id == conv_id)
                  .values(last_activity_at=later(1800)))
    runner(app).tick(later(3601))
    assert conv(db, conv_id).status == "open"
    runner(app).tick(later(5401))
    c = conv(db, conv_id)
    assert (c.status, c.phase) == ("closed", "ended")
    assert customer.replies("system")[-1].startswith("This conversation has been closed.")
    assert audit_kinds(db, conv_id)[-1] == "routing.auto_closed"
    # the next message starts a new conversation
    assert customer.say("one more thing")["conversation_id"] != conv_id


def test_a_conversation_left_waiting_fails_after_six_hours(app: Flask, db: Database) -> None:
    customer, conv_id = handoff(app)  # nobody online
    runner(app).tick(later(SIX_HOURS - 60))
    assert conv(db, conv_id).status == "open"
    runner(app).tick(later(SIX_HOURS + 1))
    c = conv(db, conv_id)
    assert (c.status, c.phase) == ("closed", "failed")
    assert len(customer.replies("system")) == 1


def test_timeouts_are_per_team_and_can_be_switched_off(app: Flask, db: Database) -> None:
    admin = agent(app, db, "admin@example.com", role="admin", online=False)
    support = team_id(db, "Support")
    set_routing(admin, support, idle_timeout_seconds=600, closing_message="Bye for now!")
    agent(app, db, "ada@example.com")
    customer, conv_id = handoff(app)
    runner(app).tick(later(601))
    assert conv(db, conv_id).status == "closed" and customer.replies("system") == ["Bye for now!"]
    set_routing(admin, support, idle_timeout_seconds=None, waiting_timeout_seconds=None)
    _, other = handoff(app)
    runner(app).tick(later(30 * 24 * 3600))
    assert conv(db, other).status == "open"


def test_timers_survive_a_restart(settings: Settings, app: Flask, db: Database) -> None:
    _, conv_id = handoff(app)  # waiting: its timer is in the database
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Timer)) == 1
    app.extensions["parley"].db.dispose()  # the process goes away
    again = create_app(settings, engines=[RuleEngine()], jobs=InlineJobs(), testing=True)
    try:
        fresh = again.extensions["parley"].db
        assert routing_services(again).runner.tick(later(SIX_HOURS + 1)) == 1
        c = conv(fresh, conv_id)
        assert (c.status, c.phase) == ("closed", "failed")
    finally:
        again.extensions["parley"].db.dispose()


def test_each_timer_fires_once_with_several_processes(settings: Settings, app: Flask, db: Database) -> None:
    conv_ids = [handoff(app)[1] for _ in range(15)]  # nobody online: 15 waiting timers
    processes = [Database(settings.database_url) for _ in range(4)]
    runners = [TimerRunner(p) for p in processes]
    fired = [0] * len(runners)
    barrier = threading.Barrier(len(runners))
    at = later(SIX_HOURS + 1)

    def run(i: int) -> None:
        barrier.wait()
        fired[i] = runners[i].tick(at)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(runners))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for p in processes:
        p.dispose()
    assert sum(fired) == 15
    with db.session() as s:
        closes = s.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.kind == "routing.auto_closed"))
        closing_messages = s.scalar(select(func.count()).select_from(Message).where(Message.sender_type == "system"))
        remaining = s.scalar(select(func.count()).select_from(Timer))
    assert closes == 15 and closing_messages == 15 and remaining == 0
    assert all(conv(db, c).phase == "failed" for c in conv_ids)


def test_an_agent_with_no_console_open_for_five_minutes_goes_offline(app: Flask, db: Database) -> None:
    make_user(db, "ada@example.com")
    make_user(db, "bob@example.com")
    ada, bob = Agent(app, "ada@example.com"), Agent(app, "bob@example.com")
    ada.socket.get_received("/console")
    bob.socket.get_received("/console")
    ada.post("/me/availability", {"status": "online"})
    bob.post("/me/availability", {"status": "away"})
    ada.socket.disconnect(namespace="/console")  # her last console closes
    t0 = later(0)
    sweeper = TimerRunner(db, local_users=lambda: {me(bob)})  # this process still holds bob's console
    sweeper.heartbeat(t0 + timedelta(minutes=4))
    sweeper.sweep(t0 + timedelta(minutes=4))
    assert _availability(db, "ada@example.com") == "online"
    sweeper.sweep(t0 + timedelta(minutes=5, seconds=1))
    assert _availability(db, "ada@example.com") == "offline"
    assert _availability(db, "bob@example.com") == "away"  # vouched for by the heartbeat
    # her queue-free time is over: no chats while offline
    _, conv_id = handoff(app)
    assert assignees(db, conv_id) == []
    # she opens the console again: what she had chosen comes back, and the queue drains to her
    ada2 = Agent(app, "ada@example.com")
    ada2.socket.get_received("/console")
    assert _availability(db, "ada@example.com") == "online"
    assert assignees(db, conv_id) == [me(ada2)]
    # an agent who chose offline stays offline when reconnecting
    ada2.post("/me/availability", {"status": "offline"})
    ada3 = Agent(app, "ada@example.com")
    ada3.socket.get_received("/console")
    assert _availability(db, "ada@example.com") == "offline"


def _availability(db: Database, email: str) -> str:
    with db.session() as s:
        value = s.scalar(select(User.availability).where(User.email == email))
        assert value is not None
        return str(value)
