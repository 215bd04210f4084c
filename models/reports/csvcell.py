"""CSV cells safe to open in a spreadsheet (OWASP "CSV injection"): text that begins with = + - @, a tab
or a carriage return would be read as a formula, so it gets a leading single quote. Numbers are
written as they are (a negative count is a number, not a formula)."""

from __future__ import annotations

from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """The value as a CSV cell: "" for None, text guarded against formulas, anything else unchanged."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value
