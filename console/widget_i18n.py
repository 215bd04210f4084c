"""The widget's message catalogues (console/static/i18n/widget.<lang>.json), served to embedding sites with
the widget's CORS rule: `Parley.setLocale("de")` and the browser's language pick one. English is the
reference every other catalogue must cover (tests/test_widget_sdk_i18n.py); a missing key falls back to it.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from flask import Blueprint, jsonify

from console.widget_inbox import cors

bp = Blueprint("widget_i18n", __name__)

CATALOGUES = Path(__file__).parent / "static" / "i18n"
WIDGET_LOCALES = ("en", "de", "fr", "es")


@cache
def widget_catalogue(lang: str) -> dict[str, str]:
    data = json.loads((CATALOGUES / f"widget.{lang}.json").read_text(encoding="utf-8"))
    return {str(k): str(v) for k, v in data.items()}


@bp.get("/webchat/i18n/<lang>.json")
def widget_strings(lang: str) -> Any:
    if lang not in WIDGET_LOCALES:
        response = cors(jsonify({"error": {"code": "unknown_locale", "message":
                                           f"The widget speaks {', '.join(WIDGET_LOCALES)}."}}))
        return response, 404
    response = cors(jsonify({"locale": lang, "strings": widget_catalogue(lang)}))
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response
