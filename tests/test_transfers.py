"""Transfers: agent to agent (accept, reject, expire: both told), to another team's queue, and a
supervisor's direct reassignment; each step in the conversation's journey."""

from __future__ import annotations

from flask import Flask

from models.db import Database
from tests.support.actors import Agent
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
    team_id,
)


def _assigned_to_ada(app: Flask, db: Database) -> tuple[Agent, Agent, str]:
    ada = agent(app, db, "ada@example.com")
    _, conv_id = handoff(app)  # ada is the only one online: she gets it
    bob = agent(app, db, "bob@example.com", online=False)
    bob.post("/me/availability", {"status": "away"})  # away: gets no new chats, can be asked
    assert assignees(db, conv_id) == [me(ada)]
    notifications(ada)
    return ada, bob, conv_id


def test_accepted_transfer_moves_the_chat_and_tells_the_asker(app: Flask, db: Database) -> None:
    ada, bob, conv_id = _assigned_to_ada(app, db)
    r = ada.post(f"/conversations/{conv_id}/transfer", {"to_user_id": me(bob)})
    assert r.status_code == 200, r.get_json()
    t = r.get_json()["transfer"]
    assert t["status"] == "pending" and t["to_user"]["id"] == me(bob) and t["expires_at"]
    assert r.get_json()["conversation"]["phase"] == "transferring"
    asked = notifications(bob, "transfer")
    assert [(n["transfer"]["id"], n["transfer"]["status"]) for n in asked] == [(t["id"], "pending")]
    assert bob.get("/me/routing").get_json()["transfer_requests"][0]["transfer"]["id"] == t["id"]
    # while it waits, it stays with ada
    assert assignees(db, conv_id) == [me(ada)]
    r = bob.post(f"/transfers/{t['id']}/accept")
    assert r.status_code == 200 and r.get_json()["transfer"]["status"] == "accepted"
    assert assignees(db, conv_id) == [me(bob)] and conv(db, conv_id).phase == "assigned"
    told = notifications(ada, "transfer")
    assert [n["transfer"]["status"] for n in told] == ["pending", "accepted"]
    assert bob.post(f"/transfers/{t['id']}/accept").status_code == 409  # once
    assert audit_kinds(db, conv_id)[-2:] == ["conversation.assigned", "routing.transfer_accepted"]


def test_rejected_transfer_leaves_the_chat_with_the_asker(app: Flask, db: Database) -> None:
    ada, bob, conv_id = _assigned_to_ada(app, db)
    t = ada.post(f"/conversations/{conv_id}/transfer", {"to_user_id": me(bob)}).get_json()["transfer"]
    r = ada.post(f"/conversations/{conv_id}/transfer", {"to_user_id": me(bob)})
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "transfer_pending"
    assert ada.post(f"/transfers/{t['id']}/reject").status_code == 404  # not hers to answer
    r = bob.post(f"/transfers/{t['id']}/reject")
    assert r.status_code == 200 and r.get_json()["transfer"]["status"] == "rejected"
    assert r.get_json()["conversation"]["assignees"][0]["id"] == me(ada)
    assert assignees(db, conv_id) == [me(ada)] and conv(db, conv_id).phase == "assigned"
    assert [n["transfer"]["status"] for n in notifications(ada, "transfer")] == ["pending", "rejected"]
    assert "routing.transfer_rejected" in audit_kinds(db, conv_id)


def test_unanswered_transfer_expires_and_both_are_told(app: Flask, db: Database) -> None:
    ada, bob, conv_id = _assigned_to_ada(app, db)
    t = ada.post(f"/conversations/{conv_id}/transfer", {"to_user_id": me(bob)}).get_json()["transfer"]
    notifications(bob)
    assert runner(app).tick(later(30)) == 0  # not yet
    assert runner(app).tick(later(61)) == 1
    assert conv(db, conv_id).phase == "assigned" and assignees(db, conv_id) == [me(ada)]
    assert [n["transfer"]["status"] for n in notifications(ada, "transfer")] == ["pending", "expired"]
    assert [n["transfer"]["status"] for n in notifications(bob, "transfer")] == ["expired"]
    r = bob.post(f"/transfers/{t['id']}/accept")
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "transfer_expired"
    assert "routing.transfer_expired" in audit_kinds(db, conv_id)


def test_transfer_to_another_teams_queue(app: Flask, db: Database) -> None:
    ada, _bob, conv_id = _assigned_to_ada(app, db)
    billing_agent = agent(app, db, "bill@example.com", team="Billing")
    billing = team_id(db, "Billing")
    r = ada.post(f"/conversations/{conv_id}/transfer", {"to_team_id": billing})
    assert r.status_code == 200 and r.get_json()["transfer"]["status"] == "done"
    assert r.get_json()["conversation"] is None  # she is not in Billing: out of her sight now
    assert conv(db, conv_id).team_id == billing
    assert assignees(db, conv_id) == [me(billing_agent)]  # Billing's queue routed it at once
    assert ada.get(f"/conversations/{conv_id}").status_code == 404
    assert "routing.transferred_to_team" in audit_kinds(db, conv_id)


def test_supervisor_reassigns_directly_and_agents_cannot(app: Flask, db: Database) -> None:
    ada, bob, conv_id = _assigned_to_ada(app, db)
    sup = agent(app, db, "sup@example.com", role="supervisor", online=False)
    r = bob.post(f"/conversations/{conv_id}/transfer", {"to_user_id": me(bob)})
    assert r.status_code == 403  # not his to give away
    r = ada.post(f"/conversations/{conv_id}/transfer", {"to_user_id": me(bob), "direct": True})
    assert r.status_code == 403
    r = sup.post(f"/conversations/{conv_id}/transfer", {"to_user_id": me(bob)})
    assert r.status_code == 200 and r.get_json()["transfer"]["status"] == "done"
    assert assignees(db, conv_id) == [me(bob)]
    assert [n["transfer"]["status"] for n in notifications(ada, "transfer")] == ["done"]
    assert [n["transfer"]["status"] for n in notifications(bob, "transfer")] == ["done"]
    assert "routing.reassigned" in audit_kinds(db, conv_id)


def test_transfer_input_is_checked(app: Flask, db: Database) -> None:
    ada, bob, conv_id = _assigned_to_ada(app, db)
    offline = agent(app, db, "off@example.com", online=False)
    other_team = agent(app, db, "bill@example.com", team="Billing", online=False)
    cases = [
        ({}, 400, "invalid"), ({"to_user_id": me(bob), "to_team_id": 1}, 400, "invalid"),
        ({"to_user_id": "bob"}, 400, "invalid"), ({"to_user_id": 999}, 400, "unknown_user"),
        ({"to_user_id": me(ada)}, 400, "already_assigned"), ({"to_user_id": me(offline)}, 400, "unavailable"),
        ({"to_user_id": me(other_team)}, 400, "not_in_team"), ({"to_team_id": 999}, 400, "unknown_team"),
        ({"to_team_id": team_id(db, "Support")}, 400, "same_team"),
    ]
    for body, status, code in cases:
        r = ada.post(f"/conversations/{conv_id}/transfer", body)
        assert (r.status_code, r.get_json()["error"]["code"]) == (status, code), body
    assert bob.post("/transfers/999/accept").status_code == 404
    assert assignees(db, conv_id) == [me(ada)] and conv(db, conv_id).phase == "assigned"


def test_a_request_overtaken_by_events_is_void(app: Flask, db: Database) -> None:
    ada, bob, conv_id = _assigned_to_ada(app, db)
    t = ada.post(f"/conversations/{conv_id}/transfer", {"to_user_id": me(bob)}).get_json()["transfer"]
    ada.post(f"/conversations/{conv_id}/close")
    r = bob.post(f"/transfers/{t['id']}/accept")
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "transfer_cancelled"
    assert assignees(db, conv_id) == [me(ada)]


def test_only_an_assignee_or_a_supervisor_closes_an_assigned_chat(app: Flask, db: Database) -> None:
    ada, bob, conv_id = _assigned_to_ada(app, db)
    sup = agent(app, db, "sup@example.com", role="supervisor", online=False)
    r = bob.post(f"/conversations/{conv_id}/close")
    assert r.status_code == 403 and conv(db, conv_id).status == "open"
    assert sup.post(f"/conversations/{conv_id}/close").status_code == 200
    assert sup.post(f"/conversations/{conv_id}/reopen").status_code == 200
    assert ada.post(f"/conversations/{conv_id}/close").status_code == 200
