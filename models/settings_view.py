"""What `parley config show` prints: every variable, its value in effect and its meaning, with
secrets and URL passwords masked."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

from models.settings import SECRET_NAMES, Settings, _fields


def describe(settings: Settings) -> list[tuple[str, str, str]]:
    """(variable, value in effect, meaning) for every variable; secrets and URL passwords masked."""
    return [(str(f.validation_alias), _shown(str(f.validation_alias), getattr(settings, name)), f.description or "")
            for name, f in _fields().items()]


def _shown(env: str, value: Any) -> str:
    if value is None or value == "":
        return "(unset)"
    if env in SECRET_NAMES:
        return "****"
    if isinstance(value, tuple):
        return ",".join(value)
    text = str(value)
    if "://" in text:  # DATABASE_URL, REDIS_URL, and what is derived from them (PARLEY_RATE_LIMIT_STORAGE)
        text = mask_url(text)
    return text


def mask_url(url: str) -> str:
    """`scheme://user:****@host/...`: the password never leaves in a listing or a log."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    user = f"{parts.username}:****@" if parts.username else ":****@"
    return urlunsplit((parts.scheme, user + host, parts.path, parts.query, parts.fragment))
