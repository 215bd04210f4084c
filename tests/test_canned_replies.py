"""Canned replies: team and personal scopes, who may read and manage them, and a conversation's workspace
(an agent works a conversation with its team's replies, routing and hours, whatever their home team)."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import select

from models.accounts.teams import do_add_member
from models.accounts.tokens import do_issue_token
from models.db import Database
from models.routing.canned import do_create_canned_reply
from models.schema.accounts import AuditEvent, Team, User
from models.schema.conversations import Conversation
from models.schema.routing import CannedReply
from tests.support.actors import Agent, make_user
from tests.support.routing import handoff, set_routing, team_id


def _patch(a: Agent, path: str, body: Any) -> Any:
    return a.client.patch(f"/api/v1{path}", json=body, headers={"X-CSRF-Token": a.csrf})


def _delete(a: Agent, path: str) -> Any:
    return a.client.delete(f"/api/v1{path}", headers={"X-CSRF-Token": a.csrf})


def _codes(r: Any) -> list[str]:
    assert r.status_code == 200, r.get_json()
    return [x["short_code"] for x in r.get_json()["canned_replies"]]


def _create(a: Agent, code: str, body: str, team: int | None = None) -> dict[str, Any]:
    r = a.post("/canned_replies", {"short_code": code, "body": body, "team_id": team})
    assert r.status_code == 201, r.get_json()
    return dict(r.get_json())


def _move_to(db: Database, public_id: str, team_name: str) -> None:
    with db.transaction() as s:
        conv = s.scalar(select(Conversation).where(Conversation.public_id == public_id))
        assert conv is not None
        conv.team_id = team_id(db, team_name)


def _join(db: Database, email: str, team_name: str) -> None:
    with db.transaction() as s:
        user = s.scalar(select(User).where(User.email == email))
        team = s.scalar(select(Team).where(Team.name == team_name))
        assert user is not None and team is not None
        do_add_member(s, team, user)


def _people(app: Flask, db: Database) -> dict[str, Agent]:
    """Support (the default team): Ada (agent); Billing: Bob (agent); Sue, a supervisor (in Support)."""
    make_user(db, "ada@example.com", team="Support")
    make_user(db, "bob@example.com", team="Billing")
    make_user(db, "sue@example.com", role="supervisor")
    return {"ada": Agent(app, "ada@example.com"), "bob": Agent(app, "bob@example.com"),
            "sue": Agent(app, "sue@example.com")}


def test_team_and_personal_replies_are_seen_only_by_whom_they_belong_to(app: Flask, db: Database) -> None:
    p = _people(app, db)
    ada, bob, sue = p["ada"], p["bob"], p["sue"]
    support, billing = team_id(db, "Support"), team_id(db, "Billing")
    refund = _create(sue, "refund", "Hi {{contact.name}}, your refund is on its way. {{agent.name}}", billing)
    _create(sue, "hello", "Hello from Support!", support)
    mine = _create(ada, "sig", "Ada from Support")  # personal
    assert refund["scope"] == "team" and refund["team"] == {"id": billing, "name": "Billing"}
    assert mine["scope"] == "personal" and mine["team"] is None and mine["can_edit"] is True

    # each agent: their teams' replies and their own personal ones; never another team's, never others' own
    assert _codes(ada.get("/canned_replies")) == ["hello", "sig"]
    assert _codes(bob.get("/canned_replies")) == ["refund"]
    assert _codes(sue.get("/canned_replies")) == ["hello", "refund"]  # every team; not Ada's personal one
    assert _codes(sue.get(f"/canned_replies?team_id={billing}")) == ["refund"]
    # another team's replies are out of an agent's reach, as if they did not exist
    assert ada.get(f"/canned_replies?team_id={billing}").status_code == 404
    assert _patch(ada, f"/canned_replies/{refund['id']}", {"body": "x"}).status_code == 404
    assert _delete(ada, f"/canned_replies/{refund['id']}").status_code == 404
    # nobody else reads or touches a personal reply, not even a supervisor
    assert _patch(bob, f"/canned_replies/{mine['id']}", {"body": "x"}).status_code == 404
    assert _patch(sue, f"/canned_replies/{mine['id']}", {"body": "x"}).status_code == 404
    assert _delete(sue, f"/canned_replies/{mine['id']}").status_code == 404
    # search in code and text
    assert _codes(sue.get("/canned_replies?q=REFUND")) == ["refund"]
    assert _codes(sue.get("/canned_replies?q=support")) == ["hello"]
    assert _codes(ada.get("/canned_replies?q=ada")) == ["sig"]


def test_who_may_manage_replies(app: Flask, db: Database) -> None:
    p = _people(app, db)
    ada, bob, sue = p["ada"], p["bob"], p["sue"]
    billing = team_id(db, "Billing")
    # agents keep personal replies; a team's shared replies are managed by supervisors and admins
    r = bob.post("/canned_replies", {"short_code": "refund", "body": "x", "team_id": billing})
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "forbidden"
    reply = _create(sue, "refund", "Your refund is on its way.", billing)
    listed = bob.get("/canned_replies").get_json()["canned_replies"]
    assert listed[0]["can_edit"] is False
    assert _patch(bob, f"/canned_replies/{reply['id']}", {"body": "x"}).status_code == 403
    assert _delete(bob, f"/canned_replies/{reply['id']}").status_code == 403
    r = _patch(sue, f"/canned_replies/{reply['id']}", {"short_code": "Refund-2", "body": "  Refunded.  "})
    assert r.status_code == 200 and r.get_json()["short_code"] == "refund-2" and r.get_json()["body"] == "Refunded."
    own = _create(ada, "bye", "Bye!")
    assert _patch(ada, f"/canned_replies/{own['id']}", {"body": "Bye now!"}).get_json()["body"] == "Bye now!"
    assert _delete(ada, f"/canned_replies/{own['id']}").status_code == 204
    assert _codes(ada.get("/canned_replies")) == []
    with db.session() as s:
        kinds = list(s.scalars(select(AuditEvent.kind).where(AuditEvent.kind.like("canned_reply.%"))
                               .order_by(AuditEvent.id)))
    assert kinds == ["canned_reply.created", "canned_reply.updated", "canned_reply.created",
                     "canned_reply.updated", "canned_reply.deleted"]


def test_bad_input_and_duplicates(app: Flask, db: Database) -> None:
    p = _people(app, db)
    ada, sue = p["ada"], p["sue"]
    billing = team_id(db, "Billing")
    for body, code in [({"short_code": "no spaces", "body": "x"}, "invalid_code"),
                       ({"short_code": "x" * 41, "body": "x"}, "invalid_code"),
                       ({"short_code": "ok", "body": "   "}, "invalid"),
                       ({"short_code": "ok", "body": "x" * 4001}, "too_long"),
                       ({"short_code": "ok", "body": "x", "team_id": "1"}, "invalid"),
                       ({"short_code": "ok", "body": "x", "colour": "red"}, "invalid")]:
        r = ada.post("/canned_replies", body)
        assert r.status_code == 400 and r.get_json()["error"]["code"] == code, (body, r.get_json())
    assert ada.post("/canned_replies", {"short_code": "ok", "body": "x", "team_id": 999}).status_code == 404
    _create(ada, "thanks", "Thanks!")
    r = ada.post("/canned_replies", {"short_code": "THANKS", "body": "again"})
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "code_taken"
    # the same code in other scopes is fine: another user's personal one, a team's
    _create(sue, "thanks", "Thanks from Sue")
    team_reply = _create(sue, "thanks", "Thanks from Billing", billing)
    other = _create(sue, "cheers", "Cheers", billing)
    assert _patch(sue, f"/canned_replies/{other['id']}", {"short_code": "thanks"}).status_code == 409
    assert _patch(sue, f"/canned_replies/{team_reply['id']}", {"team_id": None}).status_code == 400
    assert ada.client.post("/api/v1/canned_replies", json={"short_code": "a", "body": "b"}).status_code == 401  # CSRF
    assert app.test_client().get("/api/v1/canned_replies").status_code == 401
    with db.transaction() as s:
        token = do_issue_token(s, "ada@example.com")
    r = app.test_client().get("/api/v1/canned_replies", headers={"Authorization": f"Bearer {token}"})
    assert _codes(r) == ["thanks"]


def test_the_workspace_is_the_conversations_teams(app: Flask, db: Database) -> None:
    p = _people(app, db)
    ada, bob, sue = p["ada"], p["bob"], p["sue"]
    billing = team_id(db, "Billing")
    make_user(db, "admin@example.com", role="admin")
    admin = Agent(app, "admin@example.com")
    set_routing(admin, billing, policy="manual")
    _create(sue, "refund", "Hi {{contact.name}}, your refund is on its way. — {{ agent.name }}", billing)
    _create(sue, "hello", "Hello from Support", team_id(db, "Support"))
    _create(sue, "sig", "Sue, supervisor")  # Sue's own
    _create(bob, "bobsig", "Bob, Billing")  # Bob's own: nobody else's workspace shows it
    customer, cid = handoff(app)
    _move_to(db, cid, "Billing")
    contact_name = sue.get(f"/conversations/{cid}").get_json()["contact"]["name"]

    # the supervisor enters Billing's conversation: works with Billing's replies (and her own), not Support's
    w = sue.get(f"/conversations/{cid}/workspace").get_json()
    assert w["team"] == {"id": billing, "name": "Billing"} and w["on_behalf"] is True and w["member"] is False
    assert [(r["short_code"], r["scope"]) for r in w["canned_replies"]] == [("refund", "team"), ("sig", "personal")]
    assert w["canned_replies"][0]["text"] == f"Hi {contact_name}, your refund is on its way. — Sue"
    assert w["routing"]["policy"] == "manual"
    assert w["hours"]["always_open"] is True and w["hours"]["open_now"] is True

    # Billing's own agent: a member, with Billing's replies and his own
    w = bob.get(f"/conversations/{cid}/workspace").get_json()
    assert w["member"] is True and w["on_behalf"] is False
    assert [r["short_code"] for r in w["canned_replies"]] == ["refund", "bobsig"]
    assert w["canned_replies"][0]["text"].endswith("— Bob")

    # an agent of another team cannot see the conversation, so not its team's workspace either
    assert ada.get(f"/conversations/{cid}/workspace").status_code == 404
    # ... until she is in both teams: then the conversation's team applies
    _join(db, "ada@example.com", "Billing")
    w = Agent(app, "ada@example.com").get(f"/conversations/{cid}/workspace").get_json()
    assert w["team"]["name"] == "Billing" and [r["short_code"] for r in w["canned_replies"]] == ["refund"]
    assert customer is not None


def test_a_named_user_gets_another_teams_replies_only_through_the_conversation(app: Flask, db: Database) -> None:
    p = _people(app, db)
    ada, sue = p["ada"], p["sue"]
    billing = team_id(db, "Billing")
    make_user(db, "admin@example.com", role="admin")
    admin = Agent(app, "admin@example.com")
    _create(sue, "refund", "Your refund is on its way.", billing)
    _, cid = handoff(app)
    _move_to(db, cid, "Billing")
    ada_id = ada.get("/me").get_json()["id"]
    r = admin.client.put(f"/api/v1/conversations/{cid}/visibility", json={"user_ids": [ada_id]},
                         headers={"X-CSRF-Token": admin.csrf})
    assert r.status_code == 200
    w = ada.get(f"/conversations/{cid}/workspace").get_json()
    assert w["on_behalf"] is True and [r["short_code"] for r in w["canned_replies"]] == ["refund"]
    # the list stays hers: Billing's replies are not hers to browse outside that conversation
    assert _codes(ada.get("/canned_replies")) == []
    assert ada.get(f"/canned_replies?team_id={billing}").status_code == 404
    # and the supervisor, no longer among the named users, loses the conversation's workspace
    assert sue.get(f"/conversations/{cid}/workspace").status_code == 404


def test_two_saves_of_one_code_at_once_give_a_conflict_not_an_error(app: Flask, db: Database,
                                                                     monkeypatch: Any) -> None:
    import pytest

    from models.errors import Conflict

    make_user(db, "ada@example.com")
    with db.transaction() as s:
        ada = s.scalar(select(User).where(User.email == "ada@example.com"))
        assert ada is not None
        do_create_canned_reply(s, ada, short_code="hi", body="Hi!", team_id=None)
    from models.routing import canned

    monkeypatch.setattr(canned, "_code_taken", lambda *a: False)  # both checked before either committed
    with pytest.raises(Conflict), db.transaction() as s:
        ada = s.scalar(select(User).where(User.email == "ada@example.com"))
        assert ada is not None
        do_create_canned_reply(s, ada, short_code="hi", body="Hello!", team_id=None)
    with db.session() as s:
        assert [r.body for r in s.scalars(select(CannedReply))] == ["Hi!"]
