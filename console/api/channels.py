"""REST endpoints of the SMS/WhatsApp channels (under /api/v1; shapes in console/api/schemas/channels.py):
admin channel configuration, reply options and WhatsApp templates, retrying a failed message, and the
admin page. Contacts across channels (link an identity, merge) are in console/api/contacts.py."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, jsonify, render_template
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from console.api.declare import api, json_body
from console.api.schemas import channels as sch
from console.api.schemas.common import Message as MessageOut
from console.auth import api_user, current_user, login_required
from console.serialize import iso, message_json
from console.services import services
from console.webhooks import forget_configs
from models.channels.config import (
    channel_json,
    check_admin,
    do_create_channel,
    do_delete_channel,
    do_update_channel,
    fill_template,
    get_channel,
    list_channels,
)
from models.contacts.identities import address_on
from models.conversations.access import access_conversation
from models.conversations.messages import do_agent_message
from models.conversations.visibility import can_see
from models.errors import Forbidden, InvalidInput, NotFound
from models.outbox.enqueue import REPLY_CHANNELS, default_reply_channel, route_for, whatsapp_window
from models.outbox.status import do_retry
from models.schema.accounts import User
from models.schema.channels import ChannelConfig
from models.schema.conversations import Conversation, Message

bp = Blueprint("api_channels", __name__, url_prefix="/api/v1")


def _admin() -> User:
    user = api_user()
    check_admin(user)
    return user


@bp.get("/channels")
@api("SMS/WhatsApp channel configurations (admins; secrets only as set/not set)", sch.ChannelList, errors=(403,))
def channels() -> Response:
    _admin()
    with services().db.session() as s:
        return jsonify({"channels": [channel_json(c) for c in list_channels(s)]})


@bp.post("/channels")
@api("Add a channel (admins)", sch.ChannelConfig, status=201, body=sch.ChannelIn, errors=(403, 409))
def create_channel() -> tuple[Response, int]:
    user = _admin()
    body = json_body(sch.ChannelIn).model_dump(exclude_unset=True)
    with services().db.transaction() as s:
        config = do_create_channel(s, user, body.get("kind"), body)
        out = channel_json(config)
    forget_configs()
    return jsonify(out), 201


@bp.patch("/channels/<int:channel_id>")
@api("Change a channel (admins); omitted secrets are kept", sch.ChannelConfig, body=sch.ChannelChange,
     errors=(403, 409))
def update_channel(channel_id: int) -> Response:
    user = _admin()
    body = json_body(sch.ChannelChange).model_dump(exclude_unset=True)
    with services().db.transaction() as s:
        config = get_channel(s, channel_id)
        do_update_channel(s, user, config, body)
        s.flush()
        out = channel_json(config)
    forget_configs()
    return jsonify(out)


@bp.delete("/channels/<int:channel_id>")
@api("Remove a channel (admins)", status=204, errors=(403,))
def delete_channel(channel_id: int) -> tuple[str, int]:
    user = _admin()
    with services().db.transaction() as s:
        do_delete_channel(s, user, get_channel(s, channel_id))
    forget_configs()
    return "", 204


def _templates(config: ChannelConfig | None) -> list[dict[str, Any]]:
    return [{"name": t["name"], "language": t.get("language", "en"), "body": t.get("body", ""),
             "variables": t.get("variables", [])} for t in (config.templates if config else []) or []]


def reply_options(s: Session, conv: Conversation) -> dict[str, Any]:
    options = []
    for channel in REPLY_CHANNELS:
        address = address_on(s, conv.contact_id, channel)
        config = route_for(s, conv, channel) if channel != "webchat" else None
        available, reason = True, None
        if address is None and channel != conv.channel:
            available, reason = False, "no_address"
        elif channel != "webchat" and config is None:
            available, reason = False, "no_channel"
        item: dict[str, Any] = {"channel": channel, "available": available, "reason": reason,
                                "address": address if channel != "webchat" else None}
        if channel == "whatsapp":
            is_open, closes_at = whatsapp_window(s, conv.contact_id)
            item["window"] = {"open": is_open, "closes_at": iso(closes_at)}
            item["templates"] = _templates(config)
        options.append(item)
    return {"default_channel": default_reply_channel(s, conv), "channels": options}


@bp.get("/conversations/<public_id>/reply-options")
@api("Where a reply can go: the customer's channels, WhatsApp's 24-hour window and templates", sch.ReplyOptions)
def get_reply_options(public_id: str) -> Response:
    user = api_user()
    with services().db.session() as s:
        conv = access_conversation(s, user, public_id)
        return jsonify(reply_options(s, conv))


@bp.post("/conversations/<public_id>/template")
@api("Send an approved WhatsApp template (allowed outside the 24-hour window)", MessageOut, status=201,
     body=sch.TemplateSend, errors=(403, 422))
def send_template(public_id: str) -> tuple[Response, int]:
    """Send an approved WhatsApp template (the only thing allowed outside the 24-hour window)."""
    user = api_user()
    body = json_body(sch.TemplateSend)
    name, values = body.name, body.variables
    if not name:
        raise InvalidInput("name (the template's name) is required.")
    if not all(v.strip() for v in values):
        raise InvalidInput("variables must be a list of non-empty strings.")
    with services().db.transaction() as s:
        conv = access_conversation(s, user, public_id, lock=True)
        config = route_for(s, conv, "whatsapp")
        template = next((t for t in (config.templates if config else []) or [] if t.get("name") == name), None)
        if template is None:
            raise NotFound(f"No WhatsApp template named {name!r} is configured.", code="no_template")
        if len(values) != len(template.get("variables") or []):
            raise InvalidInput(f"This template takes {len(template.get('variables') or [])} variable(s).",
                               code="variables")
        text = fill_template(template, values)
        msg = do_agent_message(s, user, conv, text, channel="whatsapp", outbound={"template": {
            "name": template["name"], "provider_id": template["provider_id"],
            "language": template.get("language", "en"), "variables": values}})
        s.flush()
        s.refresh(msg)
        return jsonify(message_json(msg, conv.public_id)), 201


@bp.post("/messages/<int:message_id>/retry")
@api("Send a failed SMS/WhatsApp message again", MessageOut, errors=(403, 409, 422))
def retry(message_id: int) -> Response:
    user = api_user()
    with services().db.transaction() as s:
        msg = s.get(Message, message_id)
        conv = s.get(Conversation, msg.conversation_id) if msg is not None else None
        if msg is None or conv is None or not can_see(user, conv):
            raise NotFound("No such message.")
        do_retry(s, user, msg)
        s.flush()
        public_id = conv.public_id
    with services().db.session() as s:
        fresh = s.scalar(select(Message).options(selectinload(Message.author), selectinload(Message.attachments))
                         .where(Message.id == message_id))
        assert fresh is not None
        return jsonify(message_json(fresh, public_id))


@login_required
def channels_page() -> Any:
    user = current_user()
    if user is None or user.role != "admin":
        raise Forbidden("Only admins can manage channels.")
    return render_template("inboxes.html", user=user)  # the Channels page became the Inboxes page


def register_pages(app: Flask) -> None:
    app.add_url_rule("/channels", "channels_page", channels_page)
