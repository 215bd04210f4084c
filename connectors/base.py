"""What every provider connector speaks: framework-free shapes for inbound messages, delivery
statuses and outbound sends, and the errors a send can end with.

A connector's core takes headers and bodies (never a Flask request) and returns these; the web
layer and the outbox worker are thin adapters around it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from models.contacts.phone import InvalidNumber
from models.contacts.phone import to_e164 as _to_e164
from models.conversations.rich import Button
from models.schema.channels import StatusReport

StatusUpdate = StatusReport  # connectors report delivery statuses in the models' shape


class MalformedPayload(ValueError):
    """The provider's payload does not have the shape we need: answered 400, nothing stored."""


@dataclass(frozen=True)
class MediaRef:
    """An inbound attachment, not yet fetched: a URL (Twilio) or a media id (Cloud API)."""

    ref: str
    content_type: str | None = None
    filename: str | None = None


@dataclass(frozen=True)
class InboundMessage:
    channel: str  # "sms" | "whatsapp"
    provider_message_id: str
    sender: str  # E.164, e.g. "+15551234567"
    recipient: str  # our number (E.164) or the Cloud API phone number id
    text: str
    sender_name: str | None = None
    media: tuple[MediaRef, ...] = ()


@dataclass(frozen=True)
class Template:
    """An approved template: a Twilio Content SID or a Cloud API template name, with its variables."""

    name: str
    language: str = "en"
    variables: tuple[str, ...] = ()


@dataclass(frozen=True)
class OutboundMessage:
    to: str  # E.164
    text: str = ""
    media_urls: tuple[str, ...] = ()
    media_types: tuple[str, ...] = ()
    template: Template | None = None
    ref: str | None = None  # echoed back in status callbacks where the provider allows it
    extra: dict[str, str] = field(default_factory=dict)
    # A bot message's quick replies: each connector renders them as its channel can (WhatsApp
    # interactive buttons or a list, SMS a numbered list).
    buttons: tuple[Button, ...] = ()


class SendError(Exception):
    def __init__(self, message: str, *, code: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status


class RetryableSendError(SendError):
    """The provider did not take the message (connection refused, connect timeout, 5xx, 429): try again."""


class PermanentSendError(SendError):
    """The provider refused the message (4xx): retrying would not help."""


class UnconfirmedSendError(SendError):
    """The request may have reached the provider but no answer came back (a read timeout): sending
    again could deliver it twice, so the outbox reconciles instead of retrying blindly."""


def to_e164(raw: str) -> str:
    """A phone number in E.164, or MalformedPayload (see models.phone)."""
    try:
        return _to_e164(raw)
    except InvalidNumber as exc:
        raise MalformedPayload(str(exc)) from exc
