"""Issue 12, the attacks on sign-in and sessions, replayed: each test performs the attack and asserts it
fails — a cross-site socket, password guessing, a cookie kept after logout or a password change, a
revoked or expired token — plus the rate limits and a visitor's upload size."""

from __future__ import annotations

import io
import os
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
import socketio as sio
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from console.app import create_app
from console.cli import main as cli
from console.extensions import socketio
from console.realtime.revocation import SocketRevocations
from console.runtime.jobs import InlineJobs
from models.accounts.sessions import do_revoke_sessions
from models.accounts.tokens import do_create_token, do_issue_token
from models.accounts.users import do_create_user
from models.db import Database
from models.schema.accounts import ApiToken, AuthSession, User
from models.schema.base import utcnow
from models.settings import Settings
from tests.support.actors import PASSWORD, Agent, Customer, make_user
from tests.support.channels import make_channel_app
from tests.support.live import ROOT, start_server

REDIS_URL = os.environ.get("REDIS_URL")
EVIL = {"Origin": "https://evil.example"}  # a sibling site the agent also visits
PNG = b"\x89PNG\r\n\x1a\n"


def _app(settings: Settings, engines: list[Any], **changes: Any) -> Flask:
    return create_app(settings.with_(**changes), engines=engines, jobs=InlineJobs(), testing=True)


def _console(app: Flask, client: FlaskClient | None = None, **kw: Any) -> Any:
    return socketio.test_client(app, namespace="/console", flask_test_client=client, **kw)


def _attempt(client: FlaskClient, email: str, password: str) -> Any:
    client.get("/login")
    with client.session_transaction() as sess:
        csrf = sess["csrf"]
    return client.post("/login", data={"email": email, "password": password, "csrf_token": csrf})


def _token(agent: Agent, name: str = "export", **body: Any) -> dict[str, Any]:
    r = agent.post("/me/tokens", {"name": name, **body})
    assert r.status_code == 201, r.get_json()
    return dict(r.get_json())


def _bearer(app: Flask, token: str, path: str = "/api/v1/counters") -> Any:
    return app.test_client().get(path, headers={"Authorization": f"Bearer {token}"})


# --- 1. the agents' socket from another site ---------------------------------------------------------


def test_a_cross_site_console_socket_cannot_ride_the_cookie(app: Flask, db: Database) -> None:
    make_user(db, "ada@example.com")
    ada = Agent(app, "ada@example.com")
    # the attack: a junk token to skip the Origin check, and the agent's cookie to log in
    for junk in (1, None, "", ["x"], {"a": 1}, "pt_not-a-token"):
        sock = _console(app, ada.client, auth={"token": junk}, headers=EVIL)
        assert not sock.is_connected("/console"), junk
    assert not _console(app, ada.client, headers=EVIL).is_connected("/console")  # the cookie alone
    assert not _console(app, ada.client, auth={"token": 1}).is_connected("/console")  # a junk token is no cookie
    # what stays open: the console itself, and an API client's real token from anywhere
    assert _console(app, ada.client).is_connected("/console")
    token = _token(ada)["token"]
    assert _console(app, auth={"token": token}, headers=EVIL).is_connected("/console")


# --- 4. password guessing ------------------------------------------------------------------------------


def test_password_guessing_backs_off_with_429_and_retry_after(settings: Settings, engines: list[Any]) -> None:
    # a first lock long enough that no guess, however slow this machine, outlives it
    app = _app(settings, engines, login_backoff_seconds=3.0)
    db: Database = app.extensions["parley"].db
    make_user(db, "ada@example.com")
    make_user(db, "bob@example.com")
    thief = app.test_client()
    statuses = [_attempt(thief, "ada@example.com", f"guess{i}").status_code for i in range(20)]
    assert statuses[:5] == [401] * 5 and statuses[-1] == 429, statuses
    refused = _attempt(thief, "Ada@Example.com ", PASSWORD)  # even the right password, any spelling
    assert refused.status_code == 429 and "Too many failed logins" in refused.get_data(as_text=True)
    wait = int(refused.headers["Retry-After"])
    assert wait >= 1
    assert _attempt(app.test_client(), "bob@example.com", PASSWORD).status_code == 302  # others are not locked
    time.sleep(wait)
    assert _attempt(app.test_client(), "ada@example.com", PASSWORD).status_code == 302
    # a success forgets the failures: the next typo is an ordinary 401
    assert _attempt(thief, "ada@example.com", "typo").status_code == 401
    db.dispose()


def test_guessing_across_accounts_is_limited_per_address(settings: Settings, engines: list[Any]) -> None:
    app = _app(settings, engines, login_free_failures_per_address=3)
    db: Database = app.extensions["parley"].db
    make_user(db, "ada@example.com")
    client = app.test_client()
    codes = [_attempt(client, f"user{i}@example.com", "guess").status_code for i in range(5)]
    assert codes[:3] == [401] * 3 and codes[-1] == 429
    db.dispose()


def test_a_spoofed_forwarded_for_does_not_escape_the_address_limit(settings: Settings, engines: list[Any]) -> None:
    """Without PARLEY_TRUSTED_PROXIES no X-Forwarded-For is trusted: a new fake address per guess gains nothing."""
    app = _app(settings, engines, login_free_failures_per_address=3)
    db: Database = app.extensions["parley"].db
    codes = []
    for i in range(5):
        client = app.test_client()
        client.environ_base["HTTP_X_FORWARDED_FOR"] = f"203.0.113.{i}"
        codes.append(_attempt(client, f"user{i}@example.com", "guess").status_code)
    assert codes[-1] == 429
    db.dispose()


# --- beyond the list: what else an attacker on the login page would try -----------------------------------


@pytest.mark.parametrize("target", ["/\\evil.example/", "/\\/evil.example", "/\t/evil.example", "//evil.example"])
def test_login_never_bounces_to_another_site(app: Flask, db: Database, target: str) -> None:
    make_user(db, "ada@example.com")
    client = app.test_client()
    client.get("/login")
    with client.session_transaction() as sess:
        csrf = sess["csrf"]
    r = client.post("/login", query_string={"next": target},
                    data={"email": "ada@example.com", "password": PASSWORD, "csrf_token": csrf})
    assert r.status_code == 302 and r.headers["Location"] == "/"


def test_a_session_planted_before_login_is_not_the_one_after(app: Flask, db: Database) -> None:
    """Session fixation: whatever cookie a victim had before logging in, the logged-in one is new."""
    make_user(db, "ada@example.com")
    victim = app.test_client()
    victim.get("/login")
    planted = victim.get_cookie("session")
    assert planted is not None
    assert _attempt(victim, "ada@example.com", PASSWORD).status_code == 302
    attacker = app.test_client()
    attacker.set_cookie("session", planted.value)
    assert attacker.get("/api/v1/counters").status_code == 401
    assert victim.get("/api/v1/counters").status_code == 200


# --- 5. sessions and tokens with a lifecycle ----------------------------------------------------------------


def test_logout_ends_the_session_for_every_copy_of_the_cookie(app: Flask, db: Database) -> None:
    make_user(db, "ada@example.com")
    ada = Agent(app, "ada@example.com")
    stolen = ada.client.get_cookie("session")
    assert stolen is not None
    thief = app.test_client()
    thief.set_cookie("session", stolen.value)
    assert thief.get("/api/v1/counters").status_code == 200
    assert ada.client.post("/logout", data={"csrf_token": ada.csrf}).status_code == 302
    assert thief.get("/api/v1/counters").status_code == 401
    assert not _console(app, thief).is_connected("/console")
    with db.session() as s:
        assert s.scalar(select(AuthSession.revoked_at)) is not None


def test_a_password_change_ends_every_other_session_and_its_sockets(app: Flask, db: Database) -> None:
    make_user(db, "ada@example.com")
    here, elsewhere = Agent(app, "ada@example.com"), Agent(app, "ada@example.com")
    assert elsewhere.socket.is_connected("/console") and here.socket.is_connected("/console")

    wrong = here.post("/me/password", {"current_password": "nope", "new_password": "a new long one"})
    assert wrong.status_code == 400 and wrong.get_json()["error"]["code"] == "wrong_password"
    short = here.post("/me/password", {"current_password": PASSWORD, "new_password": "short"})
    assert short.status_code == 400
    assert here.post("/me/password", ["not", "an", "object"]).status_code == 400
    assert here.client.post("/api/v1/me/password", json={"current_password": PASSWORD, "new_password": "x" * 12}
                            ).status_code == 401  # no CSRF header: refused
    assert elsewhere.get("/counters").status_code == 200  # nothing changed yet

    changed = here.post("/me/password", {"current_password": PASSWORD, "new_password": "a new long one"})
    assert changed.status_code == 200
    assert elsewhere.get("/counters").status_code == 401
    assert not elsewhere.socket.is_connected("/console")
    assert here.get("/counters").status_code == 200 and here.socket.is_connected("/console")
    assert _attempt(app.test_client(), "ada@example.com", PASSWORD).status_code == 401
    assert _attempt(app.test_client(), "ada@example.com", "a new long one").status_code == 302


def test_tokens_are_named_listed_expire_and_revoke(app: Flask, db: Database) -> None:
    ada_id = make_user(db, "ada@example.com")
    make_user(db, "bob@example.com")
    ada, bob = Agent(app, "ada@example.com"), Agent(app, "bob@example.com")
    made = _token(ada, "CI export", expires_days=30)
    assert made["name"] == "CI export" and made["expires_at"] and made["token"].startswith("pt_")
    assert _bearer(app, made["token"]).status_code == 200
    listed = ada.get("/me/tokens").get_json()["tokens"]
    assert [t["name"] for t in listed] == ["CI export"] and listed[0]["last_used_at"]
    assert "token" not in listed[0]  # the secret is shown once
    assert bob.get("/me/tokens").get_json()["tokens"] == []

    # bad input is a clear 400; a token cannot mint tokens or change the password
    for body in ({}, {"name": " "}, {"name": "x", "expires_days": 0}, {"name": "x", "expires_days": "7"}):
        r = ada.post("/me/tokens", body)
        assert r.status_code == 400 and r.get_json()["error"]["code"] == "invalid", body
    minted = app.test_client().post("/api/v1/me/tokens", json={"name": "more"},
                                    headers={"Authorization": f"Bearer {made['token']}"})
    assert minted.status_code == 403 and minted.get_json()["error"]["code"] == "session_required"

    # someone else's token cannot be revoked; a revoked token is refused, and its sockets close
    sock = _console(app, auth={"token": made["token"]})
    assert sock.is_connected("/console")
    assert bob.client.delete(f"/api/v1/me/tokens/{made['id']}", headers={"X-CSRF-Token": bob.csrf}).status_code == 404
    assert ada.client.delete(f"/api/v1/me/tokens/{made['id']}", headers={"X-CSRF-Token": ada.csrf}).status_code == 204
    assert _bearer(app, made["token"]).status_code == 401
    assert not sock.is_connected("/console")
    assert ada.get("/me/tokens").get_json()["tokens"] == []

    # an expired token
    with db.transaction() as s:
        user = s.get(User, ada_id)
        assert user is not None
        secret, row = do_create_token(s, user, name="old", expires_days=1)
        s.flush()
        s.execute(update(ApiToken).where(ApiToken.id == row.id).values(expires_at=utcnow() - timedelta(seconds=1)))
    r = _bearer(app, secret)
    assert r.status_code == 401 and r.get_json()["error"]["code"] == "unauthorized"


def test_the_revocation_hook_ends_sessions_tokens_and_sockets(app: Flask, db: Database) -> None:
    """What deactivation and a role or team change call: everything of that user ends at once."""
    ada_id = make_user(db, "ada@example.com")
    make_user(db, "bob@example.com")
    ada, bob = Agent(app, "ada@example.com"), Agent(app, "bob@example.com")
    token = _token(ada)["token"]
    by_token = _console(app, auth={"token": token})
    assert ada.socket.is_connected("/console") and by_token.is_connected("/console")
    assert bob.socket.is_connected("/console")
    with db.transaction() as s:
        user = s.get(User, ada_id)
        assert user is not None
        do_revoke_sessions(s, user, tokens=True)
    assert ada.get("/counters").status_code == 401 and _bearer(app, token).status_code == 401
    assert not ada.socket.is_connected("/console") and not by_token.is_connected("/console")
    assert bob.get("/counters").status_code == 200 and bob.socket.is_connected("/console")


def test_the_user_menu_offers_the_account_dialog(app: Flask, db: Database) -> None:
    make_user(db, "ada@example.com")
    page = Agent(app, "ada@example.com").client.get("/").get_data(as_text=True)
    assert "account.js" in page
    script = app.test_client().get("/static/account.js").get_data(as_text=True)
    assert "/api/v1/me" in script and "Revoke" in script and "Change password" in script


def test_the_cli_issues_lists_and_revokes_tokens(app: Flask, db: Database, settings: Settings) -> None:
    make_user(db, "ada@example.com")
    env = {"DATABASE_URL": settings.database_url, "PARLEY_SECRET_KEY": "test-secret",
           "PARLEY_INSTANCE": str(settings.instance_dir), "REDIS_URL": ""}
    runner = CliRunner()
    made = runner.invoke(cli, ["user", "token", "ada@example.com", "--name", "nightly", "--expires-days", "7"],
                         env=env)
    assert made.exit_code == 0, made.output
    token = made.output.strip()
    assert _bearer(app, token).status_code == 200
    listed = runner.invoke(cli, ["user", "tokens", "ada@example.com"], env=env)
    assert '"name": "nightly"' in listed.output and token not in listed.output
    token_id = Agent(app, "ada@example.com").get("/me/tokens").get_json()["tokens"][0]["id"]
    assert runner.invoke(cli, ["user", "revoke-token", str(token_id)], env=env).exit_code == 0
    assert _bearer(app, token).status_code == 401
    again = runner.invoke(cli, ["user", "revoke-token", str(token_id)], env=env)
    assert again.exit_code == 1 and "No token" in again.output
    assert runner.invoke(cli, ["user", "tokens", "nobody@example.com"], env=env).exit_code == 1


def test_the_session_cookie_is_secure_on_https(settings: Settings, engines: list[Any]) -> None:
    https = Settings.from_env(env={"PARLEY_PUBLIC_URL": "https://chat.example.com", "PARLEY_SECRET_KEY": "x"},
                              load_dotenv=False)
    for secure in (https.cookie_secure, False):
        app = _app(settings, engines, session_cookie_secure=secure)
        db: Database = app.extensions["parley"].db
        make_user(db, f"ada{secure}@example.com")
        r = _attempt(app.test_client(), f"ada{secure}@example.com", PASSWORD)
        cookie = r.headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
        assert ("Secure" in cookie) is secure
        db.dispose()
    assert https.cookie_secure is True


# --- rate limits and abuse controls ---------------------------------------------------------------------


def test_the_api_is_limited_per_token(settings: Settings, engines: list[Any]) -> None:
    app = _app(settings, engines, rate_limit_api="3/minute")
    db: Database = app.extensions["parley"].db
    make_user(db, "ada@example.com")
    ada = Agent(app, "ada@example.com")
    one, two = _token(ada, "one")["token"], _token(ada, "two")["token"]
    assert [_bearer(app, one).status_code for _ in range(3)] == [200] * 3
    limited = _bearer(app, one)
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
    assert limited.get_json()["error"]["code"] == "too_many_requests"
    assert _bearer(app, two).status_code == 200  # per token
    assert all(ada.get("/counters").status_code == 200 for _ in range(5))  # the console is not a token
    db.dispose()


def test_webchat_messages_and_new_conversations_are_limited(settings: Settings, engines: list[Any]) -> None:
    app = _app(settings, engines, rate_limit_webchat_messages="3/minute",
               rate_limit_webchat_conversations_per_address="2/hour")
    db: Database = app.extensions["parley"].db
    chatty = Customer(app)
    assert all(chatty.say(f"hello {i}")["ok"] for i in range(3))
    refused = chatty.say("hello again")
    assert refused["ok"] is False and refused["error"]["code"] == "rate_limited"
    assert refused["error"]["retry_after"] >= 1
    assert Customer(app).say("hi")["ok"]  # a second visitor: the second new conversation from this address
    third = Customer(app).say("hi")
    assert third["ok"] is False and third["error"]["code"] == "rate_limited"
    db.dispose()


def test_visitor_uploads_use_the_attachment_limit_not_1_mib(settings: Settings, engines: list[Any],
                                                            channel_env: dict[str, str]) -> None:
    app = make_channel_app(settings, engines, {**channel_env, "PARLEY_MAX_ATTACHMENT_BYTES": str(8 * 2**20)})
    db: Database = app.extensions["parley"].db
    customer, client = Customer(app), app.test_client()

    def upload(size: int) -> Any:
        data = PNG + b"\x00" * (size - len(PNG))
        return client.post("/webchat/upload", data={"token": customer.token, "file": (io.BytesIO(data), "p.png")},
                           content_type="multipart/form-data")

    ok = upload(5 * 2**20)
    assert ok.status_code == 200 and ok.get_json()["ok"] is True, ok.get_json()
    big = upload(9 * 2**20)
    assert big.status_code == 413 and big.get_json()["error"]["code"] == "file_too_large"
    db.dispose()


def test_uploads_are_limited_per_visitor(settings: Settings, engines: list[Any], channel_env: dict[str, str]) -> None:
    app = make_channel_app(settings.with_(rate_limit_uploads="1/minute"), engines, channel_env)
    db: Database = app.extensions["parley"].db
    customer, client = Customer(app), app.test_client()

    def upload() -> Any:
        return client.post("/webchat/upload", data={"token": customer.token, "file": (io.BytesIO(PNG * 4), "p.png")},
                           content_type="multipart/form-data", headers={"Origin": "https://shop.example"})

    assert upload().status_code == 200
    limited = upload()
    assert limited.status_code == 429 and limited.headers["Retry-After"]
    assert limited.get_json()["error"]["code"] == "rate_limited"
    assert limited.headers["Access-Control-Allow-Origin"] == "*"  # the widget can say why
    db.dispose()


# --- PostgreSQL + Redis: several processes count together, revocations reach every process ---------------

needs_redis = pytest.mark.skipif(not REDIS_URL, reason="needs REDIS_URL")


@needs_redis
def test_login_back_off_is_shared_through_redis(settings: Settings, engines: list[Any]) -> None:
    channel = f"parley-test-{uuid.uuid4().hex}"
    # (rate_limit_storage, not redis_url: Flask-SocketIO's test client refuses a message queue)
    one = _app(settings, engines, rate_limit_storage=REDIS_URL, socketio_channel=channel, login_backoff_seconds=3.0)
    two = _app(settings, engines, rate_limit_storage=REDIS_URL, socketio_channel=channel,  # another process
               login_backoff_seconds=3.0)
    db: Database = one.extensions["parley"].db
    make_user(db, "ada@example.com")
    assert [_attempt(one.test_client(), "ada@example.com", "guess").status_code for _ in range(5)] == [401] * 5
    locked = _attempt(two.test_client(), "ada@example.com", PASSWORD)
    assert locked.status_code == 429
    time.sleep(int(locked.headers["Retry-After"]))  # who waits as told gets in, on either process
    assert _attempt(two.test_client(), "ada@example.com", PASSWORD).status_code == 302
    two.extensions["parley"].db.dispose()
    db.dispose()


@needs_redis
def test_a_revocation_elsewhere_closes_this_process_sockets(settings: Settings, engines: list[Any]) -> None:
    channel = f"parley-test-{uuid.uuid4().hex}"
    app = _app(settings, engines)  # Flask-SocketIO's test client refuses a message queue: Redis only here
    SocketRevocations(lambda sid: socketio.server.disconnect(sid, namespace="/console", ignore_queue=True),
                      redis_url=REDIS_URL, channel=channel).start()
    db: Database = app.extensions["parley"].db
    make_user(db, "ada@example.com")
    ada = Agent(app, "ada@example.com")
    token = _token(ada)
    sock = _console(app, auth={"token": token["token"]})
    assert sock.is_connected("/console")
    # another process (the CLI) revokes: it holds no socket, Redis carries the revocation here
    env = {"DATABASE_URL": settings.database_url, "PARLEY_SECRET_KEY": "test-secret", "REDIS_URL": REDIS_URL or "",
           "PARLEY_INSTANCE": str(settings.instance_dir), "PARLEY_SOCKETIO_CHANNEL": channel}
    assert CliRunner().invoke(cli, ["user", "revoke-token", str(token["id"])], env=env).exit_code == 0
    deadline = time.monotonic() + 10
    while sock.is_connected("/console") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not sock.is_connected("/console")
    assert ada.socket.is_connected("/console")  # the console session was not revoked
    db.dispose()



@needs_redis
def test_a_live_server_closes_revoked_sockets_at_once(settings: Settings, tmp_path: Path) -> None:
    """A real `parley run` on Redis: a password change ends the other session's socket in that
    process, and a token revoked from the CLI (another process) ends the token's socket."""
    channel = f"parley-test-{uuid.uuid4().hex}"
    env = {"PARLEY_INSTANCE": str(settings.instance_dir), "PARLEY_SECRET_KEY": "live-revoke",
           "PARLEY_SOCKETIO_CHANNEL": channel, "REDIS_URL": REDIS_URL or "", "PARLEY_DATA": str(ROOT / "data"),
           "DATABASE_URL": os.environ.get("DATABASE_URL") or settings.database_url}
    server = start_server(env, tmp_path / "server.log")
    try:
        db = Database(settings.database_url)
        with db.transaction() as s:
            do_create_user(s, email="ada@example.com", password=PASSWORD)
            token = do_issue_token(s, "ada@example.com", name="live")
            token_id = s.scalar(select(ApiToken.id))
        db.dispose()

        def browser() -> tuple[requests.Session, str]:
            web = requests.Session()
            page = web.get(f"{server.url}/login", timeout=10).text
            csrf = page.split('name="csrf_token" value="')[1].split('"')[0]
            r = web.post(f"{server.url}/login", data={"email": "ada@example.com", "password": PASSWORD,
                                                      "csrf_token": csrf}, allow_redirects=False, timeout=10)
            assert r.status_code == 302
            home = web.get(f"{server.url}/", timeout=10).text
            return web, home.split('name="csrf-token" content="')[1].split('"')[0]

        here, here_csrf = browser()
        elsewhere, _ = browser()
        cookie_sock, token_sock = sio.Client(), sio.Client()
        cookie_sock.connect(server.url, namespaces=["/console"], transports=["websocket"],
                            headers={"Cookie": f"session={elsewhere.cookies['session']}"})
        token_sock.connect(server.url, namespaces=["/console"], transports=["websocket"], auth={"token": token})
        try:
            r = here.post(f"{server.url}/api/v1/me/password", headers={"X-CSRF-Token": here_csrf}, timeout=10,
                          json={"current_password": PASSWORD, "new_password": "a brand new one"})
            assert r.status_code == 200, r.text
            _wait_until(lambda: not cookie_sock.connected)
            assert elsewhere.get(f"{server.url}/api/v1/counters", timeout=10).status_code == 401
            assert token_sock.connected  # a password change leaves API tokens alone

            cli_env = {**env, "PARLEY_INSTANCE": str(tmp_path / "cli")}
            assert CliRunner().invoke(cli, ["user", "revoke-token", str(token_id)], env=cli_env).exit_code == 0
            _wait_until(lambda: not token_sock.connected)
        finally:
            cookie_sock.disconnect()
            token_sock.disconnect()
    finally:
        server.stop()


def _wait_until(done: Any, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_mistyped_limit_stops_the_start_with_a_clear_message() -> None:
    with pytest.raises(ValueError, match="PARLEY_RATE_LIMIT_API: must look like"):
        Settings.from_env(env={"PARLEY_SECRET_KEY": "x", "PARLEY_RATE_LIMIT_API": "lots"}, load_dotenv=False)
    ok = Settings.from_env(env={"PARLEY_SECRET_KEY": "x", "PARLEY_RATE_LIMIT_API": "100/minute;1000/hour"},
                           load_dotenv=False)
    assert ok.rate_limit_api == "100/minute;1000/hour"
