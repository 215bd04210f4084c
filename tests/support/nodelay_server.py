"""A ParleyServer (the gunicorn setup `parley run` and `parley web` share) serving a tiny app that says
whether the connection it answers on has TCP_NODELAY: `python -m tests.support.nodelay_server PORT`."""

from __future__ import annotations

import socket
import sys

from flask import Flask, request

from console.runtime.server import ParleyServer


def build() -> Flask:
    app = Flask(__name__)

    @app.get("/healthz")
    def healthz() -> str:
        return "ok"

    @app.get("/nodelay")
    def nodelay() -> dict[str, int]:
        sock = request.environ["gunicorn.socket"]
        return {"nodelay": sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)}

    return app


if __name__ == "__main__":
    ParleyServer(build, host="127.0.0.1", port=int(sys.argv[1]), threads=2, grace_s=1).run()
