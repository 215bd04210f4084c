"""The bot's answer, stored in two statements on webchat (four on SMS and WhatsApp, with its outbox row):
the common case of every bot turn.

`do_send_bot_reply` (models/conversations/messages.py) stores a reply through the ORM: the
conversation loaded as an entity, the message flushed by the unit of work, the conversation's changes in
a second UPDATE. For the answer the bot gives on webchat while it holds the conversation's claim — most
customer messages — that cost several times the statements themselves (bench/per_message.py). Here one
conditional `UPDATE … RETURNING` checks what the pipeline checks (the claim is ours, the message is after
the cursor, the bot still owns the open conversation) and writes what `do_send_bot_reply` and the
pipeline write (lease, cursor, activity, the reports' facts, the fallback count); one INSERT per reply
follows, and on SMS/WhatsApp its outbox row (`do_enqueue_reply`: the route and the address in one look,
then the row). Nothing matched: nothing written, and the caller takes the ORM path, which tells the cases
apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import Float, Integer, String, Table, bindparam, case, func, insert, update
from sqlalchemy.orm import Session

from models.conversations.messages import _outbound_status
from models.db import publish_on_commit
from models.events import MessageCreated, StoredMessage
from models.outbox.enqueue import do_enqueue_reply
from models.schema.base import utcnow
from models.schema.conversations import (
    Channel,
    Conversation,
    Direction,
    Message,
    Owner,
    SenderType,
    Status,
)

_C: Table = Conversation.__table__  # type: ignore[assignment]  # a declarative class's table
_M: Table = Message.__table__  # type: ignore[assignment]
FALLBACK_INTENT = "nlu_fallback"  # the intent of "please rephrase" (the repeated-fallback policy counts it)

_NOW = bindparam("now", type_=_C.c.last_activity_at.type)
_INTENT = bindparam("intent", type_=String)
_ANSWER = (
    update(_C)
    .where(_C.c.id == bindparam("conversation_id", type_=Integer),
           _C.c.bot_claim_token == bindparam("token", type_=String),
           _C.c.bot_cursor < bindparam("message_id", type_=Integer),
           _C.c.owner == Owner.BOT.value, _C.c.status == Status.OPEN.value)
    .values(bot_claim_until=bindparam("until", type_=_C.c.bot_claim_until.type),
            bot_cursor=bindparam("message_id", type_=Integer),
            last_activity_at=_NOW,
            bot_first_at=func.coalesce(_C.c.bot_first_at, _NOW),
            first_intent=func.coalesce(_C.c.first_intent, _INTENT),
            bot_fallbacks=case((bindparam("fallback", type_=Integer) == 1, _C.c.bot_fallbacks + 1), else_=0))
    .returning(_C.c.team_id, _C.c.contact_id, _C.c.public_id, _C.c.restricted))
# The same, giving the claim back instead of renewing it: the answer stored in the transaction that
# took the claim with the customer's message (bot/pipeline.py `BotPipeline.answer_in`).
_ANSWER_RELEASING = _ANSWER.values(bot_claim_token=None, bot_claim_until=None)
_REPLY = insert(_M).values(
    conversation_id=bindparam("conversation_id", type_=Integer), direction=Direction.OUT.value,
    sender_type=SenderType.BOT.value, text=bindparam("text", type_=_M.c.text.type),
    channel=bindparam("channel", type_=String), delivery_status=bindparam("status", type_=String),
    created_at=bindparam("now", type_=_M.c.created_at.type), private=False,
    bot_intent=bindparam("intent", type_=String), bot_confidence=bindparam("confidence", type_=Float),
    bot_decision=bindparam("decision", type_=String), bot_reason=None,
    rich=bindparam("rich", type_=_M.c.rich.type)).returning(_M.c.id)


def do_store_answer(session: Session, conversation_id: int, *, token: str, lease_s: float,
                    message_id: int, replies: Sequence[str], rich: Sequence[dict[str, Any] | None],
                    intent: str | None, confidence: float | None, decision: str,
                    channel: str = Channel.WEBCHAT.value, release: bool = False) -> bool:
    """Store the bot's answer to customer message `message_id` on `channel` (where the customer last
    wrote from), renewing the claim held under `token`; SMS and WhatsApp replies are queued in the
    outbox. False: nothing written (the claim lost, the message handled already, a human owns the
    conversation, or it closed); the caller then looks with the ORM path and decides. `release`: give
    the claim back in the same statement rather than renew it."""
    now = utcnow()
    owner = session.execute(_ANSWER_RELEASING if release else _ANSWER, {
        "conversation_id": conversation_id, "token": token, "message_id": message_id, "now": now,
        "until": now + timedelta(seconds=lease_s), "intent": intent,
        "fallback": int(intent == FALLBACK_INTENT)}).first()
    if owner is None:
        return False
    team_id, contact_id, public_id, restricted = owner
    status = _outbound_status(channel)
    for text, extra in zip(replies, rich, strict=True):
        new_id = session.execute(_REPLY, {"conversation_id": conversation_id, "text": text, "now": now,
                                          "intent": intent, "confidence": confidence, "decision": decision,
                                          "rich": extra or None, "channel": channel,
                                          "status": status}).scalar_one()
        stored = None
        if channel == Channel.WEBCHAT.value:
            # carried to the push (no read-back); an SMS/WhatsApp reply's status moves with its delivery,
            # so its push reads the row as it is then
            stored = StoredMessage(new_id, public_id, bool(restricted), Direction.OUT.value, SenderType.BOT.value,
                                   text, channel, status, now, rich=extra or None, bot_intent=intent,
                                   bot_confidence=None if confidence is None else float(confidence),
                                   bot_decision=decision)
        else:
            do_enqueue_reply(session, conversation_id=conversation_id, contact_id=contact_id, message_id=new_id,
                             channel=channel)
        publish_on_commit(session, MessageCreated(conversation_id, team_id, contact_id, new_id,
                                                  SenderType.BOT.value, False, channel, human_owned=False,
                                                  stored=stored))
    return True
