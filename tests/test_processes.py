"""Several `parley run` processes behind one Redis: an agent on one process hears a customer on another."""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import socketio as sio

from models.accounts.tokens import do_issue_token
from models.accounts.users import do_create_user
from models.db import Database
from models.settings import Settings
from tests.support.live import ROOT, LiveServer, start_server

REDIS_URL = os.environ.get("REDIS_URL")
pytestmark = pytest.mark.skipif(not REDIS_URL, reason="needs REDIS_URL: Redis carries events between processes")


@pytest.fixture
def two_servers(settings: Settings, tmp_path: Path) -> Iterator[tuple[str, str, Settings]]:
    env = {"PARLEY_INSTANCE": str(settings.instance_dir), "PARLEY_SECRET_KEY": "two-procs",
           "PARLEY_SOCKETIO_CHANNEL": f"parley-test-{uuid.uuid4().hex}", "REDIS_URL": REDIS_URL or "",
           "PARLEY_DATA": str(ROOT / "data"), "DATABASE_URL": os.environ.get("DATABASE_URL") or settings.database_url}
    servers: list[LiveServer] = []
    try:
        for i in range(2):  # one at a time: the first trains the bot, the second reuses the model
            servers.append(start_server(env, tmp_path / f"server{i}.log"))
        yield servers[0].url, servers[1].url, settings.with_(secret_key="two-procs")
    finally:
        for server in servers:
            server.stop()


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []
        self.cond = threading.Condition()

    def __call__(self, name: str) -> Any:
        def handler(data: Any = None) -> None:
            with self.cond:
                self.events.append((name, data))
                self.cond.notify_all()
        return handler

    def wait_for(self, pred: Any, timeout: float = 10) -> Any:
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for name, data in self.events:
                    if pred(name, data):
                        return data
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out; got {[n for n, _ in self.events]}")
                self.cond.wait(left)


def test_agent_and_customer_on_different_processes(two_servers: tuple[str, str, Settings]) -> None:
    url_a, url_b, settings = two_servers
    db = Database(settings.database_url)
    with db.transaction() as s:
        do_create_user(s, email="ada@example.com", password="correct horse battery")
        token = do_issue_token(s, "ada@example.com")
    db.dispose()

    agent_events = Recorder()
    agent = sio.Client()
    for name in ("conversation", "message", "counters"):
        agent.on(name, agent_events(name), namespace="/console")
    agent.connect(url_a, namespaces=["/console"], auth={"token": token}, transports=["websocket"])

    customer_events = Recorder()
    customer = sio.Client()
    for name in ("session", "message"):
        customer.on(name, customer_events(name), namespace="/webchat")
    customer.connect(url_b, namespaces=["/webchat"], transports=["websocket"])
    try:
        customer_events.wait_for(lambda n, d: n == "session")
        ack = customer.call("message", {"text": "I want to talk to a person"}, namespace="/webchat", timeout=10)
        assert ack["ok"] is True
        conv_id = ack["conversation_id"]
        handed = agent_events.wait_for(
            lambda n, d: n == "conversation" and d["id"] == conv_id and d["owner"] == "human")
        assert handed["handoff"]["reason"] == "customer_asked"
        counters = agent_events.wait_for(lambda n, d: n == "counters" and d["unreplied"] >= 1)
        assert counters["unassigned"] == 1

        r = requests.post(f"{url_a}/api/v1/conversations/{conv_id}/messages", json={"text": "Ada here!"},
                          headers={"Authorization": f"Bearer {token}"}, timeout=10)
        assert r.status_code == 201
        got = customer_events.wait_for(lambda n, d: n == "message" and d["sender_type"] == "agent")
        assert got["text"] == "Ada here!"
        agent_events.wait_for(lambda n, d: n == "counters" and d["unreplied"] == 0)
    finally:
        agent.disconnect()
        customer.disconnect()
