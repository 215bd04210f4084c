"""Exact money: integers in a currency's minor units, never floats. Totals, tax and the text people read."""

from __future__ import annotations

# ISO 4217 currencies whose minor unit is not a hundredth (Stripe's list of zero- and three-decimal ones).
ZERO_DECIMAL = frozenset({"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd",
                          "vuv", "xaf", "xof", "xpf"})
THREE_DECIMAL = frozenset({"bhd", "jod", "kwd", "omr", "tnd"})
BPS = 10_000  # basis points in a whole


def exponent(currency: str) -> int:
    """Digits after the decimal point in `currency` (lower or upper case)."""
    code = currency.lower()
    return 0 if code in ZERO_DECIMAL else 3 if code in THREE_DECIMAL else 2


def line_total(quantity: int, unit_amount: int) -> int:
    return quantity * unit_amount


def tax_of(subtotal: int, rate_bps: int) -> int:
    """`subtotal` times the rate, rounded half up to the minor unit, with integers only."""
    return (subtotal * rate_bps + BPS // 2) // BPS


def format_amount(amount: int, currency: str) -> str:
    """`1250, "eur"` → `EUR 12.50`; `500, "jpy"` → `JPY 500`."""
    digits = exponent(currency)
    sign = "-" if amount < 0 else ""
    whole, part = divmod(abs(amount), 10 ** digits)
    text = f"{whole:,}" + (f".{part:0{digits}d}" if digits else "")
    return f"{currency.upper()} {sign}{text}"


def percent(rate_bps: int) -> str:
    """Basis points as a percentage people read: 2000 → `20`, 725 → `7.25`."""
    whole, part = divmod(rate_bps, 100)
    return f"{whole}.{part:02d}".rstrip("0") if part else str(whole)
