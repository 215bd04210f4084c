"""A small threaded HTTP server that records requests and can be told to fail the next ones."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    form: dict[str, list[str]] = field(default_factory=dict)

    def json(self) -> Any:
        return json.loads(self.body)

    def first(self, key: str) -> str | None:
        values = self.form.get(key)
        return values[0] if values else None


@dataclass
class Reply:
    status: int
    body: Any = None
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class _Failure:
    status: int | None  # None: no answer at all (hang for `delay`, then close)
    body: Any
    delay: float
    then_succeed: bool  # after the delay, handle it normally (the provider got it; the answer is late)


class FakeServer:
    """Subclasses implement `handle(req) -> Reply`; `fail_next` makes the next matching requests fail."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self._failures: deque[_Failure] = deque()
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                return

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                form = parse_qs(body.decode("utf-8"), keep_blank_values=True) \
                    if self.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded") else {}
                req = Recorded(self.command, parts.path, parse_qs(parts.query, keep_blank_values=True),
                               {k: v for k, v in self.headers.items()}, body, form)
                reply = fake._dispatch(req)
                if reply is None:
                    self.close_connection = True
                    return
                raw = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
                self.send_response(reply.status)
                self.send_header("Content-Type", reply.content_type)
                self.send_header("Content-Length", str(len(raw)))
                for k, v in reply.headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(raw)

            do_GET = do_POST = do_DELETE = _serve

        class Server(ThreadingHTTPServer):
            def handle_error(self, request: Any, client_address: Any) -> None:
                return  # a client that timed out and left is part of the game here

        self._server = Server(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name="fake-provider",
                                        daemon=True)

    def start(self) -> FakeServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- failure injection ---------------------------------------------------------------------

    def fail_next(self, status: int, body: Any = None, *, times: int = 1) -> None:
        with self._lock:
            for _ in range(times):
                self._failures.append(_Failure(status, body, 0.0, False))

    def hang_next(self, seconds: float, *, then_succeed: bool = True) -> None:
        """The next send is slow: the client times out. With `then_succeed` the provider still takes it."""
        with self._lock:
            self._failures.append(_Failure(None, None, seconds, then_succeed))

    def is_send(self, req: Recorded) -> bool:
        return req.method == "POST"

    def _dispatch(self, req: Recorded) -> Reply | None:
        failure = None
        if self.is_send(req):
            with self._lock:
                failure = self._failures.popleft() if self._failures else None
        with self._lock:
            self.requests.append(req)
        if failure is not None:
            if failure.then_succeed:  # the provider takes it at once; only its answer is late
                reply = self.handle(req)
                time.sleep(failure.delay)
                return reply
            time.sleep(failure.delay)
            if failure.status is not None:
                return Reply(failure.status, failure.body if failure.body is not None else {"error": "injected"})
            return None
        return self.handle(req)

    def handle(self, req: Recorded) -> Reply:
        raise NotImplementedError

    def sends(self) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if self.is_send(r)]
