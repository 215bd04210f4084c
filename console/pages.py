"""HTML pages: the console, the widget's demo page and script, and the health check."""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, Flask, Response, jsonify, render_template, request, send_from_directory
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


def widget_js() -> Response:
    """The embeddable widget: served from a fixed URL so a site embeds it with one script tag."""
    from flask import current_app

    response = send_from_directory(current_app.static_folder or "static", "widget.js", max_age=300)
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


def register(app: Flask) -> None:
    app.register_blueprint(bp)
    app.add_url_rule("/widget/widget.js", "widget_js", widget_js)
