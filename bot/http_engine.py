"""The `http` engine: each turn is POSTed to the operator's own bot (`PARLEY_HTTP_BOT_URL`), which answers
`{"replies": ["..."], "handoff": null | {"reason": "...", "summary": "..."}}`. A reply is a text, or an object
`{"text", "buttons": [{"title", "payload"}], "image"}` whose buttons and image are shown as the Rasa engine's
are (models/conversations/rich.py: checked and bounded; chips on webchat, buttons or a numbered list elsewhere).

The request (JSON, signed like webhooks when `PARLEY_HTTP_BOT_SECRET` is set, see connectors/webhooks_out.py):
`{"conversation_id", "message": {"text"}, "history": [{"sender_type", "text"}], "consecutive_fallbacks"}`.
Through the outbound guard like every request an admin points somewhere. A timeout, an HTTP error or an
answer that is not that shape raises `HttpBotError`: the pipeline makes it a `bot_error` handoff, as for
the other engines. A `handoff.reason` that is one of Parley's reasons is kept (`customer_asked`, …);
any other is a `policy` handoff with the bot's own reason in the summary.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from bot.policy import DEFAULT_TEXTS
from bot.types import BotTurn, Decision, HandoffReason, TurnContext
from connectors.outbound import OutboundFailed, OutboundGuard, OutboundRefused, OutboundTooLarge
from connectors.webhooks_out import guard_with, signed_headers
from models.conversations.rich import Rich, buttons_from, safe_image_url
from models.settings import Settings

ENGINE_NAME = "http"
MAX_REPLIES = 10
MAX_REPLY_CHARS = 4096
MAX_ANSWER_BYTES = 256 * 1024


class HttpBotError(Exception):
    """The bot did not answer usably; the pipeline hands off with `bot_error`."""


class HttpBotEngine:
    name = ENGINE_NAME

    def __init__(self, url: str, *, secret: str | None = None, timeout: float = 10.0,
                 guard: OutboundGuard | None = None, outbound_allow: str = "") -> None:
        self.url = url
        self.secret = secret
        self.timeout = timeout
        self._guard = guard
        self.outbound_allow = outbound_allow

    @classmethod
    def from_settings(cls, settings: Settings) -> HttpBotEngine:
        if not settings.http_bot_url:
            raise ValueError("PARLEY_BOT_ENGINES names 'http' but PARLEY_HTTP_BOT_URL is not set")
        return cls(settings.http_bot_url, secret=settings.http_bot_secret, timeout=settings.http_bot_timeout,
                   outbound_allow=settings.outbound_allow)

    def guard(self) -> OutboundGuard:
        return self._guard or guard_with(self.outbound_allow)

    def turn(self, text: str, context: TurnContext) -> BotTurn:
        body = json.dumps({"conversation_id": context.conversation_id, "message": {"text": text},
                           "history": [{"sender_type": who, "text": said} for who, said in context.history],
                           "consecutive_fallbacks": context.consecutive_fallbacks,
                           "attributes": dict(context.attributes), "page_url": context.page_url},
                          ensure_ascii=False).encode()
        try:
            answer = self.guard().post(self.url, content=body, headers=signed_headers(self.secret, body),
                                       timeout=self.timeout, max_bytes=MAX_ANSWER_BYTES)
        except (OutboundRefused, OutboundTooLarge, OutboundFailed, httpx.InvalidURL) as exc:
            raise HttpBotError(f"the bot at {self.url} did not answer: {exc}") from exc
        if not 200 <= answer.status_code < 300:
            raise HttpBotError(f"the bot answered HTTP {answer.status_code}")
        try:
            data = json.loads(answer.content)
        except ValueError as exc:
            raise HttpBotError("the bot's answer is not JSON") from exc
        return parse_answer(data)


def parse_answer(data: Any) -> BotTurn:
    """`{"replies": [...], "handoff": {...} | null}` → a turn; anything else raises `HttpBotError`."""
    if not isinstance(data, dict):
        raise HttpBotError("the bot's answer must be a JSON object")
    replies, rich = _replies(data.get("replies", []))
    handoff = data.get("handoff")
    if handoff is None:
        if not replies:
            raise HttpBotError("the bot neither replied nor handed off")
        return BotTurn(Decision.ANSWER, replies, None, 1.0, engine=ENGINE_NAME, rich=rich)
    if not isinstance(handoff, dict):
        raise HttpBotError("'handoff' must be null or {\"reason\", \"summary\"}")
    reason_text, summary = handoff.get("reason"), handoff.get("summary", "")
    if not isinstance(reason_text, str) or not reason_text.strip() or not isinstance(summary, str | None):
        raise HttpBotError("'handoff' needs a 'reason' (text) and an optional 'summary' (text)")
    known = {r.value for r in HandoffReason}
    reason = HandoffReason(reason_text) if reason_text in known else HandoffReason.POLICY
    summary = (summary or "").strip()
    if reason is HandoffReason.POLICY and reason_text != HandoffReason.POLICY.value:
        summary = f"The bot handed off: {reason_text.strip()[:200]}." + (f" {summary}" if summary else "")
    said = replies or (DEFAULT_TEXTS["utter_handoff"],)  # a handoff is never silent
    return BotTurn(Decision.HANDOFF, said, None, 1.0, reason=reason, engine=ENGINE_NAME,
                   summary=summary[:2000], rich=rich if replies else ())


def _replies(raw: Any) -> tuple[tuple[str, ...], tuple[Rich, ...]]:
    """The replies' texts and, by position, their buttons and image. A reply is a non-empty text or
    `{"text", "buttons", "image"}`; anything else raises `HttpBotError`."""
    shape = f"'replies' must be a list of at most {MAX_REPLIES} non-empty texts or {{\"text\", \"buttons\", \"image\"}}"
    if not isinstance(raw, list) or len(raw) > MAX_REPLIES:
        raise HttpBotError(shape)
    texts: list[str] = []
    rich: list[Rich] = []
    for reply in raw:
        if isinstance(reply, dict):
            text, buttons, image = reply.get("text"), reply.get("buttons"), reply.get("image")
            bad_image = image is not None and not safe_image_url(image)
            if (buttons is not None and not isinstance(buttons, list)) or bad_image:
                raise HttpBotError("a reply's 'buttons' must be a list of {\"title\", \"payload\"} and its "
                                   "'image' an http(s) URL")
            extra = Rich(buttons=buttons_from(buttons), image=safe_image_url(image))
        else:
            text, extra = reply, Rich()
        if not isinstance(text, str) or not text.strip() or len(text) > MAX_REPLY_CHARS:
            raise HttpBotError(shape)
        texts.append(text)
        rich.append(extra)
    while rich and not rich[-1]:
        rich.pop()
    return tuple(texts), tuple(rich)
