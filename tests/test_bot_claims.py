"""Bot turns as durable work inside one test process: each `BotPipeline` here stands for a process
(its own pipeline over the same database), as in production several workers share one database."""

from __future__ import annotations

import secrets
import threading
import time
from datetime import timedelta

from sqlalchemy import select, update

from bot.pipeline import BotPipeline, Claimed
from bot.types import BotTurn, Decision, TurnContext
from console.runtime.bot_turns import BotTurns
from models.contacts.identities import do_find_or_create_contact
from models.conversations import bot_claims
from models.conversations.ingest import do_ingest_inbound, do_set_presence
from models.conversations.webchat_ingest import do_ingest_webchat_text
from models.db import Database
from models.schema.base import utcnow
from models.schema.conversations import Conversation, Message, SenderType
from models.settings import Settings
from tests.support.engines import RuleEngine


class GatedEngine:
    """Answers like the rule engine, but each turn waits until the test opens the gate."""

    name = "gated"

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.gate = threading.Event()
        self.turns = 0

    def turn(self, text: str, context: TurnContext) -> BotTurn:
        self.turns += 1
        self.entered.set()
        assert self.gate.wait(20), "the test never opened the gate"
        return BotTurn(Decision.ANSWER, (f"answer to {text}",), "order_status", 0.9, engine=self.name)


def _customer_says(db: Database, text: str, who: str = "v_1") -> int:
    with db.transaction() as s:
        contact = do_find_or_create_contact(s, "webchat", who, "Visitor")
        return do_ingest_inbound(s, contact=contact, channel="webchat", text=text).conversation.id


def _bot_replies(db: Database, conversation_id: int) -> list[str]:
    with db.session() as s:
        return list(s.scalars(select(Message.text).where(Message.conversation_id == conversation_id,
                                                         Message.sender_type == SenderType.BOT.value)
                              .order_by(Message.id)))


def _expire_claim(db: Database, conversation_id: int) -> None:
    with db.transaction() as s:
        s.execute(update(Conversation).where(Conversation.id == conversation_id)
                  .values(bot_claim_until=utcnow() - timedelta(seconds=1)))


def _process(settings: Settings, engine: object, lease_s: float = 30.0) -> BotPipeline:
    return BotPipeline(Database(settings.database_url), [engine], lease_s=lease_s)  # type: ignore[list-item]


def test_a_conversation_claimed_by_one_process_is_left_alone_by_another(settings: Settings) -> None:
    a, b = _process(settings, GatedEngine()), _process(settings, RuleEngine())
    conv = _customer_says(a.db, "where is my order")
    runner = threading.Thread(target=a.process, args=(conv,))
    runner.start()
    try:
        assert a.engines[0].entered.wait(10)  # type: ignore[attr-defined]
        assert b.process(conv) == 0  # a holds the claim: b does nothing, answers nothing
        assert b.pending_conversation_ids(claimable_only=True) == []
        assert b.pending_conversation_ids() == [conv]
    finally:
        a.engines[0].gate.set()  # type: ignore[attr-defined]
        runner.join(10)
    assert _bot_replies(a.db, conv) == ["answer to where is my order"]
    assert b.pending_conversation_ids() == []


def test_a_message_that_arrives_while_another_process_holds_the_claim_is_answered(settings: Settings) -> None:
    """The holder looks again after releasing: nothing waits for the next sweep."""
    engine = GatedEngine()
    a, b = _process(settings, engine), _process(settings, RuleEngine())
    conv = _customer_says(a.db, "first")
    runner = threading.Thread(target=a.process, args=(conv,))
    runner.start()
    assert engine.entered.wait(10)
    _customer_says(a.db, "second")
    assert b.process(conv) == 0  # the wake-up for "second" reached a process that could not claim
    engine.gate.set()
    runner.join(10)
    assert _bot_replies(a.db, conv) == ["answer to first", "answer to second"]


def test_a_dead_process_s_claim_expires_and_the_turn_is_answered_once(settings: Settings) -> None:
    dead, alive = _process(settings, RuleEngine(), lease_s=30), _process(settings, RuleEngine())
    conv = _customer_says(dead.db, "hi")
    with dead.db.transaction() as s:  # it claimed, then was killed before answering
        assert bot_claims.claim(s, conv, lease_s=30) is not None
    assert alive.process(conv) == 0
    with alive.db.session() as s:
        assert bot_claims.unanswered_ids(s) == []  # nobody may take it yet ...
        assert bot_claims.unanswered_ids(s, now=utcnow() + timedelta(seconds=31)) == [conv]  # ... later, yes
    _expire_claim(alive.db, conv)
    assert alive.process(conv) == 1
    assert alive.process(conv) == 0
    assert _bot_replies(alive.db, conv) == ["Hello! How can I help?"]


def test_a_process_that_lost_its_claim_stores_nothing_twice(settings: Settings) -> None:
    """A worker stalled past its lease (a long GC pause, a frozen VM) and another took over: when the
    first wakes up its answer is dropped, the customer hears one answer."""
    engine = GatedEngine()
    slow, other = _process(settings, engine), _process(settings, RuleEngine())
    conv = _customer_says(slow.db, "hello")
    runner = threading.Thread(target=slow.process, args=(conv,))
    runner.start()
    assert engine.entered.wait(10)
    _expire_claim(other.db, conv)  # the lease ran out (nobody renewed it)
    assert other.process(conv) == 1
    engine.gate.set()
    runner.join(10)
    assert _bot_replies(other.db, conv) == ["Hello! How can I help?"]


def test_the_worker_sweep_answers_what_was_committed_without_a_wake_up(settings: Settings) -> None:
    pipeline = _process(settings, RuleEngine())
    conv = _customer_says(pipeline.db, "hi")  # committed by a process that died before waking anyone
    turns = BotTurns(pipeline, concurrency=2, poll_s=0.05)
    turns.start()
    try:
        deadline = time.monotonic() + 10
        while not _bot_replies(pipeline.db, conv) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        assert turns.stop(grace_s=5) == []
    assert _bot_replies(pipeline.db, conv) == ["Hello! How can I help?"]


def test_stopping_mid_turn_gives_the_claim_back_for_another_process(settings: Settings) -> None:
    engine = GatedEngine()
    leaving, staying = _process(settings, engine), _process(settings, RuleEngine())
    conv = _customer_says(leaving.db, "where is my order")
    turns = BotTurns(leaving, concurrency=1, poll_s=0.05)
    turns.start()
    assert engine.entered.wait(10)
    assert turns.stop(grace_s=0.2) == [conv]  # the turn outlived the grace: released, not stranded
    assert staying.pending_conversation_ids(claimable_only=True) == [conv]
    assert staying.process(conv) == 1
    engine.gate.set()  # the abandoned turn ends: its answer is not stored
    for thread in turns._threads:
        thread.join(5)
    assert _bot_replies(staying.db, conv) == ["Your order ships in 3-5 days."]


def _customer_says_with_claim(pipeline: BotPipeline, text: str, who: str = "v_1") -> Claimed | None:
    """As the webchat socket handler of a process that runs bot turns: the message, and the bot's claim
    in the same transaction (console/sockets.py)."""
    token = secrets.token_hex(16)
    with pipeline.db.transaction() as s:
        stored = do_ingest_webchat_text(s, who, text, None, claim_token=token, lease_s=pipeline.lease_s)
        assert stored is not None  # the steady state: an online contact's open conversation
        return pipeline.claimed_with(s, stored.claimed, token) if stored.claimed is not None else None


def _online(db: Database, who: str = "v_1") -> None:
    with db.transaction() as s:
        contact = do_find_or_create_contact(s, "webchat", who, "Visitor")
        do_set_presence(s, contact, True)


def test_a_claim_taken_with_the_customer_s_message_is_answered_once_and_given_back(settings: Settings) -> None:
    a, b = _process(settings, RuleEngine()), _process(settings, RuleEngine())
    conv = _customer_says(a.db, "hi")
    _online(a.db)
    assert a.process(conv) == 1
    claimed = _customer_says_with_claim(a, "where is my order")
    assert claimed is not None and claimed.conversation_id == conv
    assert b.process(conv) == 0  # committed with the message: another process's wake-up finds it held
    assert a.resume(claimed) == 1
    assert len(_bot_replies(a.db, conv)) == 2
    with a.db.session() as s:
        assert s.scalar(select(Conversation.bot_claim_token).where(Conversation.id == conv)) is None
    assert b.process(conv) == 0 and len(_bot_replies(a.db, conv)) == 2  # nothing answered twice


def test_no_claim_with_the_message_while_another_process_holds_it_or_a_human_owns_it(settings: Settings) -> None:
    engine = GatedEngine()
    a, b = _process(settings, engine), _process(settings, RuleEngine())
    conv = _customer_says(a.db, "first")
    _online(a.db)
    runner = threading.Thread(target=a.process, args=(conv,))
    runner.start()
    assert engine.entered.wait(10)
    assert _customer_says_with_claim(b, "second") is None  # a holds it: its look after releasing finds it
    engine.gate.set()
    runner.join(10)
    assert _bot_replies(a.db, conv) == ["answer to first", "answer to second"]

    with a.db.transaction() as s:
        s.execute(update(Conversation).where(Conversation.id == conv).values(owner="human"))
    assert _customer_says_with_claim(b, "a person please") is None  # the bot is silent: nothing to claim
    with a.db.session() as s:
        assert s.scalar(select(Conversation.bot_claim_token).where(Conversation.id == conv)) is None


def test_an_expired_claim_is_taken_with_the_customer_s_message(settings: Settings) -> None:
    dead, alive = _process(settings, RuleEngine()), _process(settings, RuleEngine())
    conv = _customer_says(dead.db, "hi")
    _online(dead.db)
    with dead.db.transaction() as s:  # it claimed, then was killed before answering
        assert bot_claims.claim(s, conv, lease_s=30) is not None
    _expire_claim(dead.db, conv)
    claimed = _customer_says_with_claim(alive, "and another thing")
    assert claimed is not None
    assert claimed.pending.text == "hi"  # the oldest unanswered first; the second follows in the same run
    assert alive.resume(claimed) == 2


def test_stopping_gives_back_claims_taken_with_messages_still_queued(settings: Settings) -> None:
    engine = GatedEngine()
    leaving, staying = _process(settings, engine), _process(settings, RuleEngine())
    busy = _customer_says(leaving.db, "first", who="v_1")
    waiting = _customer_says(leaving.db, "hello", who="v_2")
    _online(leaving.db, "v_2")
    turns = BotTurns(leaving, concurrency=1, poll_s=60)
    turns.start()
    turns.notify(busy)
    assert engine.entered.wait(10)  # the only bot thread is busy
    with leaving.db.transaction() as s:  # v_2's first message is still unanswered: answer both
        s.execute(update(Conversation).where(Conversation.id == waiting).values(bot_cursor=0))
    claimed = _customer_says_with_claim(leaving, "where is my order", who="v_2")
    assert claimed is not None and claimed.conversation_id == waiting
    turns.resume(claimed)  # queued behind the busy turn
    turns.stop(grace_s=0.2)
    assert staying.process(waiting) == 2  # given back at shutdown: not stranded until its lease ends
    engine.gate.set()
    for thread in turns._threads:
        thread.join(5)
