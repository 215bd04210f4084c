"""Supervisor views: the Queue view (waiting chats, places, waiting times, agents' loads), the Active
view, the dashboard tiles' lists (a tile's number is what its list shows) and per-row unread figures."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Flask
from sqlalchemy import update

from models.db import Database
from models.schema.base import utcnow
from models.schema.conversations import Conversation
from tests.support.actors import Agent, Customer, event_payload
from tests.support.routing import agent, assignees, console_events, handoff, me, set_routing, team_id

TILES = ("unassigned", "unreplied", "my_unreplied", "assigned_to_me", "unread")
# The view each tile opens in the console (console.html `data-goto`): the same rows with or without it.
TILE_VIEW = {"unassigned": "team", "unreplied": "team", "my_unreplied": "mine", "assigned_to_me": "mine",
             "unread": "team"}


def _queued_ago(db: Database, public_id: str, seconds: int) -> None:
    with db.transaction() as s:
        s.execute(update(Conversation).where(Conversation.public_id == public_id)
                  .values(queued_at=utcnow() - timedelta(seconds=seconds)))


def _queue(a: Agent, team: int) -> dict[str, Any]:
    r = a.get(f"/supervisor/queue?team_id={team}")
    assert r.status_code == 200, r.get_json()
    queues = r.get_json()["queues"]
    assert len(queues) == 1
    return dict(queues[0])


def _rows(a: Agent, query: str) -> list[dict[str, Any]]:
    r = a.get(f"/conversations?{query}")
    assert r.status_code == 200, r.get_json()
    return list(r.get_json()["conversations"])


def _set_capacity(admin: Agent, user: int, capacity: int) -> None:
    r = admin.client.patch(f"/api/v1/users/{user}/routing", json={"capacity": capacity},
                           headers={"X-CSRF-Token": admin.csrf})
    assert r.status_code == 200


def test_queue_lists_waiting_chats_longest_first_with_waits_and_agents_loads(app: Flask, db: Database) -> None:
    admin = agent(app, db, "admin@example.com", role="admin", online=False)
    sup = agent(app, db, "sup@example.com", role="supervisor", online=False)
    ada = agent(app, db, "ada@example.com")
    bob = agent(app, db, "bob@example.com", online=False)
    _set_capacity(admin, me(ada), 1)
    first = handoff(app)[1]
    assert assignees(db, first) == [me(ada)]  # ada is now full: the next ones wait
    convs = [handoff(app)[1] for _ in range(3)]
    # waited 5 minutes, 2 minutes, 30 seconds (the middle one entered first: its place is 1)
    for c, ago in zip(convs, (120, 300, 30), strict=True):
        _queued_ago(db, c, ago)

    q = _queue(sup, team_id(db, "Support"))
    assert q["team"]["name"] == "Support"
    assert [w["conversation"]["id"] for w in q["waiting"]] == [convs[1], convs[0], convs[2]]
    assert [w["position"] for w in q["waiting"]] == [1, 2, 3]
    for w, expected in zip(q["waiting"], (300, 120, 30), strict=True):
        assert expected <= w["waiting_seconds"] <= expected + 10
        assert w["offered_to"] is None and w["conversation"]["phase"] == "waiting"
    agents = {a["email"]: a for a in q["agents"]}
    assert agents["ada@example.com"]["active_chats"] == 1 and agents["ada@example.com"]["capacity"] == 1
    assert agents["ada@example.com"]["at_capacity"] is True
    assert agents["ada@example.com"]["availability"] == "online"
    assert agents["bob@example.com"] == {**agents["bob@example.com"], "active_chats": 0, "capacity": 3,
                                         "at_capacity": False, "availability": "offline"}
    # the admin sees the same; without team_id, every team
    assert [t["team"]["name"] for t in admin.get("/supervisor/queue").get_json()["queues"]] == ["Support"]

    # the supervisor assigns the longest-waiting chat to bob through the assignment API: it leaves the queue
    r = sup.post(f"/conversations/{convs[1]}/assign", {"user_ids": [me(bob)]})
    assert r.status_code == 200
    q = _queue(sup, team_id(db, "Support"))
    assert [w["conversation"]["id"] for w in q["waiting"]] == [convs[0], convs[2]]
    assert [w["position"] for w in q["waiting"]] == [1, 2]
    assert {a["email"]: a["active_chats"] for a in q["agents"]}["bob@example.com"] == 1
    assert convs[1] in [c["id"] for c in _rows(bob, "view=mine")]
    # over capacity: the assignment API lets supervisors (not agents) put a chat on a full agent
    assert sup.post(f"/conversations/{convs[0]}/assign", {"user_ids": [me(ada)]}).status_code == 200
    assert {a["email"]: a["active_chats"] for a in _queue(sup, team_id(db, "Support"))["agents"]}[
        "ada@example.com"] == 2


def test_queue_shows_whom_a_chat_is_offered_to(app: Flask, db: Database) -> None:
    admin = agent(app, db, "admin@example.com", role="admin", online=False)
    set_routing(admin, team_id(db, "Support"), offer_timeout_seconds=30)
    ada = agent(app, db, "ada@example.com")
    conv_id = handoff(app)[1]
    q = _queue(admin, team_id(db, "Support"))
    [w] = q["waiting"]
    assert w["conversation"]["id"] == conv_id and w["conversation"]["phase"] == "assigning"
    assert w["offered_to"] == {"id": me(ada), "name": "Ada"} and w["offer_expires_at"]
    assert q["agents"][0]["active_chats"] == 1  # an offer holds a place in the agent's capacity


def test_agents_may_not_open_the_queue_or_active_views_and_bad_input_is_4xx(app: Flask, db: Database) -> None:
    sup = agent(app, db, "sup@example.com", role="supervisor", online=False)
    ada = agent(app, db, "ada@example.com", online=False)
    handoff(app)
    for path in ("/supervisor/queue", f"/supervisor/queue?team_id={team_id(db, 'Support')}",
                 "/conversations?view=active"):
        r = ada.get(path)
        assert r.status_code == 403 and r.get_json()["error"]["code"] == "forbidden", path
    for path, status in (("/supervisor/queue?team_id=x", 400), ("/supervisor/queue?team_id=999", 404),
                         ("/conversations?view=active&status=closed", 400), ("/conversations?view=queue", 400),
                         ("/conversations?filter=everything", 400), ("/unread", 400),
                         ("/unread?ids=" + ",".join(f"c_{i}" for i in range(101)), 400)):
        r = sup.get(path)
        assert r.status_code == status and "error" in r.get_json(), path
    assert sup.client.get("/api/v1/supervisor/queue?team_id=99999999999").status_code == 400
    spec = sup.client.get("/api/v1/openapi.json").get_json()
    assert "/api/v1/supervisor/queue" in spec["paths"] or "/supervisor/queue" in spec["paths"]


def test_active_lists_every_open_conversation_a_supervisor_may_see(app: Flask, db: Database) -> None:
    admin = agent(app, db, "admin@example.com", role="admin", online=False)
    sup = agent(app, db, "sup@example.com", role="supervisor", online=False)
    ada = agent(app, db, "ada@example.com", online=False)
    agent(app, db, "bea@example.com", team="Billing", online=False)
    waiting = handoff(app)[1]
    with_bot = Customer(app)
    bot_conv = with_bot.say("hello")["conversation_id"]
    billing = handoff(app)[1]
    assert sup.post(f"/conversations/{billing}/transfer", {"to_team_id": team_id(db, "Billing")}).status_code == 200
    closed = handoff(app)[1]
    assert ada.post(f"/conversations/{closed}/close").status_code == 200
    secret = handoff(app, "a person please, it is confidential")[1]
    r = admin.client.put(f"/api/v1/conversations/{secret}/visibility", json={"user_ids": [me(ada)]},
                         headers={"X-CSRF-Token": admin.csrf})
    assert r.status_code == 200

    for boss in (admin, sup):
        rows = _rows(boss, "view=active")
        ids = {c["id"] for c in rows}
        assert ids == {waiting, bot_conv, billing}  # other teams and the bot's too; not closed, not restricted
        assert all(c["status"] == "open" for c in rows)
        assert boss.get(f"/conversations/{secret}").status_code == 404
    assert {c["id"] for c in _rows(ada, "view=team")} == {waiting, secret}  # her team and what is hers to see


def _check_tiles(a: Agent) -> dict[str, int]:
    """Each tile's number is what its list shows: rows for the conversation tiles, the sum of the rows'
    figures for the message tiles, and no row without something to count. Its console view agrees."""
    counts = a.counters()
    for tile in TILES:
        rows = _rows(a, f"filter={tile}")
        assert {c["id"] for c in rows} == {c["id"] for c in _rows(a, f"view={TILE_VIEW[tile]}&filter={tile}")}
        if tile in ("unassigned", "assigned_to_me"):
            assert counts[tile] == len(rows), (tile, counts, rows)
        else:
            figure = "unread" if tile == "unread" else "unreplied"
            assert all(c[figure] > 0 for c in rows), tile
            assert counts[tile] == sum(c[figure] for c in rows), (tile, counts)
        if tile == "unassigned":
            assert all(not c["assignees"] and c["owner"] == "human" for c in rows)
        if tile in ("assigned_to_me", "my_unreplied"):
            assert all(me(a) in [x["id"] for x in c["assignees"]] for c in rows)
    return counts


def test_each_tile_opens_exactly_what_it_counts(app: Flask, db: Database) -> None:
    admin = agent(app, db, "admin@example.com", role="admin", online=False)
    sup = agent(app, db, "sup@example.com", role="supervisor", online=False)
    ada = agent(app, db, "ada@example.com", online=False)
    bob = agent(app, db, "bob@example.com", online=False)
    people = (admin, sup, ada, bob)
    for a in people:
        assert _check_tiles(a) == dict.fromkeys(TILES, 0)

    customers = [handoff(app, f"a person please ({i})") for i in range(4)]
    (c0, id0), (c1, id1), (c2, id2), (_, id3) = customers
    c0.say("are you there?")
    c1.say("hello?")
    c1.say("anyone?")
    assert _check_tiles(ada) == {"unassigned": 4, "unreplied": 7, "my_unreplied": 0, "assigned_to_me": 0,
                                 "unread": 7}

    assert ada.post(f"/conversations/{id0}/assign", {"user_ids": [me(ada)]}).status_code == 200
    assert sup.post(f"/conversations/{id1}/assign", {"user_ids": [me(ada), me(bob)]}).status_code == 200
    assert ada.post(f"/conversations/{id0}/messages", {"text": "Here I am"}).status_code == 201
    assert ada.post(f"/conversations/{id1}/messages", {"text": "noted", "private": True}).status_code == 201
    assert ada.post(f"/conversations/{id1}/read").status_code == 204
    assert bob.post(f"/conversations/{id2}/read").status_code == 204
    c0.say("thanks, and one more thing")
    assert _check_tiles(ada) == {"unassigned": 2, "unreplied": 6, "my_unreplied": 4, "assigned_to_me": 2,
                                 "unread": 3}
    assert _check_tiles(bob)["assigned_to_me"] == 1

    # a restricted chat counts and lists only for its named user; a chat back with the bot leaves them all
    r = admin.client.put(f"/api/v1/conversations/{id2}/visibility", json={"user_ids": [me(bob)]},
                         headers={"X-CSRF-Token": admin.csrf})
    assert r.status_code == 200
    assert sup.post(f"/conversations/{id3}/return-to-bot").status_code == 200
    c2.say("still waiting")
    for a in people:
        _check_tiles(a)
    assert _check_tiles(ada)["unassigned"] == 0
    assert _check_tiles(bob)["unassigned"] == 1


def test_each_row_shows_its_own_unread_count(app: Flask, db: Database) -> None:
    ada = agent(app, db, "ada@example.com", online=False)
    bob = agent(app, db, "bob@example.com", online=False)
    admin = agent(app, db, "admin@example.com", role="admin", online=False)
    (c1, id1), (c2, id2) = handoff(app), handoff(app)
    c2.say("second")
    c2.say("third")
    assert ada.post(f"/conversations/{id1}/read").status_code == 204
    rows = {c["id"]: c["unread"] for c in _rows(ada, "view=team")}
    assert rows == {id1: 0, id2: 3}
    assert ada.get(f"/unread?ids={id1},{id2},c_nosuch").get_json() == {"unread": {id1: 0, id2: 3}}
    assert ada.get("/unread?ids=%00,../x,%25").get_json() == {"unread": {}}
    assert {c["id"]: c["unread"] for c in _rows(bob, "view=team")} == {id1: 1, id2: 3}
    c1.say("news")
    assert ada.get(f"/unread?ids={id1}").get_json() == {"unread": {id1: 1}}
    # a chat restricted to others is not told about
    r = admin.client.put(f"/api/v1/conversations/{id2}/visibility", json={"user_ids": [me(bob)]},
                         headers={"X-CSRF-Token": admin.csrf})
    assert r.status_code == 200
    assert ada.get(f"/unread?ids={id1},{id2}").get_json() == {"unread": {id1: 1}}


def test_supervisors_hear_what_moves_the_queue(app: Flask, db: Database) -> None:
    """The Queue view refreshes on the realtime listener's existing events in the supervisors' room:
    a chat entering or leaving the queue (`conversation`), an agent's availability (`availability`)."""
    sup = agent(app, db, "sup@example.com", role="supervisor", online=False)
    ada = agent(app, db, "ada@example.com", online=False)
    sup.socket.get_received("/console")
    conv_id = handoff(app)[1]
    heard = [c for c in console_events(sup, "conversation") if c["id"] == conv_id]
    assert heard and heard[-1]["phase"] == "waiting"
    assert ada.post("/me/availability", {"status": "online"}).status_code == 200  # routing gives her the chat
    assert assignees(db, conv_id) == [me(ada)]
    received = [(p["name"], event_payload(p)) for p in sup.socket.get_received("/console")]
    assert any(name == "availability" and e["user_id"] == me(ada) and e["availability"] == "online"
               for name, e in received)
    heard = [e for name, e in received if name == "conversation" and e["id"] == conv_id]
    assert heard and heard[-1]["phase"] == "assigned" and heard[-1]["assignees"][0]["id"] == me(ada)
    assert _queue(sup, team_id(db, "Support"))["waiting"] == []
