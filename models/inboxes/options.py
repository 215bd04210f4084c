"""A webchat widget's options: the sites it may run on, and what the visitor sees (greeting, colour,
title). Stored as plain text and always rendered as text (the widget sets textContent), never HTML."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from models.errors import InvalidInput
from models.feedback.options import apply_feedback_options

COLOR = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
MAX_ORIGINS = 50
LIMITS = {"greeting": 500, "title": 60}
DEFAULTS = {"greeting": "Hi there! Ask us anything. Our assistant answers right away, and a person takes over "
                        "whenever you ask.", "title": "Chat with us", "color": "#4f46e5"}


def check_origin_value(raw: Any) -> str:
    """`https://shop.example.com[:port]`: a scheme and a host, nothing else (what browsers send as Origin)."""
    if not isinstance(raw, str) or not raw.strip() or len(raw) > 200:
        raise InvalidInput("Each origin is a site's address, like https://shop.example.com.", code="bad_origin")
    value = raw.strip().rstrip("/").lower()
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as exc:
        raise InvalidInput(f"{raw!r} is not a site's address.", code="bad_origin") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path or parts.query or parts.fragment \
            or parts.username or parts.password:
        raise InvalidInput(f"{raw!r} is not an origin: write the scheme and host only, like "
                           "https://shop.example.com.", code="bad_origin")
    return f"{parts.scheme}://{parts.hostname}" + (f":{port}" if port else "")


def check_origins(raw: Any, allowed_globally: Sequence[str]) -> list[str]:
    """Per-widget origins refine PARLEY_WIDGET_ORIGINS: each must also be one the deployment allows
    (the socket layer refuses every other site before the widget's own list is read)."""
    if raw is None:
        return []
    if not isinstance(raw, list) or len(raw) > MAX_ORIGINS:
        raise InvalidInput(f"origins must be a list of at most {MAX_ORIGINS} sites.", code="bad_origin")
    out: list[str] = []
    everywhere = "*" in allowed_globally
    allowed = {o.rstrip("/").lower() for o in allowed_globally}
    for item in raw:
        origin = check_origin_value(item)
        if not everywhere and origin not in allowed:
            raise InvalidInput(f"{origin} is not in PARLEY_WIDGET_ORIGINS, so its visitors could not connect; "
                               "add it there first.", code="origin_not_allowed")
        if origin not in out:
            out.append(origin)
    return out


def check_widget_options(data: dict[str, Any], current: dict[str, Any],
                         allowed_globally: Sequence[str]) -> dict[str, Any]:
    """The options after applying `data`'s origins, greeting, color and title (absent keys kept; null or
    empty clears to the default)."""
    out = dict(current)
    if "origins" in data:
        out["origins"] = check_origins(data["origins"], allowed_globally)
    for key, limit in LIMITS.items():
        if key not in data:
            continue
        value = data[key]
        if value is None or (isinstance(value, str) and not value.strip()):
            out.pop(key, None)
            continue
        if not isinstance(value, str) or len(value) > limit:
            raise InvalidInput(f"{key} must be text of at most {limit} characters.", code="invalid")
        out[key] = value.strip()
    if "color" in data:
        color = data["color"]
        if color is None or color == "":
            out.pop("color", None)
        elif not isinstance(color, str) or not COLOR.match(color):
            raise InvalidInput("color must be a hex colour like #4f46e5.", code="bad_color")
        else:
            out["color"] = color.lower()
    apply_feedback_options(data, out)  # the pre-chat form and the end-of-chat rating
    return out


def widget_view(options: dict[str, Any]) -> dict[str, str]:
    """What the widget shows (plain text; the widget renders it with textContent)."""
    return {k: str((options or {}).get(k) or DEFAULTS[k]) for k in ("greeting", "title", "color")}
