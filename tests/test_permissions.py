"""Who may see and do what: teams, roles, tokens, CSRF; out of reach looks like unknown."""

from __future__ import annotations

from flask import Flask

from console.extensions import socketio
from models.accounts.tokens import do_issue_token
from models.db import Database
from tests.support.actors import Agent, Customer, make_user


def _other_team_conversation(app: Flask, db: Database) -> str:
    """A handed-off conversation in the default team ("Support")."""
    return Customer(app).say("a human please")["conversation_id"]


def test_agent_of_another_team_cannot_see_or_act(app: Flask, db: Database) -> None:
    make_user(db, "ada@example.com")  # Support
    make_user(db, "sam@example.com", team="Sales")
    conv_id = _other_team_conversation(app, db)
    sam = Agent(app, "sam@example.com")
    assert sam.get("/conversations?view=team").get_json()["conversations"] == []
    assert sam.counters()["unreplied"] == 0
    for call in (lambda: sam.get(f"/conversations/{conv_id}"),
                 lambda: sam.get(f"/conversations/{conv_id}/messages"),
                 lambda: sam.post(f"/conversations/{conv_id}/messages", {"text": "hi"}),
                 lambda: sam.post(f"/conversations/{conv_id}/close"),
                 lambda: sam.post(f"/conversations/{conv_id}/assign", {"user_ids": []})):
        r = call()
        assert r.status_code == 404 and r.get_json()["error"]["code"] == "not_found"
    # nothing was written by the refused calls
    ada = Agent(app, "ada@example.com")
    msgs = ada.get(f"/conversations/{conv_id}/messages").get_json()["messages"]
    assert [m["sender_type"] for m in msgs] == ["contact", "bot"]


def test_supervisor_sees_every_team(app: Flask, db: Database) -> None:
    make_user(db, "sue@example.com", role="supervisor", team="Sales")
    conv_id = _other_team_conversation(app, db)
    sue = Agent(app, "sue@example.com")
    assert [c["id"] for c in sue.get("/conversations").get_json()["conversations"]] == [conv_id]


def test_cannot_assign_someone_outside_the_team(app: Flask, db: Database) -> None:
    make_user(db, "ada@example.com")
    sam = make_user(db, "sam@example.com", team="Sales")
    conv_id = _other_team_conversation(app, db)
    ada = Agent(app, "ada@example.com")
    r = ada.post(f"/conversations/{conv_id}/assign", {"user_ids": [sam]})
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "not_in_team"
    r = ada.post(f"/conversations/{conv_id}/assign", {"user_ids": [9999]})
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "unknown_user"
    r = ada.post(f"/conversations/{conv_id}/assign", {"user_ids": "everyone"})
    assert r.status_code == 400
    assert ada.get(f"/conversations/{conv_id}").get_json()["assignees"] == []


def test_several_assignees(app: Flask, db: Database) -> None:
    a = make_user(db, "ada@example.com")
    b = make_user(db, "bob@example.com")
    make_user(db, "sue@example.com", role="supervisor")
    conv_id = _other_team_conversation(app, db)
    ada = Agent(app, "sue@example.com")  # assigning others is a supervisor's act
    conv = ada.post(f"/conversations/{conv_id}/assign", {"user_ids": [a, b]}).get_json()
    assert [x["id"] for x in conv["assignees"]] == [a, b] and conv["phase"] == "assigned"
    conv = ada.post(f"/conversations/{conv_id}/assign", {"user_ids": []}).get_json()
    assert conv["assignees"] == [] and conv["phase"] == "waiting"


def test_api_needs_login_and_csrf(app: Flask, db: Database) -> None:
    make_user(db, "ada@example.com")
    anon = app.test_client()
    r = anon.get("/api/v1/counters")
    assert r.status_code == 401 and r.get_json()["error"]["code"] == "unauthorized"
    ada = Agent(app, "ada@example.com")
    conv_id = _other_team_conversation(app, db)
    r = ada.client.post(f"/api/v1/conversations/{conv_id}/messages", json={"text": "x"})  # no CSRF header
    assert r.status_code == 401 and r.get_json()["error"]["code"] == "csrf"
    r = ada.client.post(f"/api/v1/conversations/{conv_id}/messages", json={"text": "x"},
                        headers={"X-CSRF-Token": "forged"})
    assert r.status_code == 401


def test_bearer_token(app: Flask, db: Database) -> None:
    make_user(db, "ada@example.com")
    with db.transaction() as s:
        token = do_issue_token(s, "ada@example.com")
    client = app.test_client()
    r = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200 and r.get_json()["email"] == "ada@example.com"
    assert r.get_json()["teams"] == [{"id": 1, "name": "Support"}]
    conv_id = _other_team_conversation(app, db)
    r = client.post(f"/api/v1/conversations/{conv_id}/messages", json={"text": "from the API"},
                    headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 201
    assert client.get("/api/v1/me", headers={"Authorization": "Bearer pt_wrong"}).status_code == 401


def test_login_form(app: Flask, db: Database) -> None:
    make_user(db, "ada@example.com")
    client = app.test_client()
    assert client.get("/").status_code == 302  # to the login page
    client.get("/login")
    with client.session_transaction() as sess:
        token = sess["csrf"]
    r = client.post("/login", data={"email": "ada@example.com", "password": "wrong", "csrf_token": token})
    assert r.status_code == 401 and b"Wrong email or password" in r.data
    r = client.post("/login", data={"email": "ada@example.com", "password": "x", "csrf_token": "forged"})
    assert r.status_code == 400
    # an open redirect through ?next= is refused
    r = client.post("/login?next=https://evil.example/", data={
        "email": "ada@example.com", "password": "correct horse battery", "csrf_token": token})
    assert r.status_code == 302 and r.headers["Location"] == "/"


def test_console_socket_needs_a_login(app: Flask) -> None:
    anon = socketio.test_client(app, namespace="/console")
    assert not anon.is_connected("/console")


def test_agent_of_another_team_hears_nothing(app: Flask, db: Database) -> None:
    make_user(db, "sam@example.com", team="Sales")
    sam = Agent(app, "sam@example.com")
    sam.socket.get_received("/console")
    Customer(app).say("a human please")
    heard = {p["name"] for p in sam.socket.get_received("/console")}
    assert "message" not in heard and "conversation" not in heard
