"""The baseline: a bare python-socketio server that answers every webchat message at once.

It is served exactly the way `parley run` serves Parley (Flask-SocketIO in threading mode runs
`app.run(threaded=True)`, i.e. Werkzeug's `run_simple` with a thread per connection, and
simple-websocket for the WebSocket transport), so the Parley/baseline ratio measures what Parley
adds on top of the transport: the application, the database and the bot, not a different server.

It speaks just enough of the `/webchat` contract (docs/interfaces.md) for the same client code to
drive it: `session` on connect, an acknowledgement with an integer id, and a bot `message` whose id
is larger than the acknowledged one.

Run: `python bench/echo_server.py --port 8123` (loopback only).
"""

from __future__ import annotations

import argparse
import itertools
import json
import secrets
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

import socketio
from werkzeug.serving import run_simple

WEBCHAT = "/webchat"

sio = socketio.Server(async_mode="threading")
_ids = itertools.count(1)
_ids_lock = threading.Lock()


def _next_id() -> int:
    with _ids_lock:
        return next(_ids)


def _now() -> str:
    return datetime.now(UTC).isoformat()


@sio.on("connect", namespace=WEBCHAT)
def on_connect(sid: str, environ: dict[str, Any], auth: Any = None) -> None:
    session = {"token": secrets.token_urlsafe(16), "conversation_id": None}
    sio.emit("session", session, to=sid, namespace=WEBCHAT)


@sio.on("message", namespace=WEBCHAT)
def on_message(sid: str, data: Any) -> dict[str, Any]:
    text = data.get("text") if isinstance(data, dict) else None
    if not isinstance(text, str) or not text.strip():
        return {"ok": False, "error": {"code": "empty", "message": "Type a message first."}}
    message_id, reply_id = _next_id(), _next_id()
    conversation_id = f"c_{sid}"
    reply = {"id": reply_id, "conversation_id": conversation_id, "sender_type": "bot", "text": text,
             "created_at": _now()}
    sio.emit("message", reply, to=sid, namespace=WEBCHAT)
    return {"ok": True, "id": message_id, "conversation_id": conversation_id, "created_at": _now()}


StartResponse = Callable[[str, list[tuple[str, str]]], Any]


def health_app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    """`/healthz` like Parley's, so the bench waits for both servers the same way."""
    if environ.get("PATH_INFO") == "/healthz":
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps({"status": "ok"}).encode()]
    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [b"not found"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    run_simple(args.host, args.port, socketio.WSGIApp(sio, health_app), threaded=True)


if __name__ == "__main__":
    main()
