"""Socket.IO handlers: thin adapters from socket events to actions (the logic lives in models/ and bot/)."""

from __future__ import annotations

import logging
import secrets
import threading
from collections import Counter
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from flask import current_app, request
from flask_socketio import emit, join_room
from sqlalchemy.exc import IntegrityError

from bot.pipeline import Claimed
from connectors.webchat import CHANNEL as WEBCHAT
from connectors.webchat import Visitor, customer_message, message_key, visitor_display_name
from console.auth import socket_credential, still_live
from console.extensions import socketio
from console.limits import RateLimited, client_address, limits
from console.realtime.payloads import queue_state
from console.realtime.presence import consoles
from console.realtime.rooms import ALL_ROOM, CONSOLE, WEBCHAT_NS, contact_room, team_room, user_room
from console.serialize import iso
from console.services import services
from console.widget_history import earlier_payload
from console.widget_inbox import widget_inbox_on_connect
from models.contacts.blocking import do_keep_blocked
from models.contacts.identities import do_find_or_create_contact, find_contact
from models.contacts.widget import visitor_history
from models.contacts.widget_sdk import check_page, do_record_page
from models.conversations import bot_claims
from models.conversations.inbox import counters
from models.conversations.ingest import (
    contact_and_open_conversation,
    do_ingest_inbound,
    do_set_presence,
    open_conversation_of,
)
from models.conversations.messages import check_text
from models.conversations.webchat_ingest import do_ingest_webchat_text
from models.errors import Forbidden, ParleyError
from models.feedback.prechat import check_prechat_done
from models.inboxes.routing import inbox_for_widget
from models.routing.availability import do_console_connected, do_console_seen
from models.schema.base import utcnow
from models.telemetry.logs import conversation as log_conversation
from models.telemetry.metrics import socket_closed, socket_opened

log = logging.getLogger(__name__)


class _VisitorSockets:
    """Which visitor each socket of this process belongs to, for presence and message handling."""

    def __init__(self) -> None:
        self._by_sid: dict[str, Visitor] = {}
        self._keys: dict[str, str | None] = {}  # the widget key each socket connected with (its inbox)
        self._count: Counter[str] = Counter()
        self._lock = threading.Lock()

    def add(self, sid: str, visitor: Visitor, widget_key: str | None = None) -> None:
        with self._lock:
            self._by_sid[sid] = visitor
            self._keys[sid] = widget_key
            self._count[visitor.visitor_id] += 1

    def get(self, sid: str) -> Visitor | None:
        return self._by_sid.get(sid)

    def widget_key(self, sid: str) -> str | None:
        return self._keys.get(sid)

    def remove(self, sid: str) -> tuple[Visitor | None, bool]:
        """Forget a socket; also say whether it was that visitor's last one here."""
        with self._lock:
            visitor = self._by_sid.pop(sid, None)
            self._keys.pop(sid, None)
            if visitor is None:
                return None, False
            self._count[visitor.visitor_id] -= 1
            last = self._count[visitor.visitor_id] <= 0
            if last:
                del self._count[visitor.visitor_id]
            return visitor, last


visitors = _VisitorSockets()


class Answered:
    """`_store_customer_message`: the bot's answer was stored in the message's transaction."""


ANSWERED = Answered()


@dataclass(frozen=True)
class AnsweredHolding:
    """`_store_customer_message` in `parley web`: the bot's answer was stored in the message's transaction
    with the claim kept; it is given back once that transaction's events are pushed (`finish_answered`)."""

    claimed: Claimed


def _error(exc: ParleyError) -> dict[str, Any]:
    return {"code": exc.code, "message": exc.message}


# --- /webchat: customers ------------------------------------------------------------------------


@socketio.on("connect", namespace=WEBCHAT_NS)
def webchat_connect(auth: Any = None) -> None:
    svc = services()
    widget_key = widget_inbox_on_connect(auth)  # refuses an unknown key or a site the widget is not on
    token = auth.get("token") if isinstance(auth, dict) else None
    visitor = svc.visitors.verify(token) if token else None
    if token and visitor is None:
        emit("error", {"code": "bad_token", "message": "Your chat session was not recognised; "
                                                        "a new one has started."})
    visitor = visitor or svc.visitors.issue()
    visitors.add(request.sid, visitor, widget_key)  # type: ignore[attr-defined]
    socket_opened(WEBCHAT_NS)
    public_id, history, queue, earlier = None, [], None, None
    with svc.db.transaction() as s:
        contact = find_contact(s, WEBCHAT, visitor.visitor_id)
        if contact is not None:
            join_room(contact_room(contact.id))
            do_set_presence(s, contact, True)
            conv = open_conversation_of(s, contact)
            earlier = earlier_payload(s, contact.id, visitor.visitor_id, conv.id if conv else None)
            if conv is not None:
                public_id = conv.public_id
                rows = visitor_history(s, conv, visitor.visitor_id)  # what this browser was party to
                history = [customer_message(id=m.id, conversation_id=conv.public_id,
                                            sender_type=m.sender_type, text=m.text,
                                            created_at=iso(m.created_at) or "", rich=m.rich) for m in rows]
                if conv.owner == "human":
                    queue = {"conversation_id": conv.public_id, **queue_state(s, conv)}
    emit("session", {"token": visitor.token, "conversation_id": public_id})
    emit("history", {"conversation_id": public_id, "messages": history})
    if queue is not None:
        emit("queue", queue)
    if earlier and earlier["conversations"]:
        emit("earlier", earlier)  # a returning customer's own earlier messages, read-only (widget_history.py)


@socketio.on("message", namespace=WEBCHAT_NS)
def webchat_message(data: Any = None) -> dict[str, Any]:
    svc = services()
    visitor = visitors.get(request.sid)  # type: ignore[attr-defined]
    try:
        if visitor is None:
            raise ParleyError("Reconnect to chat.", code="no_session")
        if not isinstance(data, dict):
            raise ParleyError("Send {\"text\": \"...\"}.", code="invalid")
        text = check_text(data.get("text"), svc.settings.max_message_length)
        key = message_key(visitor.visitor_id, data.get("client_id"))
        _count_visitor_message(visitor)
        contact_id, conv_id, reply, claimed, woken = _store_customer_message(
            visitor, text, key, visitors.widget_key(request.sid), data.get("page"))  # type: ignore[attr-defined]
    except ParleyError as exc:
        emit("error", _error(exc))
        error = _error(exc)
        if isinstance(exc, RateLimited):
            error["retry_after"] = exc.retry_after
        return {"ok": False, "error": error}
    with log_conversation(str(reply["conversation_id"])):
        log.info("webchat message %s received", reply["id"])
        join_room(contact_room(contact_id))
        if isinstance(claimed, Claimed):
            svc.resume_turn(claimed)  # the bot's claim rode in the message's transaction
        elif isinstance(claimed, AnsweredHolding):  # answered here and pushed: the claim goes back now
            svc.finish_answered(claimed.claimed)
        elif claimed is None and not woken:  # (woken: the worker heard of it as the message committed)
            svc.process_conversation(conv_id)
        # ANSWERED: the bot's answer was stored with the message, and pushed
    return reply


def _store_customer_message(visitor: Visitor, text: str, key: str | None, widget_key: str | None,
                            page: Any = None,
                            ) -> tuple[int, int, dict[str, Any], Claimed | Answered | AnsweredHolding | None, bool]:
    """Store the message once, however often the widget sends it (a resend after a lost ack).

    In the steady state, when this process runs the bot's turns, the same transaction takes the bot's
    claim on the conversation and reads the turn (returned: resume it after the commit), or, with engines
    that answer in milliseconds, answers it too (`ANSWERED`). When a worker runs them (`parley web`), it
    is woken as the transaction commits (returned True), before this thread pushes the message to the
    consoles — unless this web process answers it itself (`answers_in_web`: the embedded engine with its
    model loaded here), in the same transaction, keeping the claim until the pushes are out
    (`AnsweredHolding`).

    The first attempt inserts without looking for the key first (a query saved on every message);
    a resend, or the loser of two sends of one key racing each other, fails on the unique
    `(channel, provider_message_id)`, and its second attempt looks and finds the stored row.
    """
    svc = services()
    # On SQLite, answered in the message's own transaction (`BotPipeline.answer_in`) when the engines
    # answer in milliseconds: its events are pushed before SQLite's write lock goes to the next writer,
    # so a reply committed after this one never reaches a browser before it. (PostgreSQL has no such
    # lock: there the claim is given back after the pushes, by the turn in the background.)
    # In `parley web` (`answers_in_web`, any database) the claim outlives the commit instead: it is given
    # back after the pushes (`finish_answered`), and a reply of another process needs it first.
    at_once = svc.pipeline.answers_at_once
    in_web = svc.answers_in_web
    in_message = at_once and (svc.db.is_sqlite or in_web)
    attempt = 0
    while True:
        try:
            with svc.db.transaction(publish_under_lock=in_message and not in_web) as s:
                claims = svc.claims_turns or (in_web and in_message)
                token = secrets.token_hex(16) if attempt == 0 and claims else None
                fast = do_ingest_webchat_text(s, visitor.visitor_id, text, key, claim_token=token,
                                              lease_s=svc.pipeline.lease_s,
                                              summary_after_turn=at_once,
                                              answered_elsewhere=svc.turns_elsewhere) if attempt == 0 else None
                if fast is not None:  # the steady state, in Core (models/conversations/webchat_ingest.py)
                    claimed: Claimed | Answered | AnsweredHolding | None = (
                        svc.pipeline.claimed_with(s, fast.claimed, token)
                        if fast.claimed is not None and token is not None else None)
                    if (isinstance(claimed, Claimed) and in_message and claimed.pending.message_id == fast.message_id
                            and svc.pipeline.ready_in_message(claimed)):
                        join_room(contact_room(fast.contact_id))  # this socket hears the answer pushed below
                        try:
                            svc.pipeline.answer_in(s, claimed, release=not in_web)
                        except Exception as exc:  # the message must still be stored: again, without the turn
                            raise _TurnFailed from exc
                        # the claim given back in this transaction, or (web) once its events are pushed
                        claimed = AnsweredHolding(claimed) if in_web else ANSWERED
                    elif isinstance(claimed, Claimed) and in_web:  # a backlog, or the model not loaded here:
                        bot_claims.release(s, claimed.conversation_id, claimed.token)  # the workers answer
                        if not svc.pipeline.ready_in_message(claimed):  # (the next one here, once loaded)
                            svc.pipeline.prepare_soon(claimed.pending.context)
                        claimed = None
                    woken = claimed is None and svc.wake_on_commit(s, fast.conversation_id)
                    return fast.contact_id, fast.conversation_id, {
                        "ok": True, "id": fast.message_id, "conversation_id": fast.public_id,
                        "created_at": iso(fast.created_at)}, claimed, woken
                contact, conv = contact_and_open_conversation(s, WEBCHAT, visitor.visitor_id)
                if contact is None:
                    contact = do_find_or_create_contact(s, WEBCHAT, visitor.visitor_id,
                                                        visitor_display_name(visitor.visitor_id))
                if contact.blocked:  # kept for admins, then refused (models/contacts/blocking.py)
                    do_keep_blocked(s, contact=contact, channel=WEBCHAT, text=text, provider_message_id=key)
                else:
                    inbox = None
                    if conv is None:  # this message starts a conversation: after the pre-chat form, if any
                        inbox = inbox_for_widget(s, widget_key)
                        check_prechat_done(inbox.options, contact, visitor_display_name(visitor.visitor_id))
                        if attempt == 0:  # a retry is the same message: counted once
                            _count_visitor_conversation(visitor)
                    do_set_presence(s, contact, True)
                    ingested = do_ingest_inbound(
                        s, contact=contact, channel=WEBCHAT, text=text, provider_message_id=key, open_conversation=conv,
                        inbox=inbox, look_for_duplicate=attempt > 0)
                    if conv is None and ingested.created:  # widget SDK: where it started (no query)
                        do_record_page(ingested.conversation, contact, check_page(page))
                    woken = svc.wake_on_commit(s, ingested.conversation.id)
                    return contact.id, ingested.conversation.id, {
                        "ok": True, "id": ingested.message.id, "conversation_id": ingested.conversation.public_id,
                        "created_at": iso(ingested.message.created_at)}, None, woken
            raise Forbidden("This contact is blocked.", code="blocked")
        except IntegrityError:
            if attempt == 1 or key is None:
                raise
            attempt += 1
        except _TurnFailed:
            log.exception("the bot's turn in the message's transaction failed; storing the message alone")
            in_message = False


class _TurnFailed(Exception):
    """The bot's turn in a customer message's transaction failed: store the message without it."""


def _count_visitor_message(visitor: Visitor) -> None:
    """The same limits and storage as the HTTP views (console/limits.py), per visitor and per address."""
    settings, lim = services().settings, limits()
    lim.hit("webchat_msg", settings.rate_limit_webchat_messages, visitor.visitor_id, "Too many messages")
    lim.hit("webchat_msg_addr", settings.rate_limit_webchat_messages_per_address, client_address(),
            "Too many messages")


def _count_visitor_conversation(visitor: Visitor) -> None:
    settings, lim = services().settings, limits()
    lim.hit("webchat_conv", settings.rate_limit_webchat_conversations, visitor.visitor_id,
            "Too many new conversations")
    lim.hit("webchat_conv_addr", settings.rate_limit_webchat_conversations_per_address, client_address(),
            "Too many new conversations")


@socketio.on("disconnect", namespace=WEBCHAT_NS)
def webchat_disconnect(*_args: Any) -> None:
    visitor, last = visitors.remove(request.sid)  # type: ignore[attr-defined]
    if visitor is not None:
        socket_closed(WEBCHAT_NS)
    if visitor is None or not last:
        return
    svc = services()
    with svc.db.transaction() as s:
        contact = find_contact(s, WEBCHAT, visitor.visitor_id)
        if contact is not None:
            do_set_presence(s, contact, False)


# --- /console: agents ----------------------------------------------------------------------------


def _same_origin() -> bool:
    """Refuse cross-site sockets carrying an agent's cookie (the widget's CORS is for /webchat only)."""
    origin = request.headers.get("Origin")
    if not origin:
        return True
    return urlsplit(origin).netloc == request.host


@socketio.on("connect", namespace=CONSOLE)
def console_connect(auth: Any = None) -> bool:
    """The Origin rule follows the credential: a socket riding the session cookie must come from this
    site; only an API token (which a sibling site cannot read) may connect from elsewhere."""
    credential = socket_credential(auth)
    if credential is None or (credential.session_id is not None and not _same_origin()):
        return False
    user = credential.user
    join_room(user_room(user.id))
    if user.sees_all_teams:
        join_room(ALL_ROOM)
    else:
        for team_id in user.team_ids:
            join_room(team_room(team_id))
    consoles.add(request.sid, user.id, session_id=credential.session_id,  # type: ignore[attr-defined]
                 token_id=credential.token_id)
    current_app.extensions["parley_revocations"].start()  # this process now holds sockets to close
    if not still_live(credential):  # revoked while we were joining: the revocation missed this socket
        consoles.remove(request.sid)  # type: ignore[attr-defined]
        return False
    socket_opened(CONSOLE)
    with services().db.transaction() as s:
        do_console_connected(s, user.id, utcnow())  # back from "offline: no console open"
    with services().db.session() as s:
        emit("counters", counters(s, user))
    return True


@socketio.on("disconnect", namespace=CONSOLE)
def console_disconnect(*_args: Any) -> None:
    """The agent's last console here closed: the 5 minutes before they go offline start now."""
    user_id, last = consoles.remove(request.sid)  # type: ignore[attr-defined]
    if user_id is not None:
        socket_closed(CONSOLE)
    if user_id is not None and last:
        with services().db.transaction() as s:
            do_console_seen(s, [user_id], utcnow())

