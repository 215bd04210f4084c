"""Extension objects created once at import and bound to an app in `create_app` (Flask's pattern)."""

from __future__ import annotations

from flask_socketio import SocketIO

socketio = SocketIO()


def heard_here(namespace: str, room: str | None) -> bool:
    """Whether a socket connected to this process is in `room` of `namespace` (None: any socket on
    it; python-socketio keeps every connected socket in the room None). Only for a process without a
    message queue: with one, an emit reaches other processes' sockets too."""
    rooms = socketio.server.manager.rooms.get(namespace)
    return bool(rooms and rooms.get(room))
