"""Phone numbers in E.164, the one spelling every SMS/WhatsApp identity is stored in."""

from __future__ import annotations

import phonenumbers


class InvalidNumber(ValueError):
    pass


def to_e164(raw: str) -> str:
    """`+15551234567` from what providers and people write; the Cloud API's `wa_id` has no `+`.

    Short codes and alphanumeric sender ids are not phone numbers and are kept as they are.
    """
    raw = (raw or "").strip()
    if not raw:
        raise InvalidNumber("missing phone number")
    compact = raw.replace(" ", "").replace("-", "")
    candidate = "+" + compact if compact.isdigit() else raw
    try:
        number = phonenumbers.parse(candidate, None)
    except phonenumbers.NumberParseException as exc:
        if compact.isalnum() and len(compact) <= 16:
            return compact
        raise InvalidNumber(f"not a phone number: {raw!r}") from exc
    if not phonenumbers.is_possible_number(number):
        if compact.isalnum() and len(compact) <= 16:
            return compact
        raise InvalidNumber(f"not a phone number: {raw!r}")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
