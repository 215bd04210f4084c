"""The WhatsApp Cloud API (Meta's Graph API): verify, parse, send, with a small httpx client of our own.

Inbound: Meta signs the raw body with the app secret (`X-Hub-Signature-256: sha256=<hex>`); the
signature is checked over the bytes as received, before anything is parsed. One POST may carry
several entries, changes, messages and statuses; all are returned. No Flask in here.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

import httpx

from connectors.base import (
    InboundMessage,
    MalformedPayload,
    MediaRef,
    OutboundMessage,
    PermanentSendError,
    RetryableSendError,
    SendError,
    StatusUpdate,
    UnconfirmedSendError,
    to_e164,
)
from connectors.whatsapp_cloud.interactive import interactive_body

KIND = "whatsapp_cloud"
CHANNEL = "whatsapp"
DEFAULT_API_BASE = "https://graph.facebook.com"
DEFAULT_API_VERSION = "v21.0"
STATUS_MAP = {"sent": "sent", "delivered": "delivered", "read": "read", "failed": "failed"}
MEDIA_TYPES = ("image", "document", "audio", "video", "sticker")


def verify_signature(app_secret: str, raw_body: bytes, header: str | None) -> bool:
    if not app_secret or not header or not header.startswith("sha256="):
        return False
    expected = hmac.new(app_secret.encode(), raw_body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header[len("sha256="):].strip().lower())


def sign(app_secret: str, raw_body: bytes) -> str:
    """The header value Meta would send (for tests, fakes and benchmarks)."""
    return "sha256=" + hmac.new(app_secret.encode(), raw_body, hashlib.sha256).hexdigest()


def verify_subscription(params: Mapping[str, str], verify_token: str) -> str | None:
    """Meta's GET handshake: the challenge to echo, or None (answered 403)."""
    if not verify_token or params.get("hub.mode") != "subscribe":
        return None
    supplied = params.get("hub.verify_token") or ""
    if not hmac.compare_digest(supplied.encode(), verify_token.encode()):
        return None
    return params.get("hub.challenge") or ""


def _dict(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise MalformedPayload(f"{what} must be an object")
    return value


def _list(value: Any, what: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise MalformedPayload(f"{what} must be a list")
    return value


def _str(obj: dict[str, Any], key: str, what: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value:
        raise MalformedPayload(f"{what}.{key} is required")
    return value


def _summary(kind: str, body: dict[str, Any]) -> str:
    """A readable text for a non-text message (the attachment itself is fetched separately)."""
    caption = body.get("caption") if isinstance(body.get("caption"), str) else ""
    if kind == "document":
        name = body.get("filename") if isinstance(body.get("filename"), str) else "document"
        return caption or f"[document: {name}]"
    if kind == "audio":
        return "[voice message]" if body.get("voice") else "[audio]"
    return caption or f"[{kind}]"


def _message(msg: dict[str, Any], recipient: str, names: dict[str, str]) -> InboundMessage:
    wamid = _str(msg, "id", "message")
    sender = _str(msg, "from", "message")
    kind = msg.get("type")
    media: list[MediaRef] = []
    if kind == "text":
        text = _str(_dict(msg.get("text"), "message.text"), "body", "message.text")
    elif kind in MEDIA_TYPES:
        body = _dict(msg.get(kind), f"message.{kind}")
        media.append(MediaRef(_str(body, "id", f"message.{kind}"),
                              body.get("mime_type") if isinstance(body.get("mime_type"), str) else None,
                              body.get("filename") if isinstance(body.get("filename"), str) else None))
        text = _summary(kind, body)
    elif kind == "location":
        loc = _dict(msg.get("location"), "message.location")
        lat, lon = loc.get("latitude"), loc.get("longitude")
        if not isinstance(lat, int | float) or not isinstance(lon, int | float):
            raise MalformedPayload("message.location needs latitude and longitude")
        label = " — ".join(x for x in (loc.get("name"), loc.get("address")) if isinstance(x, str) and x)
        text = f"[location] {label + ' ' if label else ''}({lat}, {lon}) https://maps.google.com/?q={lat},{lon}"
    elif kind == "interactive":
        inter = _dict(msg.get("interactive"), "message.interactive")
        reply = inter.get("button_reply") or inter.get("list_reply") or inter.get("nfm_reply")
        reply = _dict(reply, "message.interactive reply")
        title = reply.get("title") or reply.get("body") or reply.get("id")
        if not isinstance(title, str) or not title:
            raise MalformedPayload("message.interactive reply has no title")
        text = title
    elif kind == "button":
        text = _str(_dict(msg.get("button"), "message.button"), "text", "message.button")
    elif kind == "reaction":
        reaction = _dict(msg.get("reaction"), "message.reaction")
        emoji = reaction.get("emoji")
        text = f"[reaction {emoji}]" if isinstance(emoji, str) and emoji else "[reaction removed]"
    elif isinstance(kind, str) and kind:
        text = f"[{kind} message]"
    else:
        raise MalformedPayload("message.type is required")
    return InboundMessage(channel=CHANNEL, provider_message_id=wamid, sender=to_e164(sender),
                          recipient=recipient, text=text, sender_name=names.get(sender), media=tuple(media))


def _status(st: dict[str, Any]) -> StatusUpdate | None:
    wamid = _str(st, "id", "status")
    raw = st.get("status")
    if raw not in STATUS_MAP:
        return None  # e.g. "deleted", "warning": nothing to show
    code = message = None
    errors = _list(st.get("errors"), "status.errors")
    if errors and isinstance(errors[0], dict):
        code = str(errors[0].get("code")) if errors[0].get("code") is not None else None
        details = errors[0].get("error_data")
        message = (details.get("details") if isinstance(details, dict) else None) or errors[0].get("title") \
            or errors[0].get("message")
    ref = st.get("biz_opaque_callback_data")
    return StatusUpdate(wamid, STATUS_MAP[str(raw)], error_code=code,
                        error_message=str(message) if message else None, ref=ref if isinstance(ref, str) else None)


def parse(raw_body: bytes) -> tuple[list[InboundMessage], list[StatusUpdate]]:
    """Every message and status in a (verified) webhook body, in order. MalformedPayload if the
    body is not the Cloud API's shape; nothing is returned partially."""
    try:
        payload = json.loads(raw_body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedPayload("the body is not JSON") from exc
    payload = _dict(payload, "body")
    entries = _list(payload.get("entry"), "entry")
    if payload.get("object") != "whatsapp_business_account" or not entries:
        raise MalformedPayload("not a WhatsApp Business Account notification")
    messages: list[InboundMessage] = []
    statuses: list[StatusUpdate] = []
    for entry in entries:
        for change in _list(_dict(entry, "entry").get("changes"), "entry.changes"):
            change = _dict(change, "change")
            if change.get("field") != "messages":
                continue
            value = _dict(change.get("value"), "change.value")
            metadata = _dict(value.get("metadata"), "value.metadata")
            recipient = _str(metadata, "phone_number_id", "metadata")
            names: dict[str, str] = {}
            for c in _list(value.get("contacts"), "value.contacts"):
                c = _dict(c, "contact")
                profile = c.get("profile")
                if isinstance(c.get("wa_id"), str) and isinstance(profile, dict) \
                        and isinstance(profile.get("name"), str):
                    names[c["wa_id"]] = profile["name"]
            for m in _list(value.get("messages"), "value.messages"):
                messages.append(_message(_dict(m, "message"), recipient, names))
            for st in _list(value.get("statuses"), "value.statuses"):
                parsed = _status(_dict(st, "status"))
                if parsed is not None:
                    statuses.append(parsed)
    return messages, statuses


def _media_kind(content_type: str) -> str:
    if content_type in ("image/jpeg", "image/png"):
        return "image"
    if content_type.startswith("video/"):
        return "video"
    if content_type.startswith("audio/"):
        return "audio"
    return "document"


class GraphClient:
    """The few Graph API calls Parley needs, over httpx. Never logs the token."""

    def __init__(self, *, token: str, phone_number_id: str, api_base: str = DEFAULT_API_BASE,
                 api_version: str = DEFAULT_API_VERSION, timeout: float = 10.0) -> None:
        self.phone_number_id = phone_number_id
        self._base = f"{api_base.rstrip('/')}/{api_version}"
        self._headers = {"Authorization": f"Bearer {token}"}
        self._timeout = httpx.Timeout(timeout, connect=min(timeout, 5.0))

    @property
    def auth_headers(self) -> dict[str, str]:
        return dict(self._headers)

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            response = httpx.post(f"{self._base}/{path}", json=body, headers=self._headers, timeout=self._timeout)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.WriteTimeout) as exc:
            raise RetryableSendError("Could not reach the WhatsApp Cloud API.", code="connect_error") from exc
        except httpx.ReadTimeout as exc:
            raise UnconfirmedSendError("The WhatsApp Cloud API did not answer in time.", code="timeout") from exc
        except httpx.HTTPError as exc:
            raise UnconfirmedSendError("The connection to the WhatsApp Cloud API broke.",
                                       code="connection_lost") from exc
        try:
            data = response.json()
        except ValueError:
            data = {}
        if response.status_code >= 400:
            err = data.get("error") if isinstance(data, dict) else None
            err = err if isinstance(err, dict) else {}
            code = str(err.get("code")) if err.get("code") is not None else f"http_{response.status_code}"
            text = str(err.get("message") or f"The Cloud API answered HTTP {response.status_code}.")
            cls: type[SendError] = RetryableSendError if response.status_code >= 500 or \
                response.status_code == 429 else PermanentSendError
            raise cls(text, code=code, status=response.status_code)
        return data if isinstance(data, dict) else {}

    def body_for(self, msg: OutboundMessage) -> dict[str, Any]:
        body: dict[str, Any] = {"messaging_product": "whatsapp", "recipient_type": "individual",
                                "to": msg.to.lstrip("+")}
        if msg.ref:
            body["biz_opaque_callback_data"] = msg.ref
        if msg.template is not None:
            template: dict[str, Any] = {"name": msg.template.name, "language": {"code": msg.template.language}}
            if msg.template.variables:
                template["components"] = [{"type": "body", "parameters": [
                    {"type": "text", "text": v} for v in msg.template.variables]}]
            body.update(type="template", template=template)
        elif msg.buttons:
            images = [u for u, t in zip(msg.media_urls, msg.media_types, strict=False) if _media_kind(t) == "image"]
            body.update(interactive_body(msg, images[0] if images else None))
        elif msg.media_urls:
            kind = _media_kind(msg.media_types[0] if msg.media_types else "")
            media: dict[str, Any] = {"link": msg.media_urls[0]}
            if msg.text and kind != "audio":
                media["caption"] = msg.text
            if kind == "document" and msg.extra.get("filename"):
                media["filename"] = msg.extra["filename"]
            body.update(type=kind, **{kind: media})
        else:
            body.update(type="text", text={"body": msg.text, "preview_url": False})
        return body

    def send(self, channel: str, msg: OutboundMessage) -> str:
        data = self._post(f"{self.phone_number_id}/messages", self.body_for(msg))
        try:
            return str(data["messages"][0]["id"])
        except (KeyError, IndexError, TypeError) as exc:
            raise UnconfirmedSendError("The Cloud API answered without a message id.", code="no_id") from exc

    def media_url(self, media_id: str) -> str:
        """Where to download an inbound media (the URL needs the same bearer token)."""
        try:
            response = httpx.get(f"{self._base}/{media_id}", headers=self._headers, timeout=self._timeout)
        except httpx.HTTPError as exc:
            raise RetryableSendError("Could not reach the Cloud API for media.", code="connect_error") from exc
        if response.status_code >= 400:
            raise PermanentSendError(f"The Cloud API answered HTTP {response.status_code} for media.",
                                     status=response.status_code)
        try:
            url = response.json()["url"]
        except (ValueError, KeyError, TypeError) as exc:
            raise PermanentSendError("The Cloud API's media answer had no url.") from exc
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            raise PermanentSendError("The Cloud API's media url is not a URL.")
        return url
