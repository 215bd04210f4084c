"""The bot's answer on webchat is stored in two statements (models/conversations/bot_answers.py), beside
the ORM path every other answer takes: both must record the same facts, and the fast one must write
nothing when the pipeline's checks fail (a human took over, the message was handled already)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from bot.pipeline import BotPipeline
from bot.types import BotTurn, Decision, TurnContext
from models.contacts.identities import do_find_or_create_contact
from models.conversations.bot_answers import do_store_answer
from models.conversations.ingest import do_ingest_inbound
from models.conversations.rich import Button, Rich
from models.db import Database
from models.events import Event, MessageCreated
from models.schema.conversations import Conversation, Message, SenderType
from models.settings import Settings


class Scripted:
    """Answers each message with the next of its turns: a rephrase, then an intent with buttons."""

    name = "scripted"

    def __init__(self) -> None:
        self.turns = [("nlu_fallback", "Sorry, could you rephrase?", None),
                      ("opening_hours", "We open at 9.", {"buttons": [{"title": "Thanks", "payload": "/thanks"}]})]

    def turn(self, text: str, context: TurnContext) -> BotTurn:
        intent, reply, rich = self.turns.pop(0)
        buttons = tuple(Button(b["title"], b["payload"]) for b in rich["buttons"]) if rich else ()
        return BotTurn(Decision.ANSWER, (reply,), intent, 0.8, engine=self.name,
                       rich=(Rich(buttons=buttons),) if rich else ())


def _conversation(db: Database, channel: str, who: str, text: str) -> int:
    with db.transaction() as s:
        contact = do_find_or_create_contact(s, channel, who, "Visitor")
        return do_ingest_inbound(s, contact=contact, channel=channel, text=text).conversation.id


def _facts(db: Database, conv_id: int) -> dict[str, Any]:
    with db.session() as s:
        conv = s.get(Conversation, conv_id)
        assert conv is not None
        bots = s.scalars(select(Message).where(Message.conversation_id == conv_id,
                                               Message.sender_type == SenderType.BOT.value).order_by(Message.id)).all()
        last_customer = s.scalar(select(Message.id).where(Message.conversation_id == conv_id,
                                                          Message.sender_type == SenderType.CONTACT.value)
                                 .order_by(Message.id.desc()).limit(1))
        return {
            "cursor_at_last": conv.bot_cursor == last_customer, "fallbacks": conv.bot_fallbacks,
            "first_intent": conv.first_intent, "bot_first_at": conv.bot_first_at is not None,
            "activity_is_last_reply": conv.last_activity_at == bots[-1].created_at,
            "claim": (conv.bot_claim_token, conv.bot_claim_until),
            "replies": [(m.text, m.direction, m.private, m.bot_intent, m.bot_confidence, m.bot_decision,
                         m.bot_reason, m.rich, m.author_id) for m in bots],
        }


def test_webchat_and_sms_answers_record_the_same_facts(settings: Settings) -> None:
    """Webchat takes the two-statement path, SMS the ORM one (it goes through the outbox)."""
    facts = {}
    for channel, who in (("webchat", "v_1"), ("sms", "+15550100")):
        db = Database(settings.database_url)
        heard: list[Event] = []
        db.bus.subscribe(heard.append)
        pipeline = BotPipeline(db, [Scripted()])
        conv = _conversation(db, channel, who, "hmm")
        assert pipeline.process(conv) == 1
        _conversation(db, channel, who, "when do you open?")
        assert pipeline.process(conv) == 1
        facts[channel] = _facts(db, conv)
        created = [e for e in heard if isinstance(e, MessageCreated) and e.sender_type == SenderType.BOT.value]
        assert [(e.conversation_id, e.channel, e.private, e.human_owned) for e in created] == [
            (conv, channel, False, False)] * 2
    assert facts["webchat"] == facts["sms"]
    assert facts["webchat"]["fallbacks"] == 0 and facts["webchat"]["first_intent"] == "nlu_fallback"
    assert facts["webchat"]["claim"] == (None, None)
    assert facts["webchat"]["replies"][1][7] is not None  # the buttons kept


def test_the_fast_store_writes_nothing_when_a_check_fails(settings: Settings) -> None:
    db = Database(settings.database_url)
    conv_id = _conversation(db, "webchat", "v_2", "hello")
    with db.transaction() as s:
        conv = s.get(Conversation, conv_id)
        assert conv is not None
        conv.bot_claim_token = "t"
        message_id = s.scalar(select(Message.id).where(Message.conversation_id == conv_id))
        assert message_id is not None

    def store(token: str = "t") -> bool:
        with db.transaction() as s:
            return do_store_answer(s, conv_id, token=token, lease_s=30, message_id=message_id,
                                           replies=["hi"], rich=[None], intent="greet", confidence=0.9,
                                           decision="answer")

    assert store(token="not ours") is False  # the claim is another process's
    with db.transaction() as s:
        conv = s.get(Conversation, conv_id)
        assert conv is not None
        conv.owner = "human"
    assert store() is False  # a human took over
    with db.transaction() as s:
        conv = s.get(Conversation, conv_id)
        assert conv is not None
        conv.owner = "bot"
    assert store() is True
    assert store() is False  # answered already: the cursor is past it
    with db.session() as s:
        texts = s.scalars(select(Message.text).where(Message.conversation_id == conv_id,
                                                     Message.sender_type == SenderType.BOT.value)).all()
    assert texts == ["hi"]
