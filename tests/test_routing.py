"""Queues and assignment: availability, capacity, policies, offer-free auto-assignment, taking a chat."""

from __future__ import annotations

from flask import Flask

from models.db import Database
from tests.support.actors import Agent, make_user
from tests.support.routing import (
    agent,
    assignees,
    audit_kinds,
    conv,
    handoff,
    me,
    notifications,
    set_routing,
    team_id,
)


def test_default_team_is_least_loaded_without_offers(app: Flask, db: Database) -> None:
    ada = agent(app, db, "ada@example.com")
    teams = ada.get("/teams").get_json()["teams"]
    assert teams[0]["name"] == "Support"
    assert teams[0]["routing"]["policy"] == "least_loaded"
    assert teams[0]["routing"]["offer_timeout_seconds"] is None
    assert teams[0]["routing"]["idle_timeout_seconds"] == 3600
    assert teams[0]["routing"]["waiting_timeout_seconds"] == 6 * 3600
    assert teams[0]["routing"]["transfer_timeout_seconds"] == 60


def test_handoff_goes_to_the_least_loaded_online_agent(app: Flask, db: Database) -> None:
    ada, bob = agent(app, db, "ada@example.com"), agent(app, db, "bob@example.com")
    agent(app, db, "cyd@example.com", online=False)
    convs = [handoff(app)[1] for _ in range(4)]
    owners = [assignees(db, c) for c in convs]
    assert all(len(o) == 1 for o in owners)
    per_agent = {me(ada): 0, me(bob): 0}
    for o in owners:
        per_agent[o[0]] += 1  # never the offline agent
    assert per_agent == {me(ada): 2, me(bob): 2}
    assert conv(db, convs[0]).phase == "assigned"
    # the agent is told ("a chat was handed to you") and sees it in My inbox
    told = notifications(ada, "assigned")
    assert {n["conversation"]["id"] for n in told} == {c for c, o in zip(convs, owners, strict=True)
                                                       if o == [me(ada)]}
    assert ada.counters()["assigned_to_me"] == 2
    assert "routing.assigned" in audit_kinds(db, convs[0])


def test_away_and_offline_agents_get_nothing_and_the_team_is_told(app: Flask, db: Database) -> None:
    ada = agent(app, db, "ada@example.com")
    assert ada.post("/me/availability", {"status": "away"}).get_json() == {"id": me(ada), "availability": "away"}
    assert ada.get("/me").get_json()["availability"] == "away"
    _, conv_id = handoff(app)
    assert assignees(db, conv_id) == [] and conv(db, conv_id).phase == "waiting"
    queued = notifications(ada, "queued")
    assert [n["conversation"]["id"] for n in queued] == [conv_id]
    assert queued[0]["position"] == 1 and queued[0]["reason"] == "customer_asked"
    # coming online drains the queue
    ada.post("/me/availability", {"status": "online"})
    assert assignees(db, conv_id) == [me(ada)]


def test_capacity_is_respected_and_the_queue_drains_longest_waiting_first(app: Flask, db: Database) -> None:
    make_user(db, "admin@example.com", role="admin")
    admin = Agent(app, "admin@example.com")
    ada = agent(app, db, "ada@example.com")
    r = admin.client.patch(f"/api/v1/users/{me(ada)}/routing", json={"capacity": 2},
                           headers={"X-CSRF-Token": admin.csrf})
    assert r.status_code == 200 and r.get_json()["capacity"] == 2
    convs = [handoff(app)[1] for _ in range(5)]
    assert [len(assignees(db, c)) for c in convs] == [1, 1, 0, 0, 0]
    queue = ada.get("/queue").get_json()["queues"][0]
    assert [c["id"] for c in queue["conversations"]] == convs[2:]
    assert [c["position"] for c in queue["conversations"]] == [1, 2, 3]
    assert queue["agents"][0]["active_chats"] == 2 and queue["agents"][0]["capacity"] == 2
    # capacity frees up: the longest-waiting one comes next, then the next
    assert ada.post(f"/conversations/{convs[0]}/close").status_code == 200
    assert [len(assignees(db, c)) for c in convs[2:]] == [1, 0, 0]
    ada.post(f"/conversations/{convs[1]}/return-to-bot")
    assert [len(assignees(db, c)) for c in convs[2:]] == [1, 1, 0]
    assert ada.counters()["assigned_to_me"] == 2


def test_round_robin_takes_turns(app: Flask, db: Database) -> None:
    make_user(db, "admin@example.com", role="admin")
    admin = Agent(app, "admin@example.com")
    set_routing(admin, team_id(db, "Support"), policy="round_robin")
    agents = [agent(app, db, f"a{i}@example.com") for i in range(3)]
    ids = [me(a) for a in agents]
    # round robin ignores load: it rotates, even while earlier chats stay open
    firsts = [assignees(db, handoff(app)[1])[0] for _ in range(6)]
    assert sorted(firsts[:3]) == sorted(ids) and firsts[3:] == firsts[:3]


def test_manual_policy_first_to_take_it_wins(app: Flask, db: Database) -> None:
    make_user(db, "admin@example.com", role="admin")
    admin = Agent(app, "admin@example.com")
    set_routing(admin, team_id(db, "Support"), policy="manual")
    ada, bob = agent(app, db, "ada@example.com"), agent(app, db, "bob@example.com")
    _, conv_id = handoff(app)
    assert assignees(db, conv_id) == []  # nobody is given it
    assert [n["conversation"]["id"] for n in notifications(bob, "queued")] == [conv_id]
    r = ada.post(f"/conversations/{conv_id}/accept")
    assert r.status_code == 200 and [a["id"] for a in r.get_json()["assignees"]] == [me(ada)]
    r = bob.post(f"/conversations/{conv_id}/accept")
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "taken"
    assert assignees(db, conv_id) == [me(ada)]
    assert "routing.taken" in audit_kinds(db, conv_id)


def test_taking_from_the_queue_respects_capacity(app: Flask, db: Database) -> None:
    make_user(db, "admin@example.com", role="admin")
    admin = Agent(app, "admin@example.com")
    set_routing(admin, team_id(db, "Support"), policy="manual")
    ada = agent(app, db, "ada@example.com")
    admin.client.patch(f"/api/v1/users/{me(ada)}/routing", json={"capacity": 1}, headers={"X-CSRF-Token": admin.csrf})
    first, second = handoff(app)[1], handoff(app)[1]
    assert ada.post(f"/conversations/{first}/accept").status_code == 200
    r = ada.post(f"/conversations/{second}/accept")
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "at_capacity"


def test_routing_input_is_checked(app: Flask, db: Database) -> None:
    ada = agent(app, db, "ada@example.com")
    support = team_id(db, "Support")
    _, conv_id = handoff(app)
    cases = [
        (ada.post("/me/availability", {"status": "busy"}), 400, "invalid"),
        (ada.post("/me/availability", {}), 400, "invalid"),
        (ada.client.patch(f"/api/v1/teams/{support}/routing", json={"policy": "manual"},
                          headers={"X-CSRF-Token": ada.csrf}), 403, "forbidden"),
        (ada.client.patch(f"/api/v1/users/{me(ada)}/routing", json={"capacity": 5},
                          headers={"X-CSRF-Token": ada.csrf}), 403, "forbidden"),
        (ada.post(f"/conversations/{conv_id}/accept"), 409, "taken"),  # auto-assigned to her already
        (ada.post("/conversations/c_nope/accept"), 404, "not_found"),
        (ada.get("/queue?team_id=x"), 400, "invalid"),
        (ada.get("/queue?team_id=999"), 404, "not_found"),
        (ada.get("/contacts/999/journey"), 404, "not_found"),
    ]
    for response, status, code in cases:
        assert response.status_code == status, (response.status_code, response.get_json())
        assert response.get_json()["error"]["code"] == code
    make_user(db, "admin@example.com", role="admin")
    admin = Agent(app, "admin@example.com")
    for bad in ({"policy": "random"}, {"offer_timeout_seconds": 0}, {"idle_timeout_seconds": "1h"},
                {"transfer_timeout_seconds": None}, {"colour": "red"}, {"closing_message": 3}):
        r = admin.client.patch(f"/api/v1/teams/{support}/routing", json=bad, headers={"X-CSRF-Token": admin.csrf})
        assert r.status_code == 400, (bad, r.get_json())
    r = admin.client.patch(f"/api/v1/users/{me(ada)}/routing", json={"capacity": -1},
                           headers={"X-CSRF-Token": admin.csrf})
    assert r.status_code == 400


def test_a_deactivated_agents_open_chats_go_to_a_colleague_who_is_online(app: Flask, db: Database) -> None:
    make_user(db, "admin@example.com", role="admin")
    admin = Agent(app, "admin@example.com")
    ada = agent(app, db, "ada@example.com")
    _, conv_id = handoff(app)
    assert assignees(db, conv_id) == [me(ada)]
    bob = agent(app, db, "bob@example.com")
    r = admin.post(f"/users/{me(ada)}/deactivate")
    assert r.status_code == 200, r.get_json()
    # back in the team's queue, drained at once to the agent who can answer
    assert assignees(db, conv_id) == [me(bob)]
    assert bob.counters()["assigned_to_me"] == 1
    assert "routing.assigned" in audit_kinds(db, conv_id)


def test_a_deactivated_agents_chats_wait_in_the_queue_when_nobody_is_online(app: Flask, db: Database) -> None:
    make_user(db, "admin@example.com", role="admin")
    admin = Agent(app, "admin@example.com")
    ada = agent(app, db, "ada@example.com")
    _, conv_id = handoff(app)
    assert admin.post(f"/users/{me(ada)}/deactivate").status_code == 200
    assert assignees(db, conv_id) == [] and conv(db, conv_id).phase == "waiting"
    queue = admin.get("/queue").get_json()["queues"][0]
    assert [c["id"] for c in queue["conversations"]] == [conv_id]
