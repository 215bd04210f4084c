"""Who is calling: a server-side console session (the cookie holds only its id and the CSRF token) or a
Bearer token; CSRF for cookie-authenticated writes; login with back-off, logout that ends the session."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
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

from console.limits import client_address, limits
from console.services import services
from models.accounts.sessions import do_end_session, do_start_session, session_for
from models.accounts.tokens import user_for_token
from models.accounts.users import authenticate
from models.errors import ParleyError
from models.schema.accounts import ApiToken, AuthSession, User
from models.schema.base import utcnow

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


@dataclass(frozen=True)
class Credential:
    """Who is calling and with what: a console session (cookie) or an API token. Sockets remember it,
    so ending that session or token closes them."""

    user: User
    session_id: int | None = None
    token_id: int | None = None


def _with_teams(s: Any, user_id: int) -> User | None:
    user = s.scalar(select(User).options(selectinload(User.memberships)).where(User.id == user_id))
    return user if user is not None and user.active else None


def _by_token(token: str) -> Credential | None:
    with services().db.transaction() as s:
        found = user_for_token(s, token)
        user = _with_teams(s, found[0].id) if found else None
        return Credential(user, token_id=found[1].id) if user is not None and found else None


def _by_cookie() -> Credential | None:
    secret = session.get("sid")
    if not isinstance(secret, str):
        return None
    with services().db.transaction() as s:
        row = session_for(s, secret)
        user = _with_teams(s, row.user_id) if row else None
        return Credential(user, session_id=row.id) if user is not None and row else None


def current_credential() -> Credential | None:
    """The caller's credential, cached for the request. Sets `g.via_token` for the CSRF decision."""
    if "credential" in g:
        found: Credential | None = g.credential
        return found
    header = request.headers.get("Authorization", "")
    g.via_token = header.startswith("Bearer ")
    g.credential = _by_token(header[len("Bearer "):].strip()) if g.via_token else _by_cookie()
    return g.credential


def current_user() -> User | None:
    found = current_credential()
    return found.user if found else None


def still_live(credential: Credential) -> bool:
    """Is this credential still good? Asked once more after a socket registered, so a revocation that
    committed between the check at connect and the registration cannot leave the socket open."""
    with services().db.session() as s:
        if credential.session_id is not None:
            row = s.get(AuthSession, credential.session_id)
            return row is not None and row.revoked_at is None and row.expires_at > utcnow()
        token = s.get(ApiToken, credential.token_id) if credential.token_id is not None else None
        return token is not None and token.revoked_at is None and (
            token.expires_at is None or token.expires_at > utcnow())


def socket_credential(auth: Any) -> Credential | None:
    """Socket.IO `/console`: `auth={"token": ...}` for API clients, else the session cookie. When the
    auth names a token, that token is the credential or there is none: never the cookie instead (a
    cross-site page could otherwise send a junk token to skip the Origin check and ride the cookie)."""
    if isinstance(auth, dict) and "token" in auth:
        token = auth["token"]
        return _by_token(token) if isinstance(token, str) and token else None
    return _by_cookie()


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
    # Browsers read "/\\evil.example" as "//evil.example", and drop tabs and newlines: refuse both.
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") \
            or "\\" in target or any(ord(c) < 32 for c in target):
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
    guard, address = limits().login, client_address()
    guard.check(email, address)  # locked out: 429, without looking at the password
    with services().db.transaction() as s:
        user = authenticate(s, email, request.form.get("password", ""))
        secret = do_start_session(s, user, lifetime=timedelta(days=services().settings.session_days),
                                  user_agent=request.headers.get("User-Agent", ""), ip=address)[0] if user else None
    if secret is None:
        guard.failed(email, address)
        return render_template("login.html", error="Wrong email or password.", email=email), 401
    guard.succeeded(email, address)
    session.clear()
    session["sid"] = secret
    session["csrf"] = secrets.token_urlsafe(32)
    session.permanent = True
    return redirect(_safe_next(request.args.get("next")))


@bp.post("/logout")
def logout() -> Any:
    if not _csrf_ok(request.form.get("csrf_token")):
        abort(400)
    secret = session.get("sid")
    if isinstance(secret, str):
        with services().db.transaction() as s:
            do_end_session(s, secret)  # the cookie is dead everywhere, not only in this browser
    session.clear()
    return redirect(url_for("auth.login"))
