"""Extension objects created once at import and bound to an app in `create_app` (Flask's pattern)."""

from __future__ import annotations

from flask_socketio import SocketIO

socketio = SocketIO()
