"""`console.wsgi:app`: the web role for a WSGI server you run yourself.

    gunicorn -w 1 --threads 32 -b 0.0.0.0:8000 console.wsgi:app

One worker process with threads (Flask-SocketIO's threading mode, WebSockets by simple-websocket);
run `parley db upgrade` first, and `parley worker` beside it. `parley web` does all of this for you.
"""

from __future__ import annotations

from console.app import create_app
from console.runtime.roles import make_web

app = make_web(create_app())
