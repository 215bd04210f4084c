"""Each open chat holds one of the web process's threads (gunicorn gthread, Flask-SocketIO's threading
mode). With the old default of 32 threads the 33rd visitor's websocket was accepted and never answered:
the widget hung without an error. The default now holds 1,000 (console/cli/support.py; bench.idle
measures their memory)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import socketio

from tests.support.live import LiveServer, start_server

VISITORS = 40  # beyond the old default of 32


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    tmp = tmp_path_factory.mktemp("open-chats")
    srv = start_server({"PARLEY_INSTANCE": str(tmp / "instance"), "DATABASE_URL": f"sqlite:///{tmp / 'p.db'}",
                        "REDIS_URL": "", "PARLEY_SECRET_KEY": "open-chats-test"}, tmp / "server.log")
    yield srv
    srv.stop()


def test_forty_visitors_with_open_chats_are_all_answered_on_the_default_threads(server: LiveServer) -> None:
    clients: list[socketio.Client] = []
    try:
        for _ in range(VISITORS):
            client = socketio.Client(reconnection=False)
            client.connect(server.url, namespaces=["/webchat"], transports=["websocket"], wait_timeout=20)
            clients.append(client)
        # every socket is open at once; the last one still gets its answer
        last = clients[-1].call("message", {"text": "hello"}, namespace="/webchat", timeout=20)
        assert last["conversation_id"]
        first = clients[0].call("message", {"text": "hello"}, namespace="/webchat", timeout=20)
        assert first["conversation_id"] != last["conversation_id"]
    finally:
        for client in clients:
            client.disconnect()

