"""Shapes of the SMS/WhatsApp endpoints (console/api/channels.py, console/api/files.py): channel
configuration, reply options and templates, files, contacts across channels."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from console.api.schemas.common import Channel, Flag, In, Obj, Out, Timestamp

Secret = Field(None, json_schema_extra={"writeOnly": True}, description="Never shown back.")


class TemplateConfig(In):
    name: str
    provider_id: str = Field(description="A Twilio Content SID or a Cloud API template name.")
    language: str = "en"
    body: str = ""
    variables: list[str] = []


class ChannelIn(In):
    """Twilio fields (number, account_sid, auth_token, messaging_service_sid, whatsapp) or WhatsApp Cloud API
    fields (phone_number_id, business_account_id, token, app_secret, verify_token)."""

    kind: str = Field(description="twilio or whatsapp_cloud")
    name: str | None = None
    enabled: Flag | None = None
    number: str | None = Field(None, description="Twilio: our number, E.164.")
    account_sid: str | None = Field(None, description="Twilio: the account SID.")
    auth_token: str | None = Secret
    messaging_service_sid: str | None = None
    whatsapp: Flag | None = Field(None, description="Twilio: this number also serves WhatsApp.")
    phone_number_id: str | None = Field(None, description="Cloud API: the phone number id.")
    business_account_id: str | None = None
    token: str | None = Secret
    app_secret: str | None = Secret
    verify_token: str | None = Secret
    templates: list[Obj] | None = Field(None, description="[{name, provider_id, language, body, variables}]")


class ChannelChange(ChannelIn):
    """Omitted secrets are kept; the kind cannot change."""

    kind: str | None = None  # type: ignore[assignment]


class ChannelConfig(Out):
    id: int
    kind: Literal["twilio", "whatsapp_cloud"]
    name: str
    enabled: bool
    source: str = Field(description="admin or env")
    templates: list[Obj]
    secrets: dict[str, bool] = Field(description="Which secrets are set; their values are never returned.")
    created_at: str
    updated_at: str
    number: str | None = None
    account_sid: str | None = None
    whatsapp: bool | None = None
    messaging_service_sid: str | None = None
    phone_number_id: str | None = None
    business_account_id: str | None = None


class ChannelList(Out):
    channels: list[ChannelConfig]


class Template(Out):
    name: str
    language: str
    body: str
    variables: list[Any]


class Window(Out):
    open: bool
    closes_at: Timestamp


class ReplyChannel(Out):
    channel: Channel
    available: bool
    reason: Literal["no_address", "no_channel"] | None
    address: str | None
    window: Window | None = None
    templates: list[Template] | None = None


class ReplyOptions(Out):
    default_channel: str | None
    channels: list[ReplyChannel]


class TemplateSend(In):
    name: str
    variables: list[str] = []


class Upload(In):
    """multipart/form-data. Allowed types (sniffed from the bytes): 7z avi bmp csv doc docx gif gz jpg jpeg json mkv
    mov mp3 mp4 pdf png psd rar svg tar tgz tif tiff txt wav webm wmv xls xlsx xml zip."""

    file: bytes = Field(json_schema_extra={"format": "binary"})
    text: str | None = None
    channel: Channel | None = None
    private: bool | None = None
