"""`PARLEY_BOT_ENGINES=rasa parley run`, the way an operator starts it: with no Rasa model yet, the server
trains one from the data, starts and supervises its own Rasa server (loopback, token-protected), and a
webchat customer is answered by Rasa and handed to a person by it; admins see the Rasa server's state."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import socketio

from tests.support.live import LiveServer, start_server
from tests.support.rasa import FIXTURE, SLOW, need_rasa

pytestmark = SLOW


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    need_rasa()
    tmp = tmp_path_factory.mktemp("rasa-run")
    data = tmp / "data"
    shutil.copytree(FIXTURE, data)
    env = {"PARLEY_INSTANCE": str(tmp / "instance"), "DATABASE_URL": f"sqlite:///{tmp / 'instance' / 'parley.db'}",
           "REDIS_URL": "", "PARLEY_SECRET_KEY": "rasa-run-test", "PARLEY_DATA": str(data),
           "PARLEY_BOT_ENGINES": "rasa", "PARLEY_RASA_START_TIMEOUT": "600"}
    srv = start_server(env, tmp / "server.log", timeout=900)  # trains a first model, then starts Rasa
    yield srv
    srv.stop()


def _replies(sock: socketio.Client, got: list[dict[str, Any]], text: str, n: int = 1) -> list[dict[str, Any]]:
    before = len(got)
    ack = sock.call("message", {"text": text}, namespace="/webchat", timeout=60)
    assert ack["ok"], ack
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        new = [m for m in got[before:] if m["sender_type"] == "bot"]
        if len(new) >= n:
            return new
        time.sleep(0.05)
    raise AssertionError(f"no bot reply to {text!r}; got {got[before:]}")


def test_parley_run_trains_starts_and_talks_through_rasa(server: LiveServer) -> None:
    assert server.admin is not None
    admin = requests.Session()
    page = admin.get(f"{server.url}/login", timeout=10)
    csrf = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    r = admin.post(f"{server.url}/login", data={"email": server.admin[0], "password": server.admin[1],
                                                "csrf_token": csrf}, timeout=10, allow_redirects=False)
    assert r.status_code == 302
    deadline = time.monotonic() + 600  # Rasa loads its model in the background of a serving Parley
    while True:
        state = admin.get(f"{server.url}/api/v1/bot/rasa", timeout=30).json()
        if state["state"] != "starting" or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert state["mode"] == "supervised" and state["state"] == "ready", state
    assert state["active_version"] and state["data_changed_since_training"] is False
    assert state["url"].startswith("http://127.0.0.1:")  # loopback only
    assert requests.get(f"{state['url']}/status", timeout=10).status_code == 401  # and token-protected

    got: list[dict[str, Any]] = []
    sock = socketio.Client(reconnection=False)
    sock.on("message", lambda m: got.append(m), namespace="/webchat")
    sock.connect(server.url, namespaces=["/webchat"], transports=["websocket"], wait_timeout=20)
    try:
        hello = _replies(sock, got, "hello")
        assert hello[0]["text"] in ("Hello from the tiny shop!", "Hi again from the tiny shop!")
        handoff = _replies(sock, got, "I want to talk to a person")
        assert handoff[-1]["text"] == "Passing you to a person."
        conv_id = handoff[-1]["conversation_id"]
    finally:
        sock.disconnect()
    conv = admin.get(f"{server.url}/api/v1/conversations/{conv_id}", timeout=10).json()
    assert conv["owner"] == "human"
    assert conv["handoff"]["reason"] == "customer_asked"
    assert "Traceback" not in server.log()
