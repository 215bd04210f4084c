"""The OpenAPI description of the SMS/WhatsApp endpoints (merged into console/openapi.py)."""

from __future__ import annotations

from typing import Any

from console.api.openapi.parts import op as _op
from console.api.openapi.parts import path_param as _path
from console.api.openapi.parts import ref as _ref

_CONV = _path("id", "string", "The conversation's public id.")


_CHANNEL_ID = _path("channel_id", description="The channel configuration's id.")


_CONTACT_ID = _path("contact_id", description="The contact's id.")


_NO_CONTENT = {"description": "Done"}


_CHANNEL_BODY = {"type": "object", "required": ["kind"], "properties": {
    "kind": {"enum": ["twilio", "whatsapp_cloud"]}, "name": {"type": "string"}, "enabled": {"type": "boolean"},
    "number": {"type": "string", "description": "Twilio: our number, E.164."},
    "account_sid": {"type": "string", "description": "Twilio: the account SID."},
    "auth_token": {"type": "string", "writeOnly": True, "description": "Twilio: never shown back."},
    "messaging_service_sid": {"type": ["string", "null"]},
    "whatsapp": {"type": "boolean", "description": "Twilio: this number also serves WhatsApp."},
    "phone_number_id": {"type": "string", "description": "Cloud API: the phone number id."},
    "business_account_id": {"type": ["string", "null"]},
    "token": {"type": "string", "writeOnly": True}, "app_secret": {"type": "string", "writeOnly": True},
    "verify_token": {"type": "string", "writeOnly": True},
    "templates": {"type": "array", "items": {"$ref": "#/components/schemas/TemplateConfig"}}}}


def paths() -> dict[str, Any]:
    return {
        "/channels": {
            "get": _op("SMS/WhatsApp channel configurations (admins; secrets only as set/not set)",
                       _ref("ChannelList"), errors=("401", "403")),
            "post": _op("Add a channel (admins)", _ref("ChannelConfig"), status="201",
                        errors=("400", "401", "403", "409"), body=_CHANNEL_BODY),
        },
        "/channels/{channel_id}": {
            "patch": _op("Change a channel (admins); omitted secrets are kept", _ref("ChannelConfig"),
                         params=[_CHANNEL_ID], errors=("400", "401", "403", "404", "409"),
                         body={**_CHANNEL_BODY, "required": []}),
            "delete": _op("Remove a channel (admins)", _NO_CONTENT, status="204", params=[_CHANNEL_ID],
                          errors=("401", "403", "404")),
        },
        "/conversations/{id}/reply-options": {"get": _op(
            "Where a reply can go: the customer's channels, WhatsApp's 24-hour window and templates",
            _ref("ReplyOptions"), params=[_CONV], errors=("401", "404"))},
        "/conversations/{id}/template": {"post": _op(
            "Send an approved WhatsApp template (allowed outside the 24-hour window)", _ref("Message"),
            status="201", params=[_CONV], errors=("400", "401", "404", "422"),
            body={"type": "object", "required": ["name"], "properties": {
                "name": {"type": "string"}, "variables": {"type": "array", "items": {"type": "string"}}}})},
        "/conversations/{id}/attachments": {"post": _op(
            "Send a file (optionally with text) on the reply channel, or as a private note", _ref("Message"),
            status="201", params=[_CONV], errors=("400", "401", "404", "413", "422"),
            content_type="multipart/form-data",
            body={"type": "object", "required": ["file"], "properties": {
                "file": {"type": "string", "format": "binary"}, "text": {"type": "string"},
                "channel": {"enum": ["webchat", "sms", "whatsapp"]}, "private": {"type": "boolean"}}},
            description="Allowed types (sniffed from the bytes): 7z avi bmp csv doc docx gif gz jpg jpeg json mkv "
                        "mov mp3 mp4 pdf png psd rar svg tar tgz tif tiff txt wav webm wmv xls xlsx xml zip.")},
        "/attachments/{id}": {"get": _op(
            "Download a file of a conversation the caller may see (images inline, everything else as a download)",
            {"description": "The file", "content": {"application/octet-stream": {}}},
            params=[_path("id", "string", "The attachment's id (a_…).")], errors=("401", "404"))},
        "/messages/{message_id}/retry": {"post": _op(
            "Send a failed SMS/WhatsApp message again", _ref("Message"),
            params=[_path("message_id", description="The message's id.")], errors=("401", "404", "422"))},
        "/contacts": {"get": _op(
            "Find contacts by name, email or number", _ref("ContactList"), errors=("400", "401"),
            params=[{"name": "q", "in": "query", "required": True, "schema": {"type": "string", "minLength": 2}}])},
        "/contacts/{contact_id}": {"get": _op("A contact with its identities on every channel",
                                              _ref("Contact"), params=[_CONTACT_ID], errors=("401", "404"))},
        "/contacts/{contact_id}/identities": {"post": _op(
            "Link an SMS or WhatsApp number to a contact", _ref("Contact"), status="201",
            params=[_CONTACT_ID], errors=("400", "401", "404", "409"),
            body={"type": "object", "required": ["channel", "address"], "properties": {
                "channel": {"enum": ["sms", "whatsapp"]},
                "address": {"type": "string", "example": "+4915112345678"}}})},
        "/contacts/{contact_id}/merge": {"post": _op(
            "Merge another contact into this one (identities and conversations move over)", _ref("Contact"),
            params=[_CONTACT_ID], errors=("400", "401", "404", "422"),
            body={"type": "object", "required": ["contact_id"], "properties": {"contact_id": {"type": "integer"}}})},
    }


def schemas() -> dict[str, Any]:
    ts = {"type": ["string", "null"], "format": "date-time"}
    template: dict[str, Any] = {"type": "object", "properties": {
        "name": {"type": "string"}, "language": {"type": "string"}, "body": {"type": "string"},
        "variables": {"type": "array", "items": {"type": "string"}}}}
    return {
        "TemplateConfig": {**template, "required": ["name", "provider_id"], "properties": {
            **template["properties"],
            "provider_id": {"type": "string", "description": "A Twilio Content SID or a Cloud API template name."}}},
        "ChannelConfig": {"type": "object", "properties": {
            "id": {"type": "integer"}, "kind": {"enum": ["twilio", "whatsapp_cloud"]}, "name": {"type": "string"},
            "enabled": {"type": "boolean"}, "source": {"enum": ["admin", "env"]},
            "number": {"type": "string"}, "account_sid": {"type": "string"}, "whatsapp": {"type": "boolean"},
            "phone_number_id": {"type": "string"},
            "secrets": {"type": "object", "additionalProperties": {"type": "boolean"},
                        "description": "Which secrets are set; their values are never returned."},
            "templates": {"type": "array", "items": {"$ref": "#/components/schemas/TemplateConfig"}},
            "created_at": ts, "updated_at": ts}},
        "ChannelList": {"type": "object", "properties": {"channels": {
            "type": "array", "items": {"$ref": "#/components/schemas/ChannelConfig"}}}},
        "ReplyOptions": {"type": "object", "properties": {
            "default_channel": {"enum": ["webchat", "sms", "whatsapp"]},
            "channels": {"type": "array", "items": {"type": "object", "properties": {
                "channel": {"enum": ["webchat", "sms", "whatsapp"]}, "available": {"type": "boolean"},
                "reason": {"enum": ["no_address", "no_channel", None]}, "address": {"type": ["string", "null"]},
                "window": {"type": "object", "properties": {"open": {"type": "boolean"}, "closes_at": ts}},
                "templates": {"type": "array", "items": template}}}}}},
        "Attachment": {"type": "object", "properties": {
            "id": {"type": "string"}, "filename": {"type": "string"}, "content_type": {"type": ["string", "null"]},
            "size": {"type": ["integer", "null"]}, "state": {"enum": ["pending", "ready", "refused", "failed"]},
            "error": {"type": ["string", "null"]}, "url": {"type": ["string", "null"]}, "inline": {"type": "boolean"}}},
        "Contact": {"type": "object", "properties": {
            "id": {"type": "integer"}, "name": {"type": "string"}, "email": {"type": ["string", "null"]},
            "phone": {"type": ["string", "null"]},
            "identities": {"type": "array", "items": {"type": "object", "properties": {
                "channel": {"type": "string"}, "address": {"type": ["string", "null"]}}}},
            "conversations": {"type": "array", "items": {"type": "object"}}}},
        "ContactList": {"type": "object", "properties": {"contacts": {"type": "array", "items": {"type": "object"}}}},
    }
