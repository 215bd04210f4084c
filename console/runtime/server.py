"""gunicorn, run from `parley web` and `parley run`, in the mode Flask-SocketIO documents for its
threading async mode: one worker process, many threads (gthread), WebSockets through simple-websocket.

Why one worker process: Socket.IO's long-polling transport needs every request of a client to reach
the same process, and gunicorn balances connections blindly. Scale out with several `parley web`
processes (ports or hosts) behind a balancer that keeps a client on one (nginx `ip_hash`), all
sharing the Socket.IO message queue in Redis. Why threads rather than gevent: see bench/README.md
(the figures that decided it).

The app is built in the worker process, not the master (no `preload_app`): database pools, Redis
clients and background threads do not survive a fork.
"""

from __future__ import annotations

import logging
import math
import signal
import socket
from collections.abc import Callable
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication
from gunicorn.workers.gthread import ThreadWorker

log = logging.getLogger(__name__)

BOOT_TIMEOUT_S = 300  # the first start trains the embedded bot inside the worker before it serves
WORKER_CLASS = "console.runtime.server.NoDelayThreadWorker"


def no_delay(sock: socket.socket) -> None:
    """Send small writes at once (TCP_NODELAY). One customer message is answered by several small
    websocket frames in a row (the ack, typing on, the reply, typing off): with Nagle's algorithm the
    second waits for the client's delayed ACK of the first, ~40 ms on Linux, on an idle connection."""
    if sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class NoDelayThreadWorker(ThreadWorker):
    """gunicorn's gthread worker, with TCP_NODELAY set on every connection it accepts.

    gunicorn sets it on the listening socket, which Linux copies to accepted sockets; other kernels
    need not, and a socket handed over by systemd or a supervisor may not have it: set it where the
    connection starts, once (before its first request), whatever the listener."""

    def enqueue_req(self, conn: Any) -> None:
        if not conn.initialized:
            no_delay(conn.sock)
        super().enqueue_req(conn)


class ParleyServer(BaseApplication):
    """`build()` makes the app in the worker; `on_start(app)` / `on_term(app)` run there after it is
    built and on SIGTERM (before gunicorn stops accepting); `on_exit(app)` as the worker exits."""

    def __init__(self, build: Callable[[], Flask], *, host: str, port: int, threads: int, grace_s: float,
                 on_start: Callable[[Flask], None] | None = None,
                 on_term: Callable[[Flask], None] | None = None,
                 on_exit: Callable[[Flask], None] | None = None) -> None:
        self._build = build
        self._app: Flask | None = None
        self._options = {
            "bind": f"{host}:{port}", "workers": 1, "worker_class": WORKER_CLASS, "threads": threads,
            # Every thread may hold an open WebSocket; gunicorn's default cap of 1,000 connections
            # would leave threads over 1,000 unused and no room for idle keep-alive HTTP beside them.
            "worker_connections": threads + 1000,
            "graceful_timeout": max(1, math.ceil(grace_s)), "timeout": BOOT_TIMEOUT_S, "keepalive": 5,
            "accesslog": None, "errorlog": "-", "loglevel": "warning",
            "post_worker_init": self._post_worker_init, "worker_exit": self._worker_exit,
        }
        self._on_start, self._on_term, self._on_exit = on_start, on_term, on_exit
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        self._app = self._build()
        return self._app

    def _post_worker_init(self, worker: Any) -> None:
        assert self._app is not None
        if self._on_start is not None:
            self._on_start(self._app)
        if self._on_term is not None:
            previous = signal.getsignal(signal.SIGTERM)
            app, on_term = self._app, self._on_term

            def term(signum: int, frame: Any) -> None:
                on_term(app)
                if callable(previous):
                    previous(signum, frame)

            signal.signal(signal.SIGTERM, term)

    def _worker_exit(self, server: Any, worker: Any) -> None:
        if self._app is not None and self._on_exit is not None:
            self._on_exit(self._app)
