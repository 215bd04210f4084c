"""Shared fixtures: a migrated database per test (SQLite by default, PostgreSQL with DATABASE_URL),
the real app factory, and helpers that act as a customer and as agents would."""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from bot.types import BotTurn, Decision, HandoffReason, IntentScore, TurnContext
from console.app import create_app
from console.extensions import socketio
from console.runtime.jobs import InlineJobs
from models.accounts.users import do_create_user
from models.db import Database
from models.migrate import upgrade
from models.schema.base import Base
from models.settings import Settings

# SMS/WhatsApp fixtures (fake providers, an app wired to them): tests/channel_fixtures.py
pytest_plugins = ["tests.channel_fixtures"]

def _own_schema(url: str | None) -> str | None:
    """Each test session works in a schema of its own (search_path), so concurrent runs on one PostgreSQL
    database (two CI jobs, a developer and CI) never truncate each other's tables. Subprocesses started by
    tests inherit it through DATABASE_URL."""
    if not url or not url.startswith(("postgresql", "postgres://")):
        return url
    if os.environ.get("PARLEY_TEST_PG_SCHEMA"):  # this module can be imported twice (pytest, tests.conftest)
        return url
    schema = f"test_{os.getpid()}_{secrets.token_hex(3)}"
    isolated = f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"
    os.environ["DATABASE_URL"] = isolated
    os.environ["PARLEY_TEST_PG_SCHEMA"] = schema
    return isolated


PG_URL = _own_schema(os.environ.get("DATABASE_URL"))
PASSWORD = "correct horse battery"


class RuleEngine:
    """A tiny deterministic engine for tests of everything around the bot (the real one has its own)."""

    name = "rules"

    def turn(self, text: str, context: TurnContext) -> BotTurn:
        low = text.lower()
        if "person" in low or "human" in low:
            return BotTurn(Decision.HANDOFF, ("Connecting you with a person.",), "human_handoff", 0.95,
                           (IntentScore("human_handoff", 0.95),), HandoffReason.CUSTOMER_ASKED,
                           engine=self.name, summary="Customer asked for a person.")
        if "explode" in low:
            raise RuntimeError("engine broke")
        if low.startswith("hi") or "hello" in low:
            return BotTurn(Decision.ANSWER, ("Hello! How can I help?",), "greet", 0.97,
                           (IntentScore("greet", 0.97),), engine=self.name)
        return BotTurn(Decision.ANSWER, ("Your order ships in 3-5 days.",), "order_status", 0.8,
                       (IntentScore("order_status", 0.8),), engine=self.name)


@pytest.fixture(scope="session")
def _template_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str | None]:
    """Migrate once per session: a SQLite file to copy, or the PostgreSQL schema to truncate."""
    if PG_URL:
        url = Settings.from_env(env={"DATABASE_URL": PG_URL, "PARLEY_SECRET_KEY": "x"}).database_url
        db = Database(url)
        schema = os.environ["PARLEY_TEST_PG_SCHEMA"]
        with db.engine.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        upgrade(db.engine)
        db.dispose()
        yield None
        db = Database(url)
        with db.engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        db.dispose()
        return
    path = tmp_path_factory.mktemp("template") / "parley.db"
    db = Database(f"sqlite:///{path}")
    upgrade(db.engine)
    db.dispose()
    yield str(path)


@pytest.fixture
def settings(tmp_path: Path, _template_db: str | None) -> Settings:
    return fresh_settings(tmp_path, _template_db)


def fresh_settings(tmp_path: Path, _template_db: str | None) -> Settings:
    """Settings over a freshly migrated, empty database under `tmp_path` (for fixtures of any scope)."""
    env = {"PARLEY_INSTANCE": str(tmp_path / "instance"), "PARLEY_SECRET_KEY": "test-secret",
           "PARLEY_DATA": str(Path(__file__).parent.parent / "data")}
    if PG_URL:
        env["DATABASE_URL"] = PG_URL
        s = Settings.from_env(env=env, load_dotenv=False)
        db = Database(s.database_url)
        tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
        with db.engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        db.dispose()
        return s
    (tmp_path / "instance").mkdir()
    assert _template_db is not None
    shutil.copy(_template_db, tmp_path / "instance" / "parley.db")
    return Settings.from_env(env=env, load_dotenv=False)


@pytest.fixture
def engines() -> list[Any]:
    return [RuleEngine()]


@pytest.fixture
def app(settings: Settings, engines: list[Any]) -> Iterator[Flask]:
    app = create_app(settings, engines=engines, jobs=InlineJobs(), testing=True)
    yield app
    app.extensions["parley"].db.dispose()


@pytest.fixture
def db(app: Flask) -> Database:
    database: Database = app.extensions["parley"].db
    return database


def make_user(db: Database, email: str, role: str = "agent", team: str | None = None) -> int:
    with db.transaction() as s:
        return do_create_user(s, email=email, password=PASSWORD, role=role, team_name=team).id


def login(client: FlaskClient, email: str) -> str:
    """Log in through the real form; returns the CSRF token for API writes."""
    client.get("/login")
    with client.session_transaction() as sess:
        token = sess["csrf"]
    r = client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": token})
    assert r.status_code == 302, r.data
    with client.session_transaction() as sess:
        return str(sess["csrf"])


def event_payload(pkt: dict[str, Any]) -> Any:
    """The test client lists a handler's emit args, but gives a server-level emit's payload bare."""
    args = pkt["args"]
    if isinstance(args, list):
        return args[0] if args else None
    return args


class Agent:
    """A logged-in agent: REST calls with the session cookie and CSRF header, and a /console socket."""

    def __init__(self, app: Flask, email: str) -> None:
        self.client = app.test_client()
        self.csrf = login(self.client, email)
        self.app = app
        self._socket: Any = None

    def get(self, path: str) -> Any:
        return self.client.get(f"/api/v1{path}")

    def post(self, path: str, body: Any = None) -> Any:
        return self.client.post(f"/api/v1{path}", json=body if body is not None else {},
                                headers={"X-CSRF-Token": self.csrf})

    def counters(self) -> dict[str, int]:
        r = self.get("/counters")
        assert r.status_code == 200
        return dict(r.get_json())

    @property
    def socket(self) -> Any:
        if self._socket is None:
            self._socket = socketio.test_client(self.app, namespace="/console", flask_test_client=self.client)
        return self._socket


class Customer:
    """A visitor on the webchat widget, over the real Socket.IO handlers."""

    def __init__(self, app: Flask, token: str | None = None) -> None:
        auth = {"token": token} if token else None
        self.sock = socketio.test_client(app, namespace="/webchat", auth=auth)
        self.received: list[tuple[str, Any]] = []
        self._drain()
        session = self.first("session")
        self.token: str = session["token"]

    def _drain(self) -> None:
        for pkt in self.sock.get_received("/webchat"):
            self.received.append((pkt["name"], event_payload(pkt)))

    def first(self, name: str) -> Any:
        self._drain()
        for n, payload in self.received:
            if n == name:
                return payload
        raise AssertionError(f"no {name!r} event among {[n for n, _ in self.received]}")

    def events(self, name: str) -> list[Any]:
        self._drain()
        return [p for n, p in self.received if n == name]

    def say(self, text: Any) -> dict[str, Any]:
        ack = self.sock.emit("message", {"text": text} if not isinstance(text, dict) else text,
                             namespace="/webchat", callback=True)
        self._drain()
        return dict(ack)

    def replies(self, sender_type: str | None = None) -> list[str]:
        return [p["text"] for p in self.events("message") if sender_type in (None, p["sender_type"])]


@pytest.fixture
def browsers(request: pytest.FixtureRequest) -> Iterator[Callable[[], Any]]:
    """Browsers made on demand; each leaves a screenshot named after the test, then quits."""
    from tests.test_browser import SHOTS, _browser

    made: list[Any] = []

    def make() -> Any:
        made.append(_browser())
        return made[-1]

    yield make
    for i, b in enumerate(made):
        SHOTS.mkdir(exist_ok=True)
        b.save_screenshot(str(SHOTS / f"{request.node.name}-{i}.png"))
        b.quit()
