"""The realtime listener: the one place that turns committed changes into Socket.IO emits.

Chatwoot's ActionCableListener shape: the bus hands every event to `__call__`, which calls the method
named after the event (`MessageCreated` → `message_created`); who hears it is decided by `audience`
(console/realtime/rooms.py), the visibility rule applied in one place. Nothing else in the code base
emits to Socket.IO (socket handlers answering their own caller aside). Work that is not a push —
routing, timers, waking the delivery worker — lives in console/runtime/ and calls in here.

Ordering: messages and notifications to one agent go out at once, in the committing thread, so they
arrive in the order they were stored (a conversation's commits are serialised by the pipeline and row
locks). Conversation summaries, counters and customers' places in the queue are recomputed in the
background, coalesced, so what a client hears only moves forward.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, selectinload

from connectors.delivery import MediaLinks
from connectors.webchat import CHANNEL as WEBCHAT
from connectors.webchat import customer_message
from console.realtime.coalescing import Coalescer, Submits
from console.realtime.discussions import entry_push, mention_notice
from console.realtime.internal_chat import message_pushes, unread_pushes
from console.realtime.payloads import brief, brief_of, pushed_message, queue_state, transfer_json
from console.realtime.rooms import (
    ALL_ROOM,
    CONSOLE,
    WEBCHAT_NS,
    audience,
    audiences,
    contact_room,
    union,
    user_room,
)
from console.realtime.summaries import conversation_summaries
from console.serialize import iso, message_shape
from models.conversations.inbox import counters, counters_for, users_who_can_see
from models.conversations.visibility import named_users
from models.db import Database
from models.events import (
    AgentAvailabilityChanged,
    AutoAssigned,
    BotTyping,
    ContactBlockChanged,
    ContactPresenceChanged,
    ConversationAssigned,
    ConversationCreated,
    ConversationDeleted,
    ConversationEvent,
    ConversationHandedOff,
    ConversationOffered,
    ConversationQueued,
    ConversationRead,
    ConversationRenamed,
    ConversationRestricted,
    ConversationStatusChanged,
    DiscussionEntryPosted,
    Event,
    InternalChatChanged,
    InternalMessageCreated,
    InvoiceChanged,
    MentionCreated,
    MessageCreated,
    MessageUpdated,
    OfferEnded,
    TransferChanged,
)
from models.feedback.ratings import ended_notice
from models.invoices.shapes import invoice_payload
from models.routing.queue import queue_outlook, queue_positions
from models.schema.accounts import User
from models.schema.base import utcnow
from models.schema.channels import Attachment, AttachmentState
from models.schema.conversations import Assignment, Channel, Conversation, SenderType, Status
from models.schema.routing import Transfer

log = logging.getLogger(__name__)

Emit = Callable[..., Any]
# Whether anyone hears (namespace, room) in this process (room None: anyone on the namespace).
Heard = Callable[[str, str | None], bool]


def handler_name(event_type: type[Event]) -> str:
    """`ConversationHandedOff` → `conversation_handed_off`: the method that pushes that event."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", event_type.__name__).lower()


class RealtimeListener:
    """`emit` is Flask-SocketIO's (`socketio.emit` in an app process, a queue-only `SocketIO(
    message_queue=...)` in `parley worker`). `jobs` runs the coalesced summaries and counters;
    `routing_jobs` (threads of its own in production) what agents and customers waiting on routing
    must hear without queueing behind bot turns. `links` lets webchat customers download the files
    an agent sent them. `pace_s` (0 in tests: at once) spaces the coalesced summaries and counters
    (`Coalescer`). `heard`: who listens in this process, when nobody else can (no message queue):
    a push to rooms nobody is in is not encoded, and summaries and counters are not read while no
    console is open (a console opening loads its lists itself); None: every push goes out."""

    def __init__(self, db: Database, jobs: Submits, emit: Emit, *, routing_jobs: Submits | None = None,
                 links: MediaLinks | None = None, pace_s: float = 0.0, heard: Heard | None = None) -> None:
        self.db = db
        self._heard = heard
        self.jobs = jobs
        self.routing_jobs = routing_jobs or jobs
        self.emit = emit
        self.links = links
        # `pace_s`: summaries and counters, pushed to every console of a team, at most that often
        # (a quiet change at once; a burst gathered): see `Coalescer`. Counters (badges): twice that apart.
        self._summaries = Coalescer(jobs, self._push_conversations, pace_s=pace_s)
        self._counters = Coalescer(jobs, self._push_counters, pace_s=2 * pace_s)
        self._queues = Coalescer(self.routing_jobs, self._push_queues)
        # Conversations whose summary waits for the end of the bot's turn on a customer message
        # (`MessageCreated.bot_answers`): the answer's own push, or the `BotTyping` that ends the turn.
        self._after_turn: set[int] = set()
        self._after_turn_lock = threading.Lock()

    def __call__(self, evt: Event) -> None:
        method: Callable[[Any], None] | None = getattr(self, handler_name(type(evt)), None)
        if method is not None:  # not every event reaches a browser (`OutboundQueued` wakes a worker)
            method(evt)

    # --- the events ---------------------------------------------------------------------------

    def message_created(self, evt: MessageCreated) -> None:
        has_files = self._push_message(evt)
        if evt.bot_answers:  # one summary for the message and the bot's answer, moments away
            with self._after_turn_lock:
                self._after_turn.add(evt.conversation_id)
        elif not evt.answered_elsewhere:  # (elsewhere: the worker's turn pushes it, see `bot_typing`)
            self._changed(evt, counters=evt.human_owned)  # the bot's side changes no counter
        if (has_files and evt.channel == WEBCHAT and not evt.private
                and evt.sender_type != SenderType.CONTACT.value):
            self._files_to_visitor(evt)  # after the message itself

    def message_updated(self, evt: MessageUpdated) -> None:
        """A delivery tick or an attachment that arrived: the message again, to the consoles."""
        with self.db.read_session() as s:
            pushed = pushed_message(s, evt.message_id)
            if pushed is None:
                return
            msg, payload = pushed
            rooms = audiences(s, [(msg.conversation_id, evt.team_id)],
                              restricted=[msg.conversation_id] if msg.restricted else [])
        self._to(rooms[msg.conversation_id], "message", payload)

    def conversation_created(self, evt: ConversationCreated) -> None:
        self._changed(evt)

    def conversation_handed_off(self, evt: ConversationHandedOff) -> None:
        self._changed(evt)

    def conversation_assigned(self, evt: ConversationAssigned) -> None:
        self._changed(evt)

    def conversation_status_changed(self, evt: ConversationStatusChanged) -> None:
        self._changed(evt)
        if evt.change == "closed":  # the webchat customer: the chat ended (and may be rated)
            with self.db.read_session() as s:
                notice = ended_notice(s, evt.conversation_id)
            if notice is not None:
                self.emit("ended", notice, namespace=WEBCHAT_NS, to=contact_room(evt.contact_id))

    def conversation_read(self, evt: ConversationRead) -> None:
        self._changed(evt)

    def conversation_queued(self, evt: ConversationQueued) -> None:
        self._changed(evt)

    def conversation_offered(self, evt: ConversationOffered) -> None:
        self._changed(evt)
        self._notify_one(evt.conversation_id, [evt.user_id], lambda s, conv: {
            "kind": "offered", "conversation": brief(conv), "offer_id": evt.offer_id,
            "expires_at": evt.expires_at})

    def offer_ended(self, evt: OfferEnded) -> None:
        self._changed(evt)
        self._notify_one(evt.conversation_id, [evt.user_id], lambda s, conv: {
            "kind": "offer_ended", "conversation": brief(conv), "offer_id": evt.offer_id,
            "status": evt.status})

    def auto_assigned(self, evt: AutoAssigned) -> None:
        """The agent hears first; routing's batches name the conversation in the event (no query)."""
        if evt.brief is not None:
            self.emit("notification", {"kind": "assigned", "conversation": brief_of(evt.brief, evt.team_id)},
                      namespace=CONSOLE, to=user_room(evt.user_id))
        else:
            self._notify_one(evt.conversation_id, [evt.user_id],
                             lambda s, conv: {"kind": "assigned", "conversation": brief(conv)})
        self._changed(evt)

    def transfer_changed(self, evt: TransferChanged) -> None:
        """Told: both ends of the transfer and whoever asked for it."""
        self._changed(evt)
        with self.db.read_session() as s:
            t = s.get(Transfer, evt.transfer_id)
            if t is None:
                return
            told = {uid for uid in (evt.from_user_id, evt.to_user_id, t.requested_by_id) if uid is not None}
            self._notify_one(evt.conversation_id, sorted(told), lambda s, conv: {
                "kind": "transfer", "conversation": brief(conv), "transfer": transfer_json(s, t)}, s)

    def conversation_restricted(self, evt: ConversationRestricted) -> None:
        self._changed(evt)
        self.routing_jobs.submit(self._drop_from_lists, evt)

    def conversation_renamed(self, evt: ConversationRenamed) -> None:
        self._changed(evt, counters=False)

    def invoice_changed(self, evt: InvoiceChanged) -> None:
        """An invoice sent or its status moved: `invoice` to whoever sees the conversation (its view and lists)."""
        with self.db.read_session() as s:
            payload = invoice_payload(s, evt.invoice_id)
            if payload is not None:
                conv_id, restricted, data = payload
                named = named_users(s, [conv_id]).get(conv_id) if restricted else None
                self._to(audience(evt.team_id, named), "invoice", data)

    def conversation_deleted(self, evt: ConversationDeleted) -> None:
        """Gone: out of every list that had it, and the counters of whoever could see it move."""
        self._to(audience(evt.team_id, evt.named), "conversation_removed", {"id": evt.public_id})
        self._counters.mark(evt.team_id)
        for uid in evt.named or ():  # named users outside the team are not among the team's viewers
            self.jobs.submit(self._push_counters_to, uid)

    def _push_counters_to(self, user_id: int) -> None:
        with self.db.read_session() as s:
            user = s.get(User, user_id)
            if user is not None and user.active:
                self.emit("counters", counters(s, user), namespace=CONSOLE, to=user_room(user.id))

    def discussion_entry_posted(self, evt: DiscussionEntryPosted) -> None:
        """An internal discussion's entry: to its members (console/realtime/discussions.py), at once."""
        with self.db.read_session() as s:
            push = entry_push(s, evt)
        if push is not None:
            self._to(push[0], "discussion_entry", push[1])

    def mention_created(self, evt: MentionCreated) -> None:
        self._notify_one(evt.conversation_id, [evt.user_id],
                         lambda s, conv: mention_notice(s, conv, evt.user_id, evt.mention_id))

    def contact_block_changed(self, evt: ContactBlockChanged) -> None:
        """Its open conversations' summaries say so (the console asks to end them)."""
        with self.db.read_session() as s:
            for conv_id in s.scalars(select(Conversation.id).where(
                    Conversation.contact_id == evt.contact_id, Conversation.status == Status.OPEN.value)):
                self._summaries.mark(conv_id)

    def contact_presence_changed(self, evt: ContactPresenceChanged) -> None:
        self.jobs.submit(self._push_presence, evt.contact_id, evt.online)

    def bot_typing(self, evt: BotTyping) -> None:
        self.emit("typing", {"typing": evt.typing, "sender_type": "bot"}, namespace=WEBCHAT_NS,
                  to=contact_room(evt.contact_id))
        if evt.typing:  # a turn starts: it ends with a summary, whoever stored the customer's message
            with self._after_turn_lock:  # (a web process leaves it to the worker's turn: `answered_elsewhere`)
                self._after_turn.add(evt.conversation_id)
        else:  # the turn ended without a change of its own (nothing stored): push it now
            with self._after_turn_lock:
                waiting = evt.conversation_id in self._after_turn
                self._after_turn.discard(evt.conversation_id)
            if waiting:
                self._summaries.mark(evt.conversation_id)

    def agent_availability_changed(self, evt: AgentAvailabilityChanged) -> None:
        self.routing_jobs.submit(self._push_availability, evt)

    def internal_message_created(self, evt: InternalMessageCreated) -> None:
        """Internal chat: the message and each participant's unread figures, to their own rooms only."""
        for room, payload in message_pushes(self.db, evt):
            self.emit("internal_message", payload, namespace=CONSOLE, to=room)

    def internal_chat_changed(self, evt: InternalChatChanged) -> None:
        for room, payload in unread_pushes(self.db, evt):
            self.emit("internal_unread", payload, namespace=CONSOLE, to=room)

    # --- called by routing (console/runtime/routing_work.py) ------------------------------------

    def queue_moved(self, team_id: int, conversation_id: int) -> None:
        """A team's queue may have moved: its webchat customers hear their place. Routing calls this
        after it had its go at the queue, so customers hear where routing left them."""
        self._queues.mark(("team", team_id))
        self._queues.mark(("conv", conversation_id))

    def conversation_waiting(self, session: Session, conv: Conversation, position: int | None,
                             reason: str | None) -> None:
        """Still in the queue after routing had its go: the team hears of it."""
        self._to(audience(conv.team_id, named_users(session, [conv.id]).get(conv.id)), "notification",
                 {"kind": "queued", "conversation": brief(conv), "position": position, "reason": reason})

    # --- pushes -----------------------------------------------------------------------------------

    def _to(self, rooms: Iterable[str], event: str, payload: Any, namespace: str = CONSOLE) -> None:
        """One emit for all the rooms: the payload is encoded once (and published once through the
        message queue), and a socket in several of them hears it once."""
        heard = self._heard
        targets = list(rooms) if heard is None else [room for room in rooms if heard(namespace, room)]
        if targets:
            self.emit(event, payload, namespace=namespace, to=targets if len(targets) > 1 else targets[0])

    def _changed(self, evt: ConversationEvent, *, counters: bool = True) -> None:
        if self._after_turn:  # this push covers a summary waiting for the bot's turn
            with self._after_turn_lock:
                self._after_turn.discard(evt.conversation_id)
        self._summaries.mark(evt.conversation_id)
        if counters:
            self._counters.mark(evt.team_id)

    def _notify_one(self, conversation_id: int, user_ids: Iterable[int],
                    payload: Callable[[Session, Conversation], dict[str, Any]],
                    session: Session | None = None) -> None:
        """A notification to these agents' own rooms, at once: queued behind other work it would
        arrive late."""
        if session is None:
            with self.db.read_session() as s:
                self._notify_one(conversation_id, user_ids, payload, s)
            return
        conv = session.scalar(select(Conversation).options(joinedload(Conversation.contact),
                                                           joinedload(Conversation.team))
                              .where(Conversation.id == conversation_id))  # one statement: sent at once
        if conv is not None:
            self._to([user_room(uid) for uid in user_ids], "notification", payload(session, conv))

    def _push_message(self, evt: MessageCreated) -> bool:
        """The message to the consoles that see it (and a staff message to the customer's widget).
        Returns whether it has files (only then is there anything for `_files_to_visitor`).

        The customer's copy goes first: a customer waits on the bot's reply, and with several
        processes each emit is a publish that the web process holding the widget handles in turn
        (bench/README.md, issue 17). The consoles order messages by their ids and times anyway.

        A message the event carries as stored (`MessageCreated.stored`) goes out without a read-back,
        unless its conversation is restricted (its named users are then read, with the message)."""
        stored = evt.stored
        if stored is not None and not stored.restricted:
            self._push_read_message(evt, stored, message_shape(stored, stored.public_id, None, []),
                                    audience(evt.team_id, None))
            return False
        with self.db.read_session() as s:
            pushed = pushed_message(s, evt.message_id)
            if pushed is None:
                return False
            msg, payload = pushed
            rooms = audiences(s, [(evt.conversation_id, evt.team_id)],
                              restricted=[evt.conversation_id] if msg.restricted else [])
        self._push_read_message(evt, msg, payload, rooms[evt.conversation_id])
        return bool(msg.has_files)

    def _push_read_message(self, evt: MessageCreated, msg: Any, payload: dict[str, Any], rooms: list[str]) -> None:
        """`msg` (the push query's row, or what the event carries) to the customer's widget when it is
        a staff message on webchat, then `payload` to the consoles' `rooms`."""
        if not (msg.private or msg.sender_type == SenderType.CONTACT.value or msg.channel != WEBCHAT):
            # other channels send through their connectors' outbox
            self.emit("message", customer_message(
                id=msg.id, conversation_id=msg.public_id, sender_type=msg.sender_type, text=msg.text,
                created_at=iso(msg.created_at) or "", rich=msg.rich),
                namespace=WEBCHAT_NS, to=contact_room(evt.contact_id))
        self._to(rooms, "message", payload)

    def _files_to_visitor(self, evt: MessageCreated) -> None:
        """Files an agent sent on webchat reach the widget as links."""
        if self.links is None:
            return
        with self.db.read_session() as s:
            files = [{"filename": a.filename, "content_type": a.content_type, "size": a.size,
                      "url": self.links.visitor_url(a.public_id)}
                     for a in s.scalars(select(Attachment).where(Attachment.message_id == evt.message_id,
                                                                 Attachment.state == AttachmentState.READY.value)
                                        .order_by(Attachment.id))]
        if files:
            self.emit("files", {"id": evt.message_id, "files": files}, namespace=WEBCHAT_NS,
                      to=contact_room(evt.contact_id))

    def _no_console(self) -> bool:
        """Nobody on `/console` in this process, and no other process to hear it."""
        return self._heard is not None and not self._heard(CONSOLE, None)

    def _push_conversations(self, conversation_ids: set[int]) -> None:
        if self._no_console():
            return
        with self.db.read_session() as s:
            summaries = conversation_summaries(s, conversation_ids)
            rooms = audiences(s, [(c.id, c.team_id) for c in summaries],
                              restricted=[c.id for c in summaries if c.restricted])
        for summary in summaries:
            self._to(rooms[summary.id], "conversation", summary.payload)

    def _push_counters(self, team_ids: set[int]) -> None:
        """Counters are per user: each user who can see one of these teams, in their own room, once;
        counted for all of them together (models/conversations/inbox.py `counters_for`)."""
        if self._no_console():
            return
        with self.db.read_session() as s:
            users: dict[int, User] = {}
            for team_id in sorted(team_ids):
                users.update((u.id, u) for u in users_who_can_see(s, team_id) if u.id not in users)
            figures = counters_for(s, list(users.values()))
        for user_id in users:
            self.emit("counters", figures[user_id], namespace=CONSOLE, to=user_room(user_id))

    def _push_presence(self, contact_id: int, online: bool) -> None:
        """Heard wherever one of the contact's open conversations is (supervisors: always, unless all
        of them are restricted)."""
        with self.db.read_session() as s:
            rows = s.execute(select(Conversation.id, Conversation.team_id).where(
                Conversation.contact_id == contact_id, Conversation.status == Status.OPEN.value)).all()
            rooms = audiences(s, [(cid, team_id) for cid, team_id in rows])
        self._to(union(rooms.values()), "presence", {"contact_id": contact_id, "online": online})

    def _push_availability(self, evt: AgentAvailabilityChanged) -> None:
        payload = {"user_id": evt.user_id, "availability": evt.availability, "automatic": evt.automatic}
        self._to([user_room(evt.user_id), ALL_ROOM], "availability", payload)

    def _drop_from_lists(self, evt: ConversationRestricted) -> None:
        """Take the conversation out of the lists of everyone who may no longer see it."""
        with self.db.read_session() as s:
            conv = s.get(Conversation, evt.conversation_id)
            if conv is None or not conv.restricted:
                return
            allowed = set(evt.user_ids)
            for user in users_who_can_see(s, conv.team_id):
                if user.id not in allowed:
                    self.emit("conversation_removed", {"id": conv.public_id}, namespace=CONSOLE,
                              to=user_room(user.id))

    def _push_queues(self, keys: set[tuple[str, int]]) -> None:
        """Webchat customers: their place in the queue (`queue` on `/webchat`)."""
        now = utcnow()
        with self.db.read_session() as s:
            teams = {k for kind, k in keys if kind == "team"}
            convs = {k for kind, k in keys if kind == "conv"}
            seen: set[int] = set()
            for team_id in teams:
                positions = queue_positions(s, team_id)
                if not positions:
                    continue
                outlook = queue_outlook(s, team_id, now)
                for conv in s.scalars(select(Conversation).where(Conversation.id.in_(positions),
                                                                 Conversation.channel == Channel.WEBCHAT.value)):
                    seen.add(conv.id)
                    pos = positions[conv.id]
                    self._to_customer(conv, {"status": "waiting", "position": pos, **outlook.fields(pos),
                                             "agent": None})
            for conv in s.scalars(select(Conversation).options(
                    selectinload(Conversation.assignments).selectinload(Assignment.user))
                    .where(Conversation.id.in_(convs - seen), Conversation.channel == Channel.WEBCHAT.value)):
                self._to_customer(conv, queue_state(s, conv, now))

    def _to_customer(self, conv: Conversation, state: dict[str, Any]) -> None:
        self.emit("queue", {"conversation_id": conv.public_id, **state}, namespace=WEBCHAT_NS,
                  to=contact_room(conv.contact_id))
