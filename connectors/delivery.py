"""The delivery worker: sends the outbox, reconciles unconfirmed sends, fetches inbound media.

Runs as a thread in `parley run` and as `parley worker` in separate processes; any number of them
may run against one database (claims are compare-and-set, `FOR UPDATE SKIP LOCKED` on
PostgreSQL). Without a running thread (tests, one-shot commands), `notify()` runs one pass through
the app's jobs. Framework-free: no Flask in here. The guarantee is spelled out in models/outbox.py.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import select

from connectors import twilio as twilio_connector
from connectors import whatsapp_cloud
from connectors.base import (
    OutboundMessage,
    PermanentSendError,
    RetryableSendError,
    SendError,
    Template,
    UnconfirmedSendError,
)
from connectors.http import MediaFetchError, MediaTooLarge, download
from connectors.outbound import OutboundGuard
from connectors.polling import PollingWorker
from models.channels.attachments import AttachmentStore, do_refuse, do_store_fetched
from models.channels.settings import ChannelSettings
from models.conversations.rich import image_type, rich_from_json
from models.db import Database, publish_on_commit
from models.events import MessageUpdated
from models.outbox.claims import (
    claim_due,
    claim_unconfirmed,
    expire_leases,
    give_up_unconfirmed,
    record_failed,
    record_resend,
    record_retry,
    record_sent,
    record_unconfirmed,
    unconfirmed_ids,
)
from models.outbox.enqueue import serves
from models.schema.base import utcnow
from models.schema.channels import Attachment, AttachmentState, ChannelConfig, OutboxItem, OutboxState, ProviderKind
from models.schema.conversations import Conversation, Message
from models.telemetry.metrics import OUTBOX_ATTEMPTS, OUTBOX_FAILURES

log = logging.getLogger(__name__)


MEDIA_LINK_MAX_AGE_S = 3600


_MEDIA_SALT = "parley.media-link"


VISITOR_LINK_MAX_AGE_S = 7 * 24 * 3600


_VISITOR_SALT = "parley.webchat-file"


BATCH = 20



class MediaLinks:
    """Expiring, unguessable links to an outbound attachment, for the provider to fetch it."""

    def __init__(self, secret_key: str, public_url: str | None) -> None:
        self._serializer = URLSafeTimedSerializer(secret_key, salt=_MEDIA_SALT)
        self._visitor = URLSafeTimedSerializer(secret_key, salt=_VISITOR_SALT)
        self.public_url = public_url

    def url_for(self, attachment_public_id: str) -> str:
        if not self.public_url:
            raise PermanentSendError("Files can be sent on SMS/WhatsApp only when PARLEY_PUBLIC_URL is set "
                                     "(the provider downloads them from there).", code="no_public_url")
        return f"{self.public_url}/media/{self._serializer.dumps(attachment_public_id)}"

    def verify(self, token: str) -> str | None:
        try:
            value = self._serializer.loads(token, max_age=MEDIA_LINK_MAX_AGE_S)
        except BadSignature:
            return None
        return value if isinstance(value, str) else None

    def visitor_url(self, attachment_public_id: str) -> str:
        """A webchat customer's link to a file an agent sent them (relative: the widget adds its origin)."""
        return f"/webchat/files/{self._visitor.dumps(attachment_public_id)}"

    def verify_visitor(self, token: str) -> str | None:
        try:
            value = self._visitor.loads(token, max_age=VISITOR_LINK_MAX_AGE_S)
        except BadSignature:
            return None
        return value if isinstance(value, str) else None


class Senders:
    """Provider clients built from channel configurations, rebuilt when a configuration changes."""

    def __init__(self, settings: ChannelSettings) -> None:
        self.settings = settings
        self._cache: dict[int, tuple[Any, Any]] = {}
        self._lock = threading.Lock()

    def for_config(self, config: ChannelConfig) -> Any:
        key = (config.updated_at, config.enabled)
        with self._lock:
            cached = self._cache.get(config.id)
            if cached is not None and cached[0] == key:
                return cached[1]
        sender = self._build(config)
        with self._lock:
            self._cache[config.id] = (key, sender)
        return sender

    def _build(self, config: ChannelConfig) -> Any:
        s = self.settings
        if config.kind == ProviderKind.TWILIO.value:
            callback = f"{s.public_url}/webhooks/twilio/status" if s.public_url else None
            return twilio_connector.TwilioSender(
                account_sid=config.account or "", auth_token=config.secret("auth_token"), number=config.address,
                api_base=s.twilio_api_base, timeout=s.provider_timeout_s, status_callback=callback,
                messaging_service_sid=(config.options or {}).get("messaging_service_sid"))
        return whatsapp_cloud.GraphClient(token=config.secret("token"), phone_number_id=config.address,
                                          api_base=s.whatsapp_api_base, api_version=s.whatsapp_api_version,
                                          timeout=s.provider_timeout_s)


class DeliveryWorker(PollingWorker):
    name = "parley-delivery"
    batch = BATCH

    def __init__(self, db: Database, settings: ChannelSettings, store: AttachmentStore, links: MediaLinks,
                 submit: Callable[..., None]) -> None:
        super().__init__(submit)
        self.db = db
        self.settings = settings
        self.store = store
        self.links = links
        self.senders = Senders(settings)

    @property
    def poll_s(self) -> float:
        return self.settings.outbox_poll_s

    def one_pass(self) -> int:
        """Expired leases, due sends, unconfirmed sends, pending media."""
        with self.db.transaction() as s:
            expired = expire_leases(s)
        if expired:
            log.warning("outbox rows %s were interrupted mid-send; reconciling them", expired)
        with self.db.transaction() as s:
            token, ids = claim_due(s, limit=BATCH, lease_s=self.settings.outbox_lease_s)
        for item_id in ids:
            self._send(item_id, token)
        with self.db.session() as s:
            settled = utcnow() - timedelta(seconds=self.settings.unconfirmed_settle_s)
            unconfirmed = unconfirmed_ids(s, settled_before=settled)
            media = list(s.scalars(select(Attachment.id).where(Attachment.state == AttachmentState.PENDING.value)
                                   .order_by(Attachment.id).limit(BATCH)))
        for item_id in unconfirmed:
            self._reconcile(item_id)
        for att_id in media:
            self.fetch_media(att_id)
        return len(ids) + len(media)

    # --- sending ---------------------------------------------------------------------------------

    def _prepare(self, item_id: int) -> tuple[str, OutboundMessage, Any] | None:
        """(channel, the message to send, its sender), or None when the account is gone (failed)."""
        with self.db.session() as s:
            row = s.execute(select(OutboxItem, Message).join(Message, Message.id == OutboxItem.message_id)
                            .where(OutboxItem.id == item_id)).first()  # one look for both
            if row is None:
                return None
            item, msg = row
            config = s.get(ChannelConfig, item.channel_config_id) if item.channel_config_id else None
            if config is None or not serves(config, item.channel):
                raise PermanentSendError("The channel this message was queued for is no longer configured.",
                                         code="no_channel")
            payload = item.payload or {}
            template = None
            if isinstance(payload.get("template"), dict):
                t = payload["template"]
                template = Template(str(t.get("provider_id") or t.get("name")), str(t.get("language") or "en"),
                                    tuple(str(v) for v in t.get("variables") or ()))
            media_urls: list[str] = []
            media_types: list[str] = []
            extra: dict[str, str] = {}
            for att in msg.attachments:
                if att.state == AttachmentState.READY.value:
                    media_urls.append(self.links.url_for(att.public_id))
                    media_types.append(att.content_type or "application/octet-stream")
                    extra["filename"] = att.filename
            rich = rich_from_json(msg.rich)
            if rich.image:  # a bot's image goes as a link the provider fetches (docs/rasa.md)
                media_urls.append(rich.image)
                media_types.append(image_type(rich.image))
            text = msg.text if payload.get("send_text", True) else ""
            out = OutboundMessage(to=item.to_address, text=text, media_urls=tuple(media_urls),
                                  media_types=tuple(media_types), template=template, ref=f"o{item.id}",
                                  extra=extra, buttons=rich.buttons)
            return item.channel, out, self.senders.for_config(config)

    def _send(self, item_id: int, token: str) -> None:
        channel = "unknown"  # until the item is read
        try:
            prepared = self._prepare(item_id)
            if prepared is None:
                return
            channel, out, sender = prepared
            provider_id = sender.send(channel, out)
        except PermanentSendError as exc:
            log.info("outbox %s refused: %s (%s)", item_id, exc.message, exc.code)
            with self.db.transaction() as s:
                record_failed(s, item_id, token, code=exc.code, error=exc.message)
            OUTBOX_ATTEMPTS.labels(channel, "refused").inc()
            OUTBOX_FAILURES.labels(channel).inc()
        except RetryableSendError as exc:
            with self.db.transaction() as s:
                state = record_retry(s, item_id, token, code=exc.code, error=exc.message,
                                            max_attempts=self.settings.outbox_max_attempts,
                                            backoff_s=self.settings.outbox_backoff_s,
                                            backoff_max_s=self.settings.outbox_backoff_max_s)
            log.info("outbox %s: %s (%s); now %s", item_id, exc.message, exc.code, state)
            OUTBOX_ATTEMPTS.labels(channel, "retry").inc()
            if state == OutboxState.FAILED.value:
                OUTBOX_FAILURES.labels(channel).inc()
        except UnconfirmedSendError as exc:
            log.warning("outbox %s unconfirmed: %s", item_id, exc.message)
            with self.db.transaction() as s:
                record_unconfirmed(s, item_id, token, code=exc.code, error=exc.message)
            OUTBOX_ATTEMPTS.labels(channel, "unconfirmed").inc()
        except Exception:  # a bug of ours after the claim: it may have gone out, so never resend blindly
            log.exception("outbox %s: unexpected error while sending", item_id)
            with self.db.transaction() as s:
                record_unconfirmed(s, item_id, token, code="interrupted", error="Internal error while sending.")
            OUTBOX_ATTEMPTS.labels(channel, "error").inc()
        else:
            OUTBOX_ATTEMPTS.labels(channel, "sent").inc()
            with self.db.transaction() as s:
                if not record_sent(s, item_id, token, provider_id):
                    log.warning("outbox %s was sent (%s) after its claim lapsed", item_id, provider_id)
                    _late_sent(s, item_id, provider_id)

    def _reconcile(self, item_id: int) -> None:
        with self.db.transaction() as s:
            token = claim_unconfirmed(s, item_id, lease_s=self.settings.outbox_lease_s)
        if token is None:
            return
        try:
            prepared = self._prepare(item_id)
        except SendError as exc:
            with self.db.transaction() as s:
                record_failed(s, item_id, token, code=exc.code, error=exc.message)
            OUTBOX_FAILURES.labels("unknown").inc()
            return
        if prepared is None:
            return
        channel, out, sender = prepared
        with self.db.session() as s:
            item = s.get(OutboxItem, item_id)
            since = (item.attempt_started_at if item and item.attempt_started_at else utcnow()) - timedelta(minutes=1)
        if isinstance(sender, twilio_connector.TwilioSender):
            try:
                sid = sender.find_sent(channel, out, since)
            except RetryableSendError as exc:
                with self.db.transaction() as s:
                    record_unconfirmed(s, item_id, token, code="timeout", error=exc.message)
                return
            with self.db.transaction() as s:
                if sid is not None:
                    log.info("outbox %s: Twilio had it after all (%s)", item_id, sid)
                    record_sent(s, item_id, token, sid)
                else:
                    log.info("outbox %s: Twilio never got it; sending again", item_id)
                    record_resend(s, item_id, token)
            self.notify()
            return
        older = utcnow() - timedelta(seconds=self.settings.unconfirmed_grace_s)
        with self.db.transaction() as s:
            give_up_unconfirmed(s, item_id, token, older_than=older)

    # --- inbound media ---------------------------------------------------------------------------

    def fetch_media(self, attachment_id: int) -> None:
        """Download one pending inbound media with its account's credentials, check it, store it."""
        with self.db.session() as s:
            att = s.get(Attachment, attachment_id)
            if att is None or att.state != AttachmentState.PENDING.value or not att.source_ref:
                return
            config = s.get(ChannelConfig, att.channel_config_id) if att.channel_config_id else None
            ref = att.source_ref
        limit = self.settings.max_attachment_bytes
        guard = OutboundGuard.from_env({"PARLEY_OUTBOUND_ALLOW": self.settings.outbound_allow,
                                        "PARLEY_TWILIO_API_BASE": self.settings.twilio_api_base,
                                        "PARLEY_WHATSAPP_API_BASE": self.settings.whatsapp_api_base})
        result: bytes | None = None
        error: str | None = None
        state = AttachmentState.FAILED.value
        try:
            if config is None:
                raise MediaFetchError("the channel it came through is no longer configured")
            if config.kind == ProviderKind.TWILIO.value:
                sender = self.senders.for_config(config)
                auth = sender.media_auth() if _same_host(ref, self.settings.twilio_api_base) else None
                result = download(ref, max_bytes=limit, auth=auth, timeout=self.settings.provider_timeout_s * 2,
                                  guard=guard).data
            else:
                client = self.senders.for_config(config)
                url = client.media_url(ref)
                result = download(url, max_bytes=limit, headers=client.auth_headers,
                                  timeout=self.settings.provider_timeout_s * 2, guard=guard).data
        except MediaTooLarge as exc:
            error, state = f"The file is too large ({exc}).", AttachmentState.REFUSED.value
        except (MediaFetchError, SendError) as exc:
            error = f"Could not fetch the file: {exc}"
        with self.db.transaction() as s:
            att = s.get(Attachment, attachment_id, with_for_update=True)
            if att is None or att.state != AttachmentState.PENDING.value:
                return
            if result is not None:
                do_store_fetched(s, self.store, att, result, max_bytes=limit)
            else:
                do_refuse(att, error or "Could not fetch the file.", state=state)
            conv = s.get(Conversation, att.conversation_id)
            if conv is not None:
                publish_on_commit(s, MessageUpdated(conv.id, conv.team_id, att.message_id, "attachment"))


def _same_host(url: str, base: str) -> bool:
    a, b = urlsplit(url), urlsplit(base)
    return (a.scheme, a.hostname, a.port) == (b.scheme, b.hostname, b.port)


def _late_sent(session: Any, item_id: int, provider_id: str) -> None:
    """Our claim lapsed but the provider took it: record the id so status callbacks still find it."""
    item = session.get(OutboxItem, item_id)
    if item is None:
        return
    msg = session.get(Message, item.message_id)
    if msg is not None and msg.provider_message_id is None:
        msg.provider_message_id = provider_id
