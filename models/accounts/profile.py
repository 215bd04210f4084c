"""What every user changes about themselves: their name and their notification choices (the password
has its own action, models/accounts/users.py, since it needs the current one)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from models.accounts.admin import check_name
from models.audit import audit
from models.errors import InvalidInput
from models.schema.accounts import User

# alerts: the console's sound and desktop notifications for new chats, offers and transfers
# (console/static/routing.js plays them; the console reads this choice at start).
NOTIFICATION_DEFAULTS: dict[str, bool] = {"alerts": False}


def notifications_of(user: User) -> dict[str, bool]:
    saved = user.notifications or {}
    return {k: bool(saved.get(k, v)) for k, v in NOTIFICATION_DEFAULTS.items()}


def check_notifications(value: object) -> dict[str, bool]:
    if not isinstance(value, dict):
        raise InvalidInput("notifications must be an object, e.g. {\"alerts\": true}.")
    unknown = sorted(set(value) - set(NOTIFICATION_DEFAULTS))
    if unknown:
        raise InvalidInput(f"Unknown notification setting(s): {', '.join(map(str, unknown))}.")
    if not all(isinstance(v, bool) for v in value.values()):
        raise InvalidInput("Notification settings are true or false.")
    return {str(k): bool(v) for k, v in value.items()}


def do_update_profile(session: Session, user: User, changes: dict[str, Any]) -> User:
    done: dict[str, Any] = {}
    if "name" in changes:
        user.name = done["name"] = check_name(changes["name"])
    if "notifications" in changes:
        merged = {**notifications_of(user), **check_notifications(changes["notifications"])}
        user.notifications = done["notifications"] = merged
    if done:
        audit(session, "user.profile_changed", actor=user, user_id=user.id, changes=done)
    return user
