"""Pages of user and team management: the admin pages (/admin/users, /admin/teams: the work is done in
the browser against /api/v1) and the public page behind a mailed link, /password/<token>, where an
invited user chooses a password or anyone with a reset link chooses a new one."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, render_template, request

from console.auth import _csrf_ok, current_user, login_required
from console.services import services
from models.accounts.passwords import MIN_PASSWORD, Purpose, do_use_password_link, link_for
from models.errors import InvalidInput, NotFound

bp = Blueprint("account_pages", __name__)


def _admin_page(template: str) -> str:
    user = current_user()
    if user is None or user.role != "admin":
        abort(403)
    return render_template(template, user=user)


@bp.get("/admin/users")
@login_required
def users_page() -> str:
    return _admin_page("admin_users.html")


@bp.get("/admin/teams")
@login_required
def teams_page() -> str:
    return _admin_page("admin_teams.html")


def _form(token: str, *, error: str | None = None, status: int = 200) -> Any:
    with services().db.session() as s:
        try:
            row, user = link_for(s, token)
        except NotFound as exc:
            return render_template("password.html", state="invalid", error=exc.message), 404
        invite = row.purpose == Purpose.INVITE.value
        return render_template("password.html", state="form", invite=invite, email=user.email, name=user.name,
                               error=error, min_length=MIN_PASSWORD), status


@bp.get("/password/<token>")
def password_page(token: str) -> Any:
    return _form(token)


@bp.post("/password/<token>")
def password_submit(token: str) -> Any:
    if not _csrf_ok(request.form.get("csrf_token")):
        return _form(token, error="Your session expired; please try again.", status=400)
    try:
        with services().db.transaction() as s:
            user = do_use_password_link(s, token, request.form.get("password", ""),
                                        request.form.get("confirm", ""))
            email = user.email
    except InvalidInput as exc:
        return _form(token, error=exc.message, status=400)
    except NotFound as exc:
        return render_template("password.html", state="invalid", error=exc.message), 404
    return render_template("password.html", state="done", email=email)
