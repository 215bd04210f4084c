"""Answer first, escalate when needed: runs the bot on a conversation's new customer messages.

The pipeline is driven by a conversation id, not a message: it handles every customer message
after the conversation's `bot_cursor`, oldest first, one conversation at a time. A job that runs
twice, or late, or after a crash, therefore does the right thing (nothing answered twice, nothing
left behind). Engines run outside any database transaction; before storing a turn the pipeline
checks again that the bot still owns the conversation, so a human who took over meanwhile is
never talked over.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import Integer, Row, and_, bindparam, func, select
from sqlalchemy.orm import Session

from bot.metadata import answered_payload, turn_metadata
from bot.model_sync import active_version_column
from bot.types import BotTurn, Decision, Engine, HandoffReason, StageView, TurnContext
from models.contacts.opt_out import STOP_WORDS, keyword
from models.conversations import bot_claims
from models.conversations.bot_answers import FALLBACK_INTENT, do_store_answer
from models.conversations.handoff import do_handoff
from models.conversations.messages import do_send_bot_reply
from models.db import Database, pending_events, publish_on_commit
from models.events import BotTyping
from models.outbox.enqueue import PROVIDER_CHANNELS
from models.schema.contacts import Contact
from models.schema.conversations import Channel, Conversation, Message, Owner, SenderType, Status
from models.telemetry.logs import conversation as log_conversation
from models.telemetry.metrics import BOT_TURN, timed

log = logging.getLogger(__name__)

BOT_ERROR_REPLY = (
    "Sorry, something went wrong on my side. I'm connecting you with a member of our team; "
    "someone will reply here shortly."
)
# Handoffs that end the chain; any other handoff lets the next stage (e.g. the LLM agent) try.
FINAL_REASONS = frozenset({HandoffReason.CUSTOMER_ASKED, HandoffReason.BOT_ERROR, HandoffReason.POLICY})
HISTORY_TURNS = 10
EMBEDDED = "embedded"  # bot/embedded.py's engine name (not imported: it loads numpy and scikit-learn)
_NOT_CLAIMED = object()  # `_claim_next`: another process holds the conversation


@dataclass(frozen=True)
class _Pending:
    message_id: int
    text: str
    context: TurnContext
    contact_id: int
    reply_channel: str  # where the customer last wrote from when the message was picked up


@dataclass(frozen=True)
class Claimed:
    """A conversation claimed for the bot under `token` in a transaction that committed, with its
    next customer message to answer (`BotPipeline.claimed_with`, then `resume`)."""

    conversation_id: int
    token: str
    pending: _Pending


class BotPipeline:
    """`lease_s`: how long a claim on a conversation lasts without renewal (models/conversations/
    bot_claims.py) — the longest a conversation waits after the process running its turn died."""

    def __init__(self, db: Database, engines: Sequence[Engine], *, lease_s: float = 30.0) -> None:
        if not engines:
            raise ValueError("the bot pipeline needs at least one engine")
        self.db = db
        self.engines = list(engines)
        self.lease_s = lease_s
        self._held: dict[int, str] = {}  # conversation id -> lease token, while this process runs it
        self._held_lock = threading.Lock()
        self._stopping = threading.Event()
        self._preparing: threading.Thread | None = None  # `prepare_soon`'s

    def process(self, conversation_id: int) -> int:
        """Handle every unhandled customer message of one conversation. Returns how many were answered.

        Safe to call from any process at any time: without the conversation's claim it does nothing
        (the holder looks again as it releases, under the conversation's lock, so a message that came
        meanwhile is not left behind). The claim rides in the transactions the pipeline makes anyway
        — taken with the first look for work, renewed with each stored turn, given back with the look
        that finds none — so durable turns cost no extra commits (SQLite has one writer at a time)."""
        if self._stopping.is_set():
            return 0
        return self._drain(conversation_id, secrets.token_hex(16))[1]

    def _drain(self, conversation_id: int, token: str) -> tuple[bool, int]:
        """Claim, answer each pending message, release. Returns (claimed, answered)."""
        try:
            pending = self._claim_next(conversation_id, token)
        except BaseException:
            self._forget(conversation_id, token)  # its transaction rolled back: nothing is held
            raise
        if pending is _NOT_CLAIMED:
            return False, 0
        return True, self._answer_from(conversation_id, token, pending)

    def claimed_with(self, session: Session, conv: Row[Any], token: str) -> Claimed | None:
        """The turn a customer message's transaction claimed the conversation for (`conv`: what the
        claim returned, models/conversations/webchat_ingest.py), read in that transaction: `resume` it
        once it commits. None: nothing to answer (the claim is given back in this transaction)."""
        pending = self._pending_in(session, conv, token)
        return Claimed(conv.id, token, pending) if pending is not None else None

    def resume(self, claimed: Claimed) -> int:
        """Answer from a claim a committed transaction took (`claimed_with`), as `process` does from
        its own: the claim rides in the customer message's commit, one transaction fewer per message."""
        with self._held_lock:
            self._held[claimed.conversation_id] = claimed.token
        if self._stopping.is_set():
            self._release(claimed.conversation_id, claimed.token)
            return 0
        return self._answer_from(claimed.conversation_id, claimed.token, claimed.pending)

    def _answer_from(self, conversation_id: int, token: str, pending: _Pending | object | None) -> int:
        """Answer each pending message under the claim held with `token`, then release. Returns how
        many were answered.

        The claim is given back only after a turn's events were published: the next holder's reply
        can then never reach a browser before this one's (bench/README.md, issue 17)."""
        handled = 0
        try:
            while isinstance(pending, _Pending):
                current = pending
                self.db.bus.publish(BotTyping(conversation_id, current.contact_id, True))
                try:
                    with log_conversation(current.context.conversation_id):
                        turn = _OPTED_OUT if _opts_out(current) else self.run_engines(current.text, current.context)
                        stored = self._store(conversation_id, current, turn, token)
                finally:
                    self.db.bus.publish(BotTyping(conversation_id, current.contact_id, False))
                handled += int(stored)
                if self._stopping.is_set():
                    break
                pending = self._release_or_next(conversation_id, token)
            return handled
        finally:
            with self._held_lock:
                still_held = self._held.get(conversation_id) == token
            if still_held:  # stopping, or an error: give it back now rather than when the lease ends
                self._release(conversation_id, token)

    def _forget(self, conversation_id: int, token: str) -> None:
        with self._held_lock:
            if self._held.get(conversation_id) == token:
                del self._held[conversation_id]

    def _release(self, conversation_id: int, token: str) -> None:
        self._forget(conversation_id, token)
        with self.db.transaction() as session:
            bot_claims.release(session, conversation_id, token)

    def renew_held(self) -> int:
        """Extend the leases of the conversations this process is running (a turn may take longer
        than a lease: an LLM, a slow Rasa). Called by the worker's heartbeat. Returns how many."""
        with self._held_lock:
            held = dict(self._held)
        renewed = 0
        for conversation_id, token in held.items():
            with self.db.transaction() as session:
                renewed += bot_claims.renew(session, conversation_id, token, lease_s=self.lease_s)
        return renewed

    @property
    def answers_at_once(self) -> bool:
        """Every stage answers in this process in milliseconds (the embedded engine; no Rasa, LLM or
        http engine that may take seconds): the consoles' summary of a customer message can wait for
        the bot's answer and go out once with it (console/realtime/listener.py)."""
        return all(getattr(engine, "answers_in_process", False) for engine in self.engines)

    def ready_in_message(self, claimed: Claimed) -> bool:
        """Whether `answer_in` may run `claimed`'s turn now: every engine has in memory what it needs
        (`ready_for`; the embedded engine's model is loaded), nothing to load while the write lock is held."""
        context = claimed.pending.context
        return all(getattr(engine, "ready_for", None) is None or engine.ready_for(context)  # type: ignore[attr-defined]
                   for engine in self.engines)

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def stop(self) -> None:
        """Take no further turns: a turn under way is stored, then its claim is released."""
        self._stopping.set()

    def release_held(self) -> list[int]:
        """Give back every claim still held (a turn outlived the shutdown grace): another process
        takes the conversation at once instead of when the lease would have expired."""
        with self._held_lock:
            held, self._held = dict(self._held), {}
        for conversation_id, token in held.items():
            with self.db.transaction() as session:
                bot_claims.release(session, conversation_id, token)
        return sorted(held)

    def run_engines(self, text: str, context: TurnContext) -> BotTurn:
        """Each stage in order; a non-final handoff passes the message to the next stage. A handoff
        carries every stage's view (`stages`) for the agent taking over."""
        turn: BotTurn | None = None
        views: list[StageView] = []
        for engine in self.engines:
            started = time.perf_counter()
            try:
                with timed(BOT_TURN, getattr(engine, "name", type(engine).__name__)):
                    turn = engine.turn(text, context)
            except Exception as exc:  # any engine failure must end with a person, never silence
                log.exception("bot engine %s failed", getattr(engine, "name", engine))
                turn = _error_turn(engine, exc)
                views.append(StageView.of(turn))
                return self._handoff_summary(text, context, turn, views)
            log.debug("engine %s took %.1f ms", engine.name, (time.perf_counter() - started) * 1000)
            views.extend(turn.stages or (StageView.of(turn),))
            if turn.decision is Decision.ANSWER:
                return turn
            if turn.reason in FINAL_REASONS:
                break
        assert turn is not None
        return self._handoff_summary(text, context, turn, views)

    def _handoff_summary(self, text: str, context: TurnContext, turn: BotTurn, views: list[StageView]) -> BotTurn:
        """Attach every stage's view; an engine that writes summaries (the LLM stage) words the final one."""
        summary = turn.summary
        for engine in self.engines:
            summarize = getattr(engine, "summarize_handoff", None)
            if summarize is not None:
                try:
                    summary = summarize(text, context, turn, tuple(views)) or summary
                except Exception:  # a summary is a nicety: the handoff itself must go through
                    log.exception("handoff summary by %s failed", engine.name)
                break
        return replace(turn, stages=tuple(views), summary=summary)

    def _claim_next(self, conversation_id: int, token: str) -> _Pending | object | None:
        """Claim the conversation and find its next customer message to answer, in one transaction
        (`_NOT_CLAIMED`: another process holds it; None: nothing to do, the claim given back)."""
        with self.db.transaction() as session:
            conv = bot_claims.claim_returning(session, conversation_id, lease_s=self.lease_s, token=token)
            if conv is None:
                return _NOT_CLAIMED
            with self._held_lock:
                self._held[conversation_id] = token
            return self._pending_in(session, conv, token)

    def _release_or_next(self, conversation_id: int, token: str) -> _Pending | None:
        """Give the claim back and look again in the same transaction, behind the release's lock: a
        message committed before it is found here (and the claim kept), one committed after it finds
        the claim free when its own wake-up comes."""
        with self.db.transaction() as session:
            conv = bot_claims.release_returning(session, conversation_id, token)
            self._forget(conversation_id, token)
            if conv is None:
                return None  # our lease expired and another process has it now
            pending = self._pending_in(session, conv, token)
            if pending is not None:  # more to answer: keep it
                bot_claims.hold(session, conversation_id, token, lease_s=self.lease_s)
                with self._held_lock:
                    self._held[conversation_id] = token
            return pending

    def _pending_in(self, session: Session, conv: Row[Any], token: str) -> _Pending | None:
        """The next customer message after the cursor, with the turns before it, in one query; with
        none (or a human owning the conversation now) the claim is given back in this transaction.
        `conv`: what `bot_claims.claim_returning` (or `release_returning`) read of the conversation."""
        rows = _next_with_history(session, conv.id, conv.bot_cursor)
        nxt = rows[0] if rows and rows[0].id > conv.bot_cursor else None
        if nxt is None or conv.owner != Owner.BOT.value or conv.status != Status.OPEN.value:
            if nxt is not None:
                # Mechanically silent while a human owns it: skip past everything said so far.
                bot_claims.pass_over(session, conv.id, _last_customer_message_id(session, conv.id))
            elif conv.bot_claim_token is not None:
                bot_claims.hold(session, conv.id, None, lease_s=self.lease_s)
            self._forget(conv.id, token)
            return None
        channel = nxt.reply_channel or conv.channel
        metadata = turn_metadata(channel=channel, conversation_id=conv.public_id, contact_id=conv.contact_id,
                                 contact_name=nxt.contact_name,
                                 attributes=conv.custom_attributes or getattr(nxt, "contact_attributes", None),
                                 page_url=conv.page_url)
        context = TurnContext(conversation_id=conv.public_id, consecutive_fallbacks=conv.bot_fallbacks,
                              history=tuple((r.sender_type, r.text) for r in reversed(rows[1:])),
                              attributes=dict(conv.custom_attributes or {}), page_url=conv.page_url,
                              metadata=metadata, active_models={EMBEDDED: nxt.active_embedded})
        # A button answered ("2", a chip's title) reaches the engine as the button's payload.
        text = answered_payload(nxt.text, [(r.sender_type, r.rich) for r in rows[1:]]) or nxt.text
        return _Pending(nxt.id, text, context, conv.contact_id, channel)

    def answer_in(self, session: Session, claimed: Claimed, *, release: bool = True) -> bool:
        """Answer `claimed` in the transaction that stored its customer message and took the claim
        (console/sockets.py), and give the claim back in it: one commit for the message, the answer and
        the release instead of three, and one hand-over of SQLite's write lock instead of three. Only
        for engines that answer in this process in milliseconds (`answers_at_once`): the transaction
        waits for the turn. No typing frames: the answer goes out with the message (the widget's
        `message` hides its dots). Returns whether something was stored; an error raised here rolls
        the whole transaction back (the caller stores the message again and lets `resume` answer it).

        `release=False` (`parley web`, any database): the claim outlives the commit and `finish_answered`
        gives it back once the transaction's events are pushed, so that no other process's reply in this
        conversation reaches a browser before this one (what SQLite's write lock does in one process)."""
        conversation_id, current = claimed.conversation_id, claimed.pending
        before = pending_events(session)
        with log_conversation(current.context.conversation_id):
            turn = _OPTED_OUT if _opts_out(current) else self.run_engines(current.text, current.context)
            stored = self._store_in(session, conversation_id, current, turn, claimed.token, release=release)
        if pending_events(session) == before:  # nothing of its own to push (no words, or nothing stored):
            # end the turn for the consoles' summary of the message (console/realtime/listener.py)
            publish_on_commit(session, BotTyping(conversation_id, current.contact_id, False))
        return stored

    def finish_answered(self, claimed: Claimed) -> int:
        """After `answer_in(release=False)` committed and its events were pushed: give the claim back,
        looking again behind the release's lock (`_release_or_next`): a customer message stored while
        the claim was held (its transaction could not take it) is answered here, under the same claim.
        Returns how many more were answered."""
        with self._held_lock:
            self._held[claimed.conversation_id] = claimed.token
        pending = self._release_or_next(claimed.conversation_id, claimed.token)
        return self._answer_from(claimed.conversation_id, claimed.token, pending)

    def prepare(self, context: TurnContext | None = None) -> None:
        """Load what the engines need to answer `context` (None: the active model) so that a later
        `ready_in_message` holds: the web role, at start and after a retraining. Slow (seconds)."""
        for engine in self.engines:
            load = getattr(engine, "load_for", None)
            if load is not None:
                load(context)

    def prepare_soon(self, context: TurnContext | None = None) -> None:
        """`prepare` on a thread of its own, one at a time (a web process never waits for a model)."""
        def run() -> None:
            try:
                self.prepare(context)
            except Exception:  # the workers answer meanwhile; the next message tries again
                log.exception("loading the bot's model in this process failed")

        with self._held_lock:  # (a thread, not a flag: a fork leaves no thread alive behind it)
            if self._preparing is not None and self._preparing.is_alive():
                return
            self._preparing = threading.Thread(target=run, name="parley-bot-prepare", daemon=True)
            self._preparing.start()

    def _store(self, conversation_id: int, answered: _Pending, turn: BotTurn, token: str) -> bool:
        with self.db.transaction() as session:
            return self._store_in(session, conversation_id, answered, turn, token)

    def _store_in(self, session: Session, conversation_id: int, answered: _Pending, turn: BotTurn, token: str,
                  *, release: bool = False) -> bool:
        """Store `turn`, renewing the claim held with `token` (`release`: giving it back, in the same
        statement on the common path; `answer_in`, where nothing can come after the message answered)."""
        message_id = answered.message_id
        # SMS/WhatsApp too when there is something to send (an opt-out's silence takes the ORM path,
        # which moves the cursor and leaves the conversation's activity alone).
        if (turn.decision is Decision.ANSWER
                and (answered.reply_channel == Channel.WEBCHAT.value
                     or (answered.reply_channel in PROVIDER_CHANNELS and turn.replies))
                and do_store_answer(session, conversation_id, token=token, lease_s=self.lease_s,
                                    message_id=message_id, replies=turn.replies,
                                    rich=[turn.rich_of(i).to_json() for i in range(len(turn.replies))],
                                    intent=turn.intent, confidence=turn.confidence,
                                    decision=turn.decision.value, channel=answered.reply_channel,
                                    release=release)):
            return True  # the common case, in two statements (four with the outbox row), bot_answers.py
        stored = self._store_orm(session, conversation_id, answered, turn, token)
        if release:
            bot_claims.release(session, conversation_id, token)
        return stored

    def _store_orm(self, session: Session, conversation_id: int, answered: _Pending, turn: BotTurn,
                   token: str) -> bool:
        message_id = answered.message_id
        # The lease renewed and the conversation read in one statement, which also locks its row
        # (PostgreSQL). Lost meanwhile: exactly-once still rests on the cursor, under the lock.
        conv = bot_claims.renew_returning(session, conversation_id, token, lease_s=self.lease_s)
        if conv is None:
            conv = session.get(Conversation, conversation_id, with_for_update=True)
            if conv is None:
                return False
        if conv.bot_cursor >= message_id:
            return False  # another worker handled it meanwhile
        conv.bot_cursor = message_id
        if conv.owner != Owner.BOT.value or conv.status != Status.OPEN.value:
            return False  # a human took over while the bot was thinking
        for index, reply in enumerate(turn.replies):
            do_send_bot_reply(session, conv, reply, intent=turn.intent, confidence=turn.confidence,
                              decision=turn.decision.value,
                              reason=turn.reason.value if turn.reason else None,
                              channel=answered.reply_channel, rich=turn.rich_of(index).to_json())
        if turn.decision is Decision.HANDOFF:
            assert turn.reason is not None
            do_handoff(session, conv, reason=turn.reason.value, intent=turn.intent,
                       confidence=turn.confidence,
                       ranking=[{"name": s.name, "confidence": s.confidence} for s in turn.ranking],
                       summary=turn.summary, engine=turn.engine, trigger_message_id=message_id,
                       stages=[view.to_json() for view in turn.stages])
        elif turn.intent == FALLBACK_INTENT:
            conv.bot_fallbacks += 1
        else:
            conv.bot_fallbacks = 0
        return True

    def pending_conversation_ids(self, *, claimable_only: bool = False, limit: int = 100) -> list[int]:
        """Bot-owned open conversations with customer messages the bot has not handled (after a
        crash, or committed by a process that does not run turns); `claimable_only`: nobody runs them."""
        with self.db.read_session() as session:
            return bot_claims.unanswered_ids(session, limit=limit, claimable_only=claimable_only)


def _last_customer_message_id(session: Session, conversation_id: int) -> int:
    return session.scalar(
        select(func.coalesce(func.max(Message.id), 0)).where(
            Message.conversation_id == conversation_id, Message.sender_type == SenderType.CONTACT.value)
    ) or 0


def _next_with_history(session: Session, conversation_id: int, cursor: int) -> list[Any]:
    """The first customer message after the cursor, then the `HISTORY_TURNS` public messages before
    it, newest first (empty when there is nothing after the cursor), each row also saying where the
    customer last wrote from (the reply's channel) and who the contact is (the bot's metadata): one
    query for all of it."""
    return list(session.execute(_NEXT_WITH_HISTORY, {"conversation_id": conversation_id, "cursor": cursor}).all())


def _next_with_history_query() -> Any:
    """On the tables, not the entities: a select of ORM attributes goes through the ORM's compile and
    result machinery even for plain columns (bench/per_message.py)."""
    m, ct, cv = Message.__table__, Contact.__table__, Conversation.__table__
    conv_id, cursor = bindparam("conversation_id", type_=Integer), bindparam("cursor", type_=Integer)
    customer = and_(m.c.conversation_id == conv_id, m.c.sender_type == SenderType.CONTACT.value)
    nxt = select(func.min(m.c.id)).where(customer, m.c.id > cursor).scalar_subquery()
    latest = m.alias()
    reply_channel = (select(latest.c.channel)
                     .where(latest.c.conversation_id == conv_id, latest.c.sender_type == SenderType.CONTACT.value)
                     .order_by(latest.c.id.desc()).limit(1).scalar_subquery())
    contact = (select(ct.c.name).select_from(ct.join(cv, cv.c.contact_id == ct.c.id))
               .where(cv.c.id == conv_id).scalar_subquery())
    # Contacts' custom attributes, where the schema has them (they go to the bot as metadata).
    extra = [select(ct.c[name]).select_from(ct.join(cv, cv.c.contact_id == ct.c.id))
             .where(cv.c.id == conv_id).scalar_subquery().label("contact_attributes")
             for name in ("attributes", "custom_attributes") if name in ct.c][:1]
    # The embedded engine's active model as the database names it: the engine follows it without a
    # query of its own per turn (bot/model_sync.py `ModelFollower.follow`).
    active = active_version_column(EMBEDDED).label("active_embedded")
    return (select(m.c.id, m.c.sender_type, m.c.text, m.c.rich, reply_channel.label("reply_channel"),
                   contact.label("contact_name"), active, *extra)
            .where(m.c.conversation_id == conv_id, m.c.id <= nxt, m.c.private.is_(False))
            .order_by(m.c.id.desc()).limit(HISTORY_TURNS + 1))


_NEXT_WITH_HISTORY = _next_with_history_query()  # built once: statements cost CPU to build


# An SMS STOP is the customer leaving, not a question: the carrier (Twilio) confirms it and refuses any
# further message to the number, so the bot says nothing. The message stays in the conversation for agents.
_OPTED_OUT = BotTurn(decision=Decision.ANSWER, replies=(), intent="opt_out", confidence=1.0, engine="policy")


def _opts_out(pending: _Pending) -> bool:
    return pending.reply_channel == "sms" and keyword(pending.text) in STOP_WORDS


def _error_turn(engine: Engine, exc: Exception) -> BotTurn:
    return BotTurn(decision=Decision.HANDOFF, replies=(BOT_ERROR_REPLY,), intent=None, confidence=0.0,
                   reason=HandoffReason.BOT_ERROR, engine=getattr(engine, "name", "unknown"),
                   summary=f"The bot engine failed ({type(exc).__name__}); no answer was given.")
