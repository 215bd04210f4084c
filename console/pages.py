"""HTML pages: the console, the widget's demo page and script, and the health check."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, Response, jsonify, render_template, request
from sqlalchemy import text

from console.auth import current_user, login_required
from console.services import services

bp = Blueprint("pages", __name__)


@bp.get("/")
@login_required
def console() -> str:
    return render_template("console.html", user=current_user())


@bp.get("/reports")
@login_required
def reports() -> str:
    return render_template("reports.html", user=current_user())


@bp.get("/widget/demo")
def widget_demo() -> str:
    """`?key=wk_…` embeds the widget of that inbox (to try a new widget before pasting its snippet)."""
    key = request.args.get("key") or ""
    return render_template("widget_demo.html", widget_key=key if re.fullmatch(r"[A-Za-z0-9_-]{1,40}", key) else None)


@bp.get("/healthz")
def healthz() -> Any:
    with services().db.session() as s:
        s.execute(text("SELECT 1"))
    return jsonify({"status": "ok"})


# The embeddable widget is one file for the embedding site but two sources: the message renderer it shares
# with the hosted chat page (/c/<token> loads it by itself), then the widget.
WIDGET_PARTS = ("webchat_render.js", "widget.js")


def widget_js() -> Response:
    """The embeddable widget: served from a fixed URL so a site embeds it with one script tag."""
    from flask import current_app

    folder = Path(current_app.static_folder or "static")
    body = "\n".join((folder / part).read_text(encoding="utf-8") for part in WIDGET_PARTS)
    response = Response(body, mimetype="text/javascript")
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.cache_control.public = True
    response.cache_control.max_age = 300
    response.add_etag()
    response.make_conditional(request)  # a 304 when the site's cached copy is still this one
    return response


def register(app: Flask) -> None:
    app.register_blueprint(bp)
    app.add_url_rule("/widget/widget.js", "widget_js", widget_js)
