"""TCP_NODELAY on every connection Parley serves (issue 17): one customer message is answered by several
small websocket frames in a row, and with Nagle's algorithm each after the first waited for the
client's delayed ACK (~40 ms). `parley run` and `parley web` both serve through `ParleyServer`
(console/runtime/server.py), so checking it checks both."""

from __future__ import annotations

import collections
import os
import socket
import subprocess
import sys
import time
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import requests
from gunicorn.config import Config
from gunicorn.workers.gthread import TConn

from console.runtime.server import WORKER_CLASS, NoDelayThreadWorker, ParleyServer
from tests.support.live import ROOT, free_port


def _nodelay(sock: socket.socket) -> int:
    return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)


def test_the_worker_sets_nodelay_on_a_connection_whose_listener_did_not() -> None:
    """Linux copies the listener's option to accepted sockets; the worker does not rely on it."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        assert _nodelay(listener) == 0
        with socket.create_connection(listener.getsockname()) as client:
            accepted, address = listener.accept()
            with accepted:
                assert _nodelay(accepted) == 0
                worker: Any = NoDelayThreadWorker.__new__(NoDelayThreadWorker)
                submitted: list[Any] = []
                worker.tpool = type("Pool", (), {"submit": lambda _s, *a: submitted.append(a) or Future()})()
                worker.futures = collections.deque()
                conn = TConn(Config(), accepted, address, listener.getsockname())
                worker.enqueue_req(conn)
                assert _nodelay(conn.sock) == 1
                assert submitted and submitted[0][1] is conn  # then handled as gunicorn would
                del client


def test_both_serving_commands_use_the_nodelay_worker() -> None:
    server = ParleyServer(lambda: None, host="127.0.0.1", port=1, threads=1, grace_s=1)  # type: ignore[arg-type,return-value]
    assert server.cfg.worker_class_str == WORKER_CLASS
    assert server.cfg.worker_class is NoDelayThreadWorker
    serve = (ROOT / "console" / "runtime" / "serve.py").read_text()
    assert serve.count("ParleyServer(build") == 2  # `parley run` (serve) and `parley web` (serve_web)


def test_a_live_server_answers_on_a_nodelay_socket(tmp_path: Path) -> None:
    port = free_port()
    log = open(tmp_path / "server.log", "wb")  # noqa: SIM115 - the child owns it
    proc = subprocess.Popen([sys.executable, "-m", "tests.support.nodelay_server", str(port)], cwd=ROOT,
                            env=dict(os.environ), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    log.close()
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / "server.log").read_text()
            time.sleep(0.1)
        assert requests.get(f"{url}/nodelay", timeout=5).json() == {"nodelay": 1}
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(20)
