"""Who is calling: the console's session cookie or a Bearer token; CSRF for cookie-authenticated writes."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from console.services import services
from models.accounts.users import authenticate, user_for_token
from models.errors import ParleyError
from models.schema.accounts import User

bp = Blueprint("auth", __name__)
F = TypeVar("F", bound=Callable[..., Any])


class Unauthorized(ParleyError):
    code = "unauthorized"


def csrf_token() -> str:
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(32)
    return str(token)


def _csrf_ok(supplied: str | None) -> bool:
    expected = session.get("csrf")
    return bool(expected and supplied and hmac.compare_digest(str(expected), supplied))


def _load(user_id: int | None = None, token: str | None = None) -> User | None:
    with services().db.transaction() as s:
        if token is not None:
            user = user_for_token(s, token)
            user_id = user.id if user else None
        if user_id is None:
            return None
        user = s.scalar(select(User).options(selectinload(User.memberships)).where(User.id == user_id))
        return user if user is not None and user.active else None


def current_user() -> User | None:
    """The caller, cached for the request. Sets `g.via_token` for the CSRF decision."""
    if "user" in g:
        user: User | None = g.user
        return user
    header = request.headers.get("Authorization", "")
    g.via_token = header.startswith("Bearer ")
    if g.via_token:
        g.user = _load(token=header[len("Bearer "):].strip())
    else:
        uid = session.get("uid")
        g.user = _load(user_id=uid) if isinstance(uid, int) else None
    return g.user


def user_from_socket_auth(auth: Any) -> User | None:
    """Socket.IO `/console`: the session cookie, or `auth={"token": ...}` for API clients."""
    if isinstance(auth, dict) and isinstance(auth.get("token"), str):
        return _load(token=auth["token"])
    uid = session.get("uid")
    return _load(user_id=uid) if isinstance(uid, int) else None


def api_user() -> User:
    """The authenticated caller of an API view; enforces CSRF on cookie-authenticated writes."""
    user = current_user()
    if user is None:
        raise Unauthorized("Log in or send an 'Authorization: Bearer <token>' header.")
    if request.method not in ("GET", "HEAD", "OPTIONS") and not g.via_token \
            and not _csrf_ok(request.headers.get("X-CSRF-Token")):
        raise Unauthorized("Missing or wrong X-CSRF-Token header.", code="csrf")
    return user


def login_required(view: F) -> F:
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if current_user() is None or g.via_token:
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def _safe_next(target: str | None) -> str:
    """Only same-site paths: a login link must not bounce the agent to another site."""
    if not target:
        return url_for("pages.console")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return url_for("pages.console")
    return target


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    if request.method == "GET":
        return render_template("login.html", error=None, email="")
    email = request.form.get("email", "")
    if not _csrf_ok(request.form.get("csrf_token")):
        return render_template("login.html", error="Your session expired; please try again.",
                               email=email), 400
    with services().db.transaction() as s:
        user = authenticate(s, email, request.form.get("password", ""))
        uid = user.id if user else None
    if uid is None:
        return render_template("login.html", error="Wrong email or password.", email=email), 401
    session.clear()
    session["uid"] = uid
    session["csrf"] = secrets.token_urlsafe(32)
    session.permanent = True
    return redirect(_safe_next(request.args.get("next")))


@bp.post("/logout")
def logout() -> Any:
    if not _csrf_ok(request.form.get("csrf_token")):
        abort(400)
    session.clear()
    return redirect(url_for("auth.login"))
