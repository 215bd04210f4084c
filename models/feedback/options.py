"""A webchat inbox's feedback options, kept in `Inbox.options` beside its greeting and colour:

- `prechat_form`: null (no form) or `{"name": MODE, "email": MODE}` with MODE `required`, `optional` or
  `off`; the visitor fills it before their first message.
- `rating`: true to ask for a 1-5 rating (and an optional comment) once a conversation is closed.
"""

from __future__ import annotations

from typing import Any

from models.errors import InvalidInput

FIELDS = ("name", "email")
MODES = ("required", "optional", "off")
KEYS = ("prechat_form", "rating")


def check_prechat_form(raw: Any) -> dict[str, str] | None:
    """The form's shape, checked; a form with every field off is no form (None)."""
    if raw is None or raw is False:
        return None
    if not isinstance(raw, dict) or set(raw) - set(FIELDS):
        raise InvalidInput('prechat_form must be null or {"name": MODE, "email": MODE} with MODE '
                           '"required", "optional" or "off".', code="bad_prechat_form")
    form = {}
    for field in FIELDS:
        mode = raw.get(field, "off")
        if mode not in MODES:
            raise InvalidInput(f"prechat_form.{field} must be \"required\", \"optional\" or \"off\".",
                               code="bad_prechat_form")
        form[field] = mode
    return form if any(m != "off" for m in form.values()) else None


def apply_feedback_options(data: dict[str, Any], out: dict[str, Any]) -> None:
    """Set `prechat_form` and `rating` from `data` into the options `out` (absent keys kept)."""
    if "prechat_form" in data:
        form = check_prechat_form(data["prechat_form"])
        if form is None:
            out.pop("prechat_form", None)
        else:
            out["prechat_form"] = form
    if "rating" in data:
        if data["rating"] is not None and not isinstance(data["rating"], bool):
            raise InvalidInput("rating must be true or false.", code="invalid")
        if data["rating"]:
            out["rating"] = True
        else:
            out.pop("rating", None)


def feedback_view(options: dict[str, Any] | None) -> dict[str, Any]:
    """What the widget and the admin page are told: the form (or null) and whether rating is on."""
    options = options or {}
    form = options.get("prechat_form")
    return {"prechat_form": dict(form) if isinstance(form, dict) else None, "rating": bool(options.get("rating"))}


def required_fields(options: dict[str, Any] | None) -> list[str]:
    form = feedback_view(options)["prechat_form"] or {}
    return [f for f in FIELDS if form.get(f) == "required"]
