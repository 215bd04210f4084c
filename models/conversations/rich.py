"""A bot message's rich content: buttons (quick replies) and an image, stored beside its text.

Kept on the message (`messages.rich`, JSON) so every place that shows or sends the message reads the
same thing: the widget draws the buttons as chips, the console lists them, history reloads them, and
the delivery worker renders them per channel (WhatsApp interactive buttons or a list, SMS a numbered
list). The content comes from the operator's bot (a Rasa domain or custom action); it is still checked
here, because a custom action may echo customer text: titles are plain text (escaped wherever shown),
an image is only an `http(s)` URL, and sizes are bounded.

A customer answers a button by its title (a chip, a WhatsApp button reply) or, on any channel, by its
number ("2"); `choice_payload` maps that answer back to the button's payload, which is what the bot
is given (the customer's message is stored and shown as they wrote it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

MAX_BUTTONS = 10
MAX_TITLE = 100
MAX_PAYLOAD = 1000
MAX_URL = 2000


@dataclass(frozen=True)
class Button:
    title: str
    payload: str


@dataclass(frozen=True)
class Rich:
    buttons: tuple[Button, ...] = ()
    image: str | None = None

    def __bool__(self) -> bool:
        return bool(self.buttons or self.image)

    def to_json(self) -> dict[str, Any] | None:
        """The stored shape (None when there is nothing beside the text)."""
        if not self:
            return None
        out: dict[str, Any] = {}
        if self.buttons:
            out["buttons"] = [{"title": b.title, "payload": b.payload} for b in self.buttons]
        if self.image:
            out["image"] = self.image
        return out


def _text(value: Any, limit: int) -> str | None:
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        return None
    text = " ".join(str(value).split())
    return text[:limit] if text else None


def safe_image_url(value: Any) -> str | None:
    """An absolute http(s) URL with a host, or None (no `javascript:`, `data:`, relative paths)."""
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_URL:
        return None
    url = value.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return url


def buttons_from(raw: Iterable[Any] | None) -> tuple[Button, ...]:
    """Rasa's `buttons` (`{"title", "payload"}`; a missing payload is the title), cleaned, at most
    `MAX_BUTTONS`; entries without a title are dropped."""
    out: list[Button] = []
    for item in raw or ():
        if not isinstance(item, Mapping):
            continue
        title = _text(item.get("title"), MAX_TITLE)
        if title is None:
            continue
        payload = item.get("payload")
        payload_text = payload.strip()[:MAX_PAYLOAD] if isinstance(payload, str) and payload.strip() else title
        out.append(Button(title, payload_text))
        if len(out) == MAX_BUTTONS:
            break
    return tuple(out)


def rich_from_json(value: Any) -> Rich:
    """The stored shape back (tolerant: anything unexpected reads as nothing)."""
    if not isinstance(value, Mapping):
        return Rich()
    buttons = value.get("buttons")
    return Rich(buttons=buttons_from(buttons if isinstance(buttons, list) else None),
                image=safe_image_url(value.get("image")))


def image_type(url: str) -> str:
    """A content type for an image link, from its extension (providers check it themselves)."""
    path = urlsplit(url).path.lower()
    return "image/png" if path.endswith(".png") else "image/jpeg"


def choice_payload(text: str, buttons: tuple[Button, ...]) -> str | None:
    """The payload of the button a customer's answer names: its number (1-based) or its title
    (case and spacing ignored); None when the answer is something else."""
    if not buttons:
        return None
    answer = " ".join(text.split())
    if answer.isdigit() and 1 <= int(answer) <= len(buttons):
        return buttons[int(answer) - 1].payload
    folded = answer.casefold()
    for button in buttons:
        if button.title.casefold() == folded:
            return button.payload
    return None


def numbered(text: str, buttons: tuple[Button, ...]) -> str:
    """The text with its buttons as a numbered list (SMS, and WhatsApp beyond a list's limits)."""
    lines = [f"{i}. {b.title}" for i, b in enumerate(buttons, 1)]
    if not lines:
        return text
    hint = "Reply with a number."
    return "\n".join([text, "", *lines, "", hint] if text else [*lines, "", hint])
