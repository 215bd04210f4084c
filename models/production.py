"""Refusing to start a production deployment on development defaults.

On SQLite (`parley run` with no configuration) everything stays permissive so a developer can try
Parley at once. Once PostgreSQL is configured, Parley is taken to be facing the internet, where two
defaults are holes: `PARLEY_WIDGET_ORIGINS=*` lets any site open customer sockets in visitors'
browsers, and without `PARLEY_PUBLIC_URL` Twilio signatures are checked against whatever Host header
arrives and media links point nowhere. `PARLEY_ALLOW_INSECURE_DEFAULTS=1` is the explicit opt-out for
development and test runs on PostgreSQL.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from models.errors import ParleyError
from models.settings import Settings

OPT_OUT = "PARLEY_ALLOW_INSECURE_DEFAULTS"


class InsecureDefaults(ParleyError):
    """Raised at start with a message that says what to set (the CLI prints it, without a traceback)."""

    code = "insecure_defaults"


def _env(settings: Settings, env: Mapping[str, str] | None) -> dict[str, str]:
    merged = dict(os.environ if env is None else env)
    merged.update({k: str(v) for k, v in settings.extra.items() if isinstance(k, str) and k.startswith("PARLEY_")})
    return merged


def check_production_defaults(settings: Settings, env: Mapping[str, str] | None = None) -> None:
    """Raise `InsecureDefaults` when PostgreSQL is configured with development defaults left in place."""
    values = _env(settings, env)
    if not settings.database_url.startswith("postgresql") or values.get(OPT_OUT, "").strip() in ("1", "true", "yes"):
        return
    problems = []
    if "*" in settings.widget_origins:
        problems.append("PARLEY_WIDGET_ORIGINS is '*' (any website may open customer chat sockets): name the "
                        "sites that embed the widget, e.g. PARLEY_WIDGET_ORIGINS=https://shop.example.com")
    if not (values.get("PARLEY_PUBLIC_URL") or "").strip():
        problems.append("PARLEY_PUBLIC_URL is not set (provider signatures and media links need the public "
                        "address): e.g. PARLEY_PUBLIC_URL=https://parley.example.com")
    if problems:
        raise InsecureDefaults("Refusing to start with development defaults on PostgreSQL:\n  - "
                               + "\n  - ".join(problems)
                               + f"\nFor development only, set {OPT_OUT}=1 to start anyway.")
