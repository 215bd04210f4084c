"""The people of a test: users made through the real actions, agents over HTTP and Socket.IO, customers."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from console.extensions import socketio
from models.accounts.users import do_create_user
from models.db import Database

PASSWORD = "correct horse battery"


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
