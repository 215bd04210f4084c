"""What the bot is told beside a customer's message, and what a button answer means.

`turn_metadata` is the `metadata` Rasa gets with every turn (and any engine may read from
`TurnContext.metadata`): the channel the customer wrote on, the conversation's public id, and the
contact — its id, its name and, when contacts carry them, its custom attributes. Nothing else goes
in: no other customer's data, no address (phone, email), no server setting.

`answered_payload`: a customer who answers a bot message's buttons (a chip's title, a WhatsApp
button reply, "2" on SMS) means that button's payload; the engine is given the payload while the
customer's message is stored as written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from models.conversations.rich import choice_payload, rich_from_json
from models.schema.conversations import SenderType


def turn_metadata(*, channel: str, conversation_id: str, contact_id: int, contact_name: str | None,
                  attributes: Any = None, page_url: str | None = None) -> dict[str, Any]:
    contact: dict[str, Any] = {"id": contact_id, "name": contact_name or ""}
    if isinstance(attributes, Mapping) and attributes:
        contact["attributes"] = dict(attributes)
    out: dict[str, Any] = {"channel": channel, "conversation_id": conversation_id, "contact": contact}
    if page_url:  # the page the conversation started on (the widget SDK)
        out["page"] = {"url": page_url}
    return out


def answered_payload(text: str, earlier: Sequence[tuple[str, Any]]) -> str | None:
    """The payload `text` picks among the buttons of the bot's last turn. `earlier`: (sender_type,
    rich) of the messages before it, newest first; the bot's turn is what came after the customer's
    previous message (a system notice in between does not end it)."""
    for sender_type, rich in earlier:
        if sender_type == SenderType.CONTACT.value:
            return None
        if sender_type == SenderType.BOT.value:
            buttons = rich_from_json(rich).buttons
            if buttons:
                return choice_payload(text, buttons)
    return None
