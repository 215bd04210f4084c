"""Issue 13, users (admins): list and search, create or invite by email (a real SMTP server receives the
mail and its link sets the password), edit, deactivate (sessions, tokens and sockets end at once),
reactivate, password reset, the last-admin rule, and each user's own profile."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from console.app import create_app
from console.extensions import socketio
from console.runtime.jobs import InlineJobs
from models.accounts.tokens import do_issue_token
from models.db import Database
from models.schema.accounts import AuditEvent, PasswordLink, User
from models.schema.base import utcnow
from models.settings import Settings
from tests.support.actors import PASSWORD, Agent, make_user
from tests.support.mail import SmtpServer, body_text

LINK = re.compile(r"http://localhost/password/(pw_[\w-]+)")


@pytest.fixture
def mail_app(settings: Settings, engines: list[Any], smtp_server: SmtpServer) -> Iterator[Flask]:
    app = create_app(settings.with_(smtp_url=smtp_server.url), engines=engines, jobs=InlineJobs(), testing=True)
    yield app
    app.extensions["parley"].db.dispose()


def _db(app: Flask) -> Database:
    database: Database = app.extensions["parley"].db
    return database


def _admin(app: Flask, email: str = "root@example.com") -> Agent:
    make_user(_db(app), email, role="admin")
    return Agent(app, email)


def _patch(agent: Agent, path: str, body: Any) -> Any:
    return agent.client.patch(f"/api/v1{path}", json=body, headers={"X-CSRF-Token": agent.csrf})


def _login(client: FlaskClient, email: str, password: str) -> int:
    client.get("/login")
    with client.session_transaction() as sess:
        csrf = sess["csrf"]
    return client.post("/login", data={"email": email, "password": password, "csrf_token": csrf}).status_code


def _set_password(client: FlaskClient, token: str, password: str, confirm: str | None = None) -> Any:
    page = client.get(f"/password/{token}")
    with client.session_transaction() as sess:
        csrf = sess.get("csrf", "")
    return page, client.post(f"/password/{token}", data={"password": password, "confirm": confirm or password,
                                                         "csrf_token": csrf})


def _error(r: Any) -> str:
    return str(r.get_json()["error"]["code"])


def test_invite_by_email_then_the_link_sets_a_password_once(mail_app: Flask, smtp_server: SmtpServer) -> None:
    root = _admin(mail_app)
    team = root.post("/teams", {"name": "Billing"}).get_json()["id"]
    r = root.post("/users", {"email": "Nia@Example.com", "name": "Nia <b>", "role": "supervisor", "team_ids": [team]})
    assert r.status_code == 201, r.get_json()
    user = r.get_json()
    assert user["status"] == "invited" and user["email"] == "nia@example.com" and user["role"] == "supervisor"
    assert [t["name"] for t in user["teams"]] == ["Billing"]
    assert user["invitation"]["sent"] is True
    (msg,) = smtp_server.wait_for(1)
    assert msg["To"] == "nia@example.com" and "invited" in msg["Subject"]
    token = LINK.search(body_text(msg)).group(1)  # type: ignore[union-attr]
    assert "&lt;b&gt;" in body_text(msg, "html")  # the name is escaped in the HTML part
    # only the hash is kept
    with _db(mail_app).session() as s:
        assert [(p.token_hash, p.purpose) for p in s.scalars(select(PasswordLink))] == [
            (hashlib.sha256(token.encode()).hexdigest(), "invite")]
    # an invited user cannot sign in yet, whatever they type
    visitor = mail_app.test_client()
    assert _login(visitor, "nia@example.com", "") == 401
    page, done = _set_password(visitor, token, "short")
    assert page.status_code == 200 and b"Welcome, Nia &lt;b&gt;" in page.data  # escaped
    assert done.status_code == 400 and b"at least 8" in done.data
    _, done = _set_password(visitor, token, "a fine password", "a different one")
    assert done.status_code == 400 and b"differ" in done.data
    _, done = _set_password(visitor, token, "a fine password")
    assert done.status_code == 200 and b"Your password is set" in done.data
    assert _login(visitor, "nia@example.com", "a fine password") == 302
    assert visitor.get("/api/v1/me").get_json()["name"] == "Nia <b>"
    # single use
    page, again = _set_password(mail_app.test_client(), token, "another password")
    assert page.status_code == 404 and again.status_code == 404
    assert root.get(f"/users/{user['id']}").get_json()["status"] == "active"


def test_expired_and_replaced_links_are_refused(mail_app: Flask, smtp_server: SmtpServer) -> None:
    root = _admin(mail_app)
    ada = make_user(_db(mail_app), "ada@example.com")
    r = root.post(f"/users/{ada}/password-reset")
    assert r.status_code == 200 and r.get_json()["purpose"] == "reset" and r.get_json()["mail"]["sent"]
    first = LINK.search(body_text(smtp_server.wait_for(1)[0])).group(1)  # type: ignore[union-attr]
    assert root.post(f"/users/{ada}/password-reset").status_code == 200
    second = LINK.search(body_text(smtp_server.wait_for(2)[1])).group(1)  # type: ignore[union-attr]
    client = mail_app.test_client()
    assert client.get(f"/password/{first}").status_code == 404  # replaced by the newer link
    with _db(mail_app).transaction() as s:  # the second one expires (reset links last 2 h)
        s.execute(update(PasswordLink).values(expires_at=utcnow() - timedelta(seconds=1)))
    page, post = _set_password(client, second, "a new password")
    assert page.status_code == 404 and post.status_code == 404 and b"not valid" in post.data
    assert client.get("/password/pw_guess").status_code == 404 and client.get("/password/x").status_code == 404
    assert _login(client, "ada@example.com", PASSWORD) == 302  # the old password still works


def test_a_reset_link_ends_the_old_sessions(mail_app: Flask, smtp_server: SmtpServer) -> None:
    root = _admin(mail_app)
    ada_id = make_user(_db(mail_app), "ada@example.com")
    ada = Agent(mail_app, "ada@example.com")
    root.post(f"/users/{ada_id}/password-reset")
    token = LINK.search(body_text(smtp_server.wait_for(1)[0])).group(1)  # type: ignore[union-attr]
    _, done = _set_password(mail_app.test_client(), token, "brand new password")
    assert done.status_code == 200
    assert ada.get("/counters").status_code == 401  # whoever held the old session is out
    assert _login(mail_app.test_client(), "ada@example.com", PASSWORD) == 401
    assert _login(mail_app.test_client(), "ada@example.com", "brand new password") == 302


def test_invitation_needs_smtp_and_a_failed_mail_is_reported(app: Flask, settings: Settings,
                                                              engines: list[Any]) -> None:
    root = _admin(app)
    r = root.post("/users", {"email": "nia@example.com"})
    assert r.status_code == 409 and _error(r) == "mail_not_configured"
    listed = root.get("/users?q=nia")
    assert listed.get_json().get("total") == 0, listed.get_json()  # nothing was written
    # a server that is configured but down: the user exists, the answer says the mail did not go
    down = create_app(settings.with_(smtp_url="smtp://127.0.0.1:9"), engines=engines, jobs=InlineJobs(),
                      testing=True)
    try:
        root2 = Agent(down, "root@example.com")
        r = root2.post("/users", {"email": "nia@example.com"})
        assert r.status_code == 201 and r.get_json()["invitation"]["sent"] is False
        assert "not sent" in r.get_json()["invitation"]["error"]
    finally:
        down.extensions["parley"].db.dispose()


def test_create_with_password_list_search_and_edit(app: Flask, db: Database) -> None:
    root = _admin(app)
    sales = root.post("/teams", {"name": "Sales"}).get_json()["id"]
    r = root.post("/users", {"email": "bo@example.com", "name": "Bo Diddley", "password": "long enough pw",
                             "capacity": 5})
    assert r.status_code == 201 and r.get_json()["invitation"] is None and r.get_json()["status"] == "active"
    bo = r.get_json()["id"]
    assert _login(app.test_client(), "bo@example.com", "long enough pw") == 302
    assert root.post("/users", {"email": "BO@example.com", "password": "long enough pw"}).status_code == 409
    make_user(db, "zed@example.com", role="supervisor")
    found = root.get("/users?q=DIDD").get_json()
    assert [u["email"] for u in found["users"]] == ["bo@example.com"] and found["total"] == 1
    assert [u["email"] for u in root.get("/users?role=supervisor").get_json()["users"]] == ["zed@example.com"]
    assert root.get("/users?q=%25").get_json()["total"] == 0  # LIKE wildcards are literal
    assert root.get(f"/users?team_id={sales}").get_json()["total"] == 0
    r = _patch(root, f"/users/{bo}", {"name": "Bo", "role": "supervisor", "team_ids": [sales], "capacity": None})
    assert r.status_code == 200, r.get_json()
    out = r.get_json()
    assert (out["name"], out["role"], [t["name"] for t in out["teams"]], out["capacity"], out["capacity_override"]) \
        == ("Bo", "supervisor", ["Sales"], 3, None)
    assert root.get(f"/users?team_id={sales}").get_json()["total"] == 1
    with db.session() as s:
        kinds = [e.kind for e in s.scalars(select(AuditEvent).where(AuditEvent.kind.like("user.%")))]
    assert "user.created" in kinds and "user.updated" in kinds


def test_bad_input_is_a_clear_400_never_a_500(app: Flask, db: Database) -> None:
    root = _admin(app)
    ada = make_user(db, "ada@example.com")
    for body in ({"email": "not an email", "password": "long enough pw"}, {"email": "x@example.com", "role": "god"},
                 {"email": "x@example.com", "password": "short"}, {"email": "x@example.com", "team_ids": [999]},
                 {"email": "x@example.com", "capacity": 101}, {"email": 5}, {"email": "x@example.com", "extra": 1},
                 {"email": "x@example.com", "name": "   ", "password": "long enough pw"}):
        r = root.post("/users", body)
        assert r.status_code == 400, (body, r.get_json())
        assert r.get_json()["error"]["message"]
    for body in ({"role": "god"}, {"team_ids": "all"}, {"team_ids": [999]}, {"capacity": -1}, {"name": ""},
                 {"name": 3}, [1]):
        r = _patch(root, f"/users/{ada}", body)
        assert r.status_code == 400, (body, r.get_json())
    assert root.client.post("/api/v1/users", data="{", headers={"X-CSRF-Token": root.csrf,
                                                                 "Content-Type": "application/json"}).status_code == 400
    assert root.get("/users?limit=0").status_code == 400 and root.get("/users?status=gone").status_code == 400
    assert root.get("/users/99999").status_code == 404 and root.post("/users/99999/deactivate").status_code == 404
    assert root.get("/users/99999999999").status_code == 404


def test_roles_who_may_read_and_who_may_change(app: Flask, db: Database) -> None:
    root = _admin(app)
    ada_id = make_user(db, "ada@example.com")
    make_user(db, "sue@example.com", role="supervisor")
    ada, sue = Agent(app, "ada@example.com"), Agent(app, "sue@example.com")
    # agents read who can be assigned a chat (the console's picker), nothing more
    assert ada.get("/users").status_code == 200 and ada.get(f"/users/{ada_id}").status_code == 403
    assert ada.get("/users?status=deactivated").status_code == 403 and ada.get("/users?status=all").status_code == 403
    assert sue.get("/users?status=all").status_code == 200
    assert sue.get("/users").status_code == 200 and sue.get(f"/users/{ada_id}").status_code == 200
    for who in (ada, sue):
        assert who.post("/users", {"email": "x@example.com", "password": "long enough pw"}).status_code == 403
        assert _patch(who, f"/users/{ada_id}", {"role": "admin"}).status_code == 403
        assert who.post(f"/users/{ada_id}/deactivate").status_code == 403
        assert who.post(f"/users/{ada_id}/password-reset").status_code == 403
        assert who.post("/teams", {"name": "Mine"}).status_code == 403
    assert root.get(f"/users/{ada_id}").get_json()["role"] == "agent"
    assert app.test_client().get("/api/v1/users").status_code == 401
    # pages: admins only
    assert ada.client.get("/admin/users").status_code == 403 and sue.client.get("/admin/teams").status_code == 403
    assert root.client.get("/admin/users").status_code == 200 and root.client.get("/admin/teams").status_code == 200
    assert b"admin-users-link" in root.client.get("/").data and b"admin-users-link" not in ada.client.get("/").data


def test_the_last_active_admin_cannot_be_demoted_or_deactivated(app: Flask, db: Database) -> None:
    root = _admin(app)
    root_id = root.get("/me").get_json()["id"]
    r = _patch(root, f"/users/{root_id}", {"role": "agent"})
    assert r.status_code == 409 and _error(r) == "last_admin"
    assert "last active admin" in r.get_json()["error"]["message"]
    r = root.post(f"/users/{root_id}/deactivate")
    assert r.status_code == 409 and _error(r) == "last_admin"
    # a second admin who is only invited does not count
    with db.transaction() as s:
        s.add(User(email="inv@example.com", name="Inv", role="admin", password_hash="", invited_at=utcnow()))
    assert root.post(f"/users/{root_id}/deactivate").status_code == 409
    ann = make_user(db, "ann@example.com", role="admin")
    assert _patch(root, f"/users/{ann}", {"role": "agent"}).status_code == 200
    assert _patch(root, f"/users/{root_id}", {"role": "agent"}).status_code == 409
    assert _patch(root, f"/users/{ann}", {"role": "admin"}).status_code == 200
    assert root.post(f"/users/{root_id}/deactivate").status_code == 200  # ann remains
    ann_agent = Agent(app, "ann@example.com")
    assert ann_agent.post(f"/users/{ann}/deactivate").status_code == 409
    assert ann_agent.get(f"/users/{root_id}").get_json()["status"] == "deactivated"


def test_deactivation_ends_sessions_tokens_and_sockets_at_once(app: Flask, db: Database) -> None:
    root = _admin(app)
    ada_id = make_user(db, "ada@example.com")
    ada = Agent(app, "ada@example.com")
    with db.transaction() as s:
        token = do_issue_token(s, "ada@example.com")
    bearer = {"Authorization": f"Bearer {token}"}
    assert app.test_client().get("/api/v1/counters", headers=bearer).status_code == 200
    sock = ada.socket
    assert sock.is_connected("/console")
    token_sock = socketio.test_client(app, namespace="/console", auth={"token": token})
    assert token_sock.is_connected("/console")
    r = root.post(f"/users/{ada_id}/deactivate")
    assert r.status_code == 200 and r.get_json()["status"] == "deactivated"
    assert ada.get("/counters").status_code == 401  # the old cookie
    assert app.test_client().get("/api/v1/counters", headers=bearer).status_code == 401  # the old token
    assert not sock.is_connected("/console") and not token_sock.is_connected("/console")
    assert _login(app.test_client(), "ada@example.com", PASSWORD) == 401
    assert root.post(f"/users/{ada_id}/deactivate").status_code == 409
    assert root.post(f"/users/{ada_id}/password-reset").status_code in (409,)
    # reactivated: the password works again; the old token stays dead
    assert root.post(f"/users/{ada_id}/reactivate").get_json()["status"] == "active"
    assert root.post(f"/users/{ada_id}/reactivate").status_code == 409
    assert _login(app.test_client(), "ada@example.com", PASSWORD) == 302
    assert app.test_client().get("/api/v1/counters", headers=bearer).status_code == 401
    with db.session() as s:
        kinds = [e.kind for e in s.scalars(select(AuditEvent).where(AuditEvent.kind.like("user.%activated")))]
    assert kinds == ["user.deactivated", "user.reactivated"]


def test_a_role_or_team_change_ends_stale_socket_rights(app: Flask, db: Database) -> None:
    root = _admin(app)
    ada_id = make_user(db, "ada@example.com")
    ada = Agent(app, "ada@example.com")
    with db.transaction() as s:
        token = do_issue_token(s, "ada@example.com")
    sock = ada.socket
    token_sock = socketio.test_client(app, namespace="/console", auth={"token": token})
    assert _patch(root, f"/users/{ada_id}", {"name": "Ada L."}).status_code == 200
    assert sock.is_connected("/console")  # a name is no right
    assert _patch(root, f"/users/{ada_id}", {"role": "supervisor"}).status_code == 200
    assert not sock.is_connected("/console") and not token_sock.is_connected("/console")
    assert ada.get("/counters").status_code == 401  # signs in again, with the new rights
    assert app.test_client().get("/api/v1/users", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_everyone_edits_their_own_profile(app: Flask, db: Database) -> None:
    make_user(db, "ada@example.com")
    ada = Agent(app, "ada@example.com")
    me = ada.get("/me").get_json()
    assert me["notifications"] == {"alerts": False} and me["role"] == "agent"
    r = _patch(ada, "/me", {"name": "Ada Lovelace", "notifications": {"alerts": True}})
    assert r.status_code == 200 and r.get_json()["name"] == "Ada Lovelace"
    assert ada.get("/me").get_json()["notifications"] == {"alerts": True}
    for bad in ({"name": ""}, {"notifications": {"pager": True}}, {"notifications": {"alerts": "yes"}},
                {"role": "admin"}):
        assert _patch(ada, "/me", bad).status_code == 400, bad
    assert ada.get("/me").get_json()["role"] == "agent"
    r = ada.post("/me/password", {"current_password": PASSWORD, "new_password": "a newer password"})
    assert r.status_code == 200
    assert _login(app.test_client(), "ada@example.com", "a newer password") == 302
