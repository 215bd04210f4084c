"""What an admin may write into the training data: names, examples and responses, checked before anything is changed."""

from __future__ import annotations

import re
from typing import Any

from bot.training_data import (
    FALLBACK_INTENT,
    strip_entities,
)

INTENT_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


RESPONSE_NAME = re.compile(r"^utter_[a-z0-9_]{1,64}$")


MAX_EXAMPLE = 500


MAX_RESPONSE = 2000


class ChangeError(ValueError):
    """An operation that cannot be applied; the message says why, for the admin."""


def check_intent_name(value: Any) -> str:
    name = str(value or "").strip()
    if not INTENT_NAME.match(name):
        raise ChangeError("An intent name is 1-64 lowercase letters, digits and underscores, starting with a "
                          f"letter (e.g. 'gift_cards'); got {name!r}.")
    if name == FALLBACK_INTENT:
        raise ChangeError(f"'{FALLBACK_INTENT}' is Rasa's own fallback intent and has no examples.")
    return name


def check_response_name(value: Any) -> str:
    name = str(value or "").strip()
    if not RESPONSE_NAME.match(name):
        raise ChangeError(f"A response name is 'utter_' followed by lowercase letters, digits and underscores; "
                          f"got {name!r}.")
    return name


def check_examples(value: Any, *, at_least: int) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ChangeError("Examples must be a list of texts.")
    cleaned: list[str] = []
    seen: set[str] = set()
    for raw in value:
        text = " ".join(raw.split())
        if not text:
            continue
        if len(text) > MAX_EXAMPLE:
            raise ChangeError(f"An example is longer than {MAX_EXAMPLE} characters: {text[:40]!r}…")
        if not strip_entities(text):
            raise ChangeError(f"Example {text!r} has no text besides its entity markup.")
        if text in seen:  # exact repeats only: "goodbye" and "goodbye!" are two examples to Rasa
            raise ChangeError(f"Example {text!r} is listed twice.")
        seen.add(text)
        cleaned.append(text)
    if len(cleaned) < at_least:
        raise ChangeError("Give at least one example (a customer message this intent stands for).")
    return cleaned


def check_texts(value: Any, *, allow_empty: bool) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ChangeError("Response texts must be a list of texts.")
    texts = [v.strip() for v in value if v.strip()]
    if not texts and not allow_empty:
        raise ChangeError("A response needs at least one text.")
    for text in texts:
        if len(text) > MAX_RESPONSE:
            raise ChangeError(f"A response text is longer than {MAX_RESPONSE} characters.")
    return texts
