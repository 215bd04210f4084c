"""Twilio (SMS, and WhatsApp through Twilio): verify, parse, send. No Flask in here.

Inbound: Twilio POSTs form parameters signed with `X-Twilio-Signature` (HMAC-SHA1 of the full URL
and the sorted parameters, keyed with the account's auth token); `RequestValidator` checks it
against the URL Twilio called, which behind a TLS-terminating proxy is the *public* URL, not the
one the app sees. Outbound goes through the twilio library's `Client` with its API base URL
configurable (tests and benchmarks point it at a local fake).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import requests
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.request_validator import RequestValidator, get_signature_algorithm
from twilio.rest import Client

from connectors.base import (
    InboundMessage,
    MalformedPayload,
    MediaRef,
    OutboundMessage,
    PermanentSendError,
    RetryableSendError,
    StatusUpdate,
    UnconfirmedSendError,
    to_e164,
)
from models.conversations.rich import numbered

KIND = "twilio"
DEFAULT_API_BASE = "https://api.twilio.com"
WHATSAPP_PREFIX = "whatsapp:"
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
MAX_MEDIA = 10

# Twilio's words → ours (forward-only ranks live in connectors.base.DELIVERY_RANK).
STATUS_MAP = {
    "accepted": "queued", "scheduled": "queued", "queued": "queued", "sending": "queued",
    "sent": "sent", "delivered": "delivered", "read": "read",
    "undelivered": "failed", "failed": "failed", "canceled": "failed",
}

# The library logs every request at INFO; keep it quiet (never any secret in there, but noise).
_quiet = logging.getLogger("parley.twilio.http")
_quiet.setLevel(logging.WARNING)


def public_url(public_base: str | None, path: str, query: str, request_url: str) -> str:
    """The URL Twilio signed: `PARLEY_PUBLIC_URL` + path + query when set, else what we received."""
    if not public_base:
        return request_url
    return public_base.rstrip("/") + path + (f"?{query}" if query else "")


def verify(auth_token: str, url: str, params: Mapping[str, Any], signature: str | None,
           signature_settings: str | None = None) -> bool:
    """`params` as received (a MultiDict keeps repeated keys, which Twilio signs too)."""
    if not signature or not auth_token:
        return False
    algorithm = get_signature_algorithm(signature_settings) if signature_settings else None
    return bool(RequestValidator(auth_token).validate(url, params, signature, algorithm))


def channel_of(address: str) -> str:
    return "whatsapp" if address.lower().startswith(WHATSAPP_PREFIX) else "sms"


def _strip(address: str) -> str:
    return address[len(WHATSAPP_PREFIX):] if address.lower().startswith(WHATSAPP_PREFIX) else address


def parse_inbound(params: Mapping[str, str]) -> InboundMessage:
    """Form parameters of an incoming-message webhook → one InboundMessage. Unknown fields are ignored."""
    sid = (params.get("MessageSid") or params.get("SmsMessageSid") or params.get("SmsSid") or "").strip()
    sender, recipient = params.get("From") or "", params.get("To") or ""
    if not sid or len(sid) > 64 or not sender or not recipient:
        raise MalformedPayload("MessageSid, From and To are required")
    try:
        num_media = int(params.get("NumMedia") or 0)
    except ValueError as exc:
        raise MalformedPayload("NumMedia must be a number") from exc
    if not 0 <= num_media <= MAX_MEDIA:
        raise MalformedPayload("NumMedia out of range")
    media = []
    for i in range(num_media):
        url = params.get(f"MediaUrl{i}")
        if not url or not url.startswith(("https://", "http://")):
            raise MalformedPayload(f"MediaUrl{i} missing")
        media.append(MediaRef(url, params.get(f"MediaContentType{i}")))
    body = params.get("Body") or ""
    if not body.strip() and not media:
        raise MalformedPayload("an empty message")
    name = (params.get("ProfileName") or "").strip() or None
    return InboundMessage(channel=channel_of(sender), provider_message_id=sid, sender=to_e164(_strip(sender)),
                          recipient=to_e164(_strip(recipient)), text=body, sender_name=name,
                          media=tuple(media))


def parse_status(params: Mapping[str, str]) -> StatusUpdate | None:
    """A status callback → StatusUpdate; None for a status word we do not track (acknowledged, ignored)."""
    sid = (params.get("MessageSid") or params.get("SmsSid") or "").strip()
    raw = (params.get("MessageStatus") or params.get("SmsStatus") or "").strip().lower()
    if not sid or len(sid) > 64 or not raw:
        raise MalformedPayload("MessageSid and MessageStatus are required")
    if raw not in STATUS_MAP:
        return None
    code = (params.get("ErrorCode") or "").strip() or None
    return StatusUpdate(sid, STATUS_MAP[raw], error_code=code,
                        error_message=(params.get("ErrorMessage") or None) if code else None)


def _classify(exc: requests.RequestException) -> Exception:
    """Connect failures never reached Twilio (safe to retry); a read timeout may have (unconfirmed)."""
    if isinstance(exc, requests.ConnectTimeout):
        return RetryableSendError("Twilio did not accept the connection in time.", code="connect_timeout")
    if isinstance(exc, requests.ReadTimeout):
        return UnconfirmedSendError("Twilio did not answer in time.", code="timeout")
    if isinstance(exc, requests.ConnectionError):
        text = repr(exc)
        if "NewConnectionError" in text or "ConnectTimeoutError" in text or "NameResolutionError" in text:
            return RetryableSendError("Could not connect to Twilio.", code="connect_error")
        return UnconfirmedSendError("The connection to Twilio broke before it answered.", code="connection_lost")
    return UnconfirmedSendError(f"Twilio request failed ({type(exc).__name__}).", code="request_error")


def _body(msg: OutboundMessage) -> str:
    """The text sent: a bot message's quick replies as a numbered list (a reply "2", or the title,
    picks one: bot/metadata.py)."""
    return numbered(msg.text, msg.buttons)


class TwilioSender:
    """Sends through the twilio library's `Client`, pointed at `api_base`."""

    def __init__(self, *, account_sid: str, auth_token: str, number: str, api_base: str = DEFAULT_API_BASE,
                 timeout: float = 10.0, status_callback: str | None = None,
                 messaging_service_sid: str | None = None) -> None:
        http = TwilioHttpClient(timeout=timeout, logger=_quiet)
        self.client = Client(account_sid, auth_token, http_client=http)
        self.client.api.base_url = api_base.rstrip("/")
        self.number = number
        self.status_callback = status_callback
        self.messaging_service_sid = messaging_service_sid

    def _address(self, channel: str, number: str) -> str:
        return f"{WHATSAPP_PREFIX}{number}" if channel == "whatsapp" else number

    def send(self, channel: str, msg: OutboundMessage) -> str:
        kwargs: dict[str, Any] = {"to": self._address(channel, msg.to)}
        if self.messaging_service_sid and channel == "sms":
            kwargs["messaging_service_sid"] = self.messaging_service_sid
        else:
            kwargs["from_"] = self._address(channel, self.number)
        if msg.template is not None:
            kwargs["content_sid"] = msg.template.name
            if msg.template.variables:
                kwargs["content_variables"] = json.dumps(
                    {str(i + 1): v for i, v in enumerate(msg.template.variables)}, ensure_ascii=False)
        else:
            if msg.text or msg.buttons:
                kwargs["body"] = _body(msg)
            if msg.media_urls:
                kwargs["media_url"] = list(msg.media_urls)
        if self.status_callback:
            sep = "&" if "?" in self.status_callback else "?"
            kwargs["status_callback"] = self.status_callback + (f"{sep}ref={msg.ref}" if msg.ref else "")
        try:
            created = self.client.messages.create(**kwargs)
        except TwilioRestException as exc:
            code = str(exc.code) if exc.code is not None else f"http_{exc.status}"
            text = exc.msg or f"Twilio answered HTTP {exc.status}."
            if exc.status >= 500 or exc.status == 429:
                raise RetryableSendError(text, code=code, status=exc.status) from exc
            raise PermanentSendError(text, code=code, status=exc.status) from exc
        except requests.RequestException as exc:
            raise _classify(exc) from exc
        if not created.sid:
            raise UnconfirmedSendError("Twilio answered without a message SID.", code="no_sid")
        return str(created.sid)

    def find_sent(self, channel: str, msg: OutboundMessage, since: datetime) -> str | None:
        """After an unconfirmed send: the SID of a message Twilio has from us to `msg.to` with this
        body since `since`, or None. Raises RetryableSendError when Twilio cannot be asked now."""
        try:
            rows = self.client.messages.list(to=self._address(channel, msg.to),
                                              from_=self._address(channel, self.number),
                                              date_sent_after=since, limit=50)
        except TwilioRestException as exc:
            raise RetryableSendError(f"Could not look the message up ({exc.status}).", code="lookup") from exc
        except requests.RequestException as exc:
            raise RetryableSendError("Could not look the message up.", code="lookup") from exc
        for row in rows:
            if msg.template is not None or (row.body or "") == _body(msg):
                return str(row.sid)
        return None

    def media_auth(self) -> tuple[str, str]:
        return (str(self.client.username), str(self.client.password))
