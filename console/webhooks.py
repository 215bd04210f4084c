"""Provider webhooks: thin Flask adapters over the connectors' framework-free cores.

Order on every POST: verify the signature (403, nothing stored) → parse (400, nothing stored) →
store and commit → acknowledge. What the commit sets off runs after the acknowledgement, on the
channel runtime's `after_ack` thread, in the order it was handed over: the pushes of the message to
the consoles, then the bot's wake-up, so the bot's reply never reaches a console before the message
it answers. Media fetching is the delivery worker's. If the process dies in between, the message is
committed: a worker's sweep gives it to the bot (console/runtime/bot_turns.py) and a console that
reloads shows it.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from typing import Any

from flask import Blueprint, Response, jsonify, request
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from connectors import twilio, whatsapp_cloud
from connectors.base import InboundMessage, MalformedPayload
from console.runtime.channels import runtime
from console.services import services
from models.conversations.inbound import Media, ingest_provider_message
from models.errors import Forbidden
from models.outbox.status import do_apply_status
from models.schema.channels import ChannelConfig, ProviderKind
from models.telemetry.logs import conversation as log_conversation

log = logging.getLogger(__name__)
bp = Blueprint("webhooks", __name__)


def _refuse(status: int, code: str, message: str) -> tuple[Response, int]:
    return jsonify({"error": {"code": code, "message": message}}), status


def _twiml() -> Response:
    return Response(twilio.EMPTY_TWIML, mimetype="text/xml")


CONFIG_TTL_S = 5.0


def forget_configs() -> None:
    """Called when an admin changes a channel here; other processes notice within CONFIG_TTL_S."""
    runtime().config_cache.clear()


def _configs(kind: str) -> list[ChannelConfig]:
    """The enabled accounts of a provider, cached briefly: every webhook needs them to check its signature."""
    cache = runtime().config_cache
    cached = cache.get(kind)
    now = time.monotonic()
    if cached is not None and cached[0] > now:
        return list(cached[1])
    with services().db.session() as s:
        configs = list(s.scalars(select(ChannelConfig).where(ChannelConfig.kind == kind,
                                                             ChannelConfig.enabled.is_(True))
                                 .order_by(ChannelConfig.id)))
    cache[kind] = (now + CONFIG_TTL_S, configs)
    return configs


def _twilio_config() -> ChannelConfig | None:
    """The Twilio account whose auth token signed this request (None: nobody's)."""
    form = request.form
    url = twilio.public_url(runtime().settings.public_url, request.path,
                            request.query_string.decode("latin-1"), request.url)
    signature = request.headers.get("X-Twilio-Signature")
    settings_header = request.headers.get("X-Twilio-Webhooks-Signature-Settings")
    candidates = _configs(ProviderKind.TWILIO.value)
    account = form.get("AccountSid")
    if account:
        candidates = [c for c in candidates if c.account == account] or candidates
    verified = [c for c in candidates
                if twilio.verify(c.secret("auth_token"), url, form, signature, settings_header)]
    if not verified:
        return None
    to = (form.get("To") or "").removeprefix("whatsapp:")
    return next((c for c in verified if c.address == to), verified[0])


def _store(config: ChannelConfig, msg: InboundMessage) -> None:
    svc = services()
    after_ack = runtime().after_ack
    try:
        stored = ingest_provider_message(
            svc.db, channel=msg.channel, provider_message_id=msg.provider_message_id, sender=msg.sender,
            sender_name=msg.sender_name, text=msg.text, via_channel_id=config.id,
            media=[Media(m.ref, m.filename) for m in msg.media], publish_with=after_ack.submit)
    except Forbidden:  # do_ingest_inbound's own guard: a block that landed between the two checks
        log.info("message %s from a blocked contact ignored", msg.provider_message_id)
        return
    if stored.blocked:
        log.info("message %s from a blocked contact kept apart", msg.provider_message_id)
        return
    with log_conversation(stored.public_id):
        log.info("%s message %s %s", msg.channel, stored.message_id, "received" if stored.created else "repeated")
        if stored.created:
            after_ack.submit(svc.process_conversation, stored.conversation_id)  # after its pushes
            if stored.attachment_ids:
                runtime().worker.notify()


@bp.post("/webhooks/twilio")
def twilio_inbound() -> Any:
    config = _twilio_config()
    if config is None:
        return _refuse(403, "bad_signature", "Missing or invalid X-Twilio-Signature.")
    try:
        msg = twilio.parse_inbound(request.form)
    except MalformedPayload as exc:
        return _refuse(400, "malformed", str(exc))
    _store(config, msg)
    return _twiml()


@bp.post("/webhooks/twilio/status")
def twilio_status() -> Any:
    if _twilio_config() is None:
        return _refuse(403, "bad_signature", "Missing or invalid X-Twilio-Signature.")
    try:
        update = twilio.parse_status(request.form)
    except MalformedPayload as exc:
        return _refuse(400, "malformed", str(exc))
    if update is None:
        return _twiml()
    ref = request.args.get("ref")
    if ref and update.ref is None:
        update = replace(update, ref=ref)
    _apply_statuses([update])
    return _twiml()


def _apply_statuses(updates: list[Any]) -> None:
    db = services().db
    for update in updates:
        for attempt in range(3):
            try:
                with db.transaction(urgent=True) as s:  # the provider holds the callback open meanwhile
                    do_apply_status(s, update)
                break
            except OperationalError:  # a deadlock or a locked SQLite file: once more, then let the provider retry
                if attempt == 2:
                    raise


@bp.get("/webhooks/whatsapp")
def whatsapp_verify() -> Any:
    for config in _configs(ProviderKind.WHATSAPP_CLOUD.value):
        challenge = whatsapp_cloud.verify_subscription(request.args, config.secret("verify_token"))
        if challenge is not None:
            return Response(challenge, mimetype="text/plain")
    return _refuse(403, "bad_verify_token", "Verification failed.")


@bp.post("/webhooks/whatsapp")
def whatsapp_events() -> Any:
    raw = request.get_data(cache=True)
    header = request.headers.get("X-Hub-Signature-256")
    configs = _configs(ProviderKind.WHATSAPP_CLOUD.value)
    verified = [c for c in configs if whatsapp_cloud.verify_signature(c.secret("app_secret"), raw, header)]
    if not verified:
        return _refuse(403, "bad_signature", "Missing or invalid X-Hub-Signature-256.")
    try:
        messages, statuses = whatsapp_cloud.parse(raw)
    except MalformedPayload as exc:
        return _refuse(400, "malformed", str(exc))
    by_number = {c.address: c for c in verified}
    for msg in messages:
        config = by_number.get(msg.recipient)
        if config is None:
            log.warning("WhatsApp message for phone number id %s, which is not configured here", msg.recipient)
            continue
        _store(config, msg)
    _apply_statuses(statuses)
    return jsonify({"ok": True})


def noop() -> Response:
    """The benchmark's baseline (registered only with PARLEY_BENCH_NOOP=1): the same server and
    framework, no signature, no database."""
    return _twiml()
