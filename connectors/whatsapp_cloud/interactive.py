"""A bot message's quick replies on WhatsApp: interactive reply buttons, a list, or numbered text.

The Cloud API's limits decide the shape: up to 3 reply buttons with titles of at most 20 characters
(an image may ride along as the header); else up to 10 list rows with titles of at most 24; else the
numbered text SMS gets. A customer's tap comes back as an `interactive` message whose title is the
text stored (connectors/whatsapp_cloud parse), and a typed number works as on SMS: both map back to
the button's payload in the bot pipeline (bot/metadata.py).
"""

from __future__ import annotations

from typing import Any

from connectors.base import OutboundMessage
from models.conversations.rich import numbered

MAX_REPLY_BUTTONS = 3
MAX_BUTTON_TITLE = 20
MAX_LIST_ROWS = 10
MAX_ROW_TITLE = 24
MAX_BODY = 1024
MAX_ID = 256
LIST_BUTTON = "Choose"
EMPTY_BODY = "Choose one:"


def interactive_body(msg: OutboundMessage, image: str | None) -> dict[str, Any]:
    """The `type`-specific part of the send body for a message with buttons (`image`: its image link)."""
    text = msg.text.strip() or EMPTY_BODY
    titles = [b.title for b in msg.buttons]
    if len(text) <= MAX_BODY and len(titles) <= MAX_REPLY_BUTTONS and max(map(len, titles)) <= MAX_BUTTON_TITLE:
        interactive: dict[str, Any] = {
            "type": "button", "body": {"text": text},
            "action": {"buttons": [{"type": "reply", "reply": {"id": b.payload[:MAX_ID] or f"b{i}", "title": b.title}}
                                   for i, b in enumerate(msg.buttons, 1)]}}
        if image:
            interactive["header"] = {"type": "image", "image": {"link": image}}
        return {"type": "interactive", "interactive": interactive}
    with_link = f"{text}\n{image}" if image else text  # lists have no image header: the link goes in the text
    if len(with_link) <= MAX_BODY and len(titles) <= MAX_LIST_ROWS and max(map(len, titles)) <= MAX_ROW_TITLE:
        rows = [{"id": b.payload[:MAX_ID] or f"b{i}", "title": b.title} for i, b in enumerate(msg.buttons, 1)]
        return {"type": "interactive", "interactive": {
            "type": "list", "body": {"text": with_link},
            "action": {"button": LIST_BUTTON, "sections": [{"title": "Options", "rows": rows}]}}}
    plain = "\n".join(x for x in (msg.text.strip(), image or "") if x)
    return {"type": "text", "text": {"body": numbered(plain, msg.buttons), "preview_url": bool(image)}}
