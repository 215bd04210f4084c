"""A webchat customer's text message in a conversation under way, stored in three Core statements.

`do_ingest_inbound` (models/conversations/ingest.py) stores every customer message through the ORM:
the contact and the conversation loaded as entities, the message flushed by the unit of work. On
webchat, for a customer who is online in an open conversation — every message after the first — that
cost several times the statements themselves (bench/per_message.py). Here the contact and its open
conversation are read as columns, the message inserted, and the conversation's activity (and, while a
human owns it, the start of the unreplied wait) written, with what `do_ingest_inbound` writes. Any
other case — a new contact or conversation, a blocked contact, presence to change — returns None having
written nothing, and the caller takes the ORM path in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Integer, Row, String, Table, and_, bindparam, case, insert, or_, select, update
from sqlalchemy.orm import Session

from models.conversations.bot_claims import LOOK_COLUMNS
from models.db import publish_on_commit
from models.events import MessageCreated
from models.schema.base import utcnow
from models.schema.contacts import Contact, ContactIdentity
from models.schema.conversations import (
    Channel,
    Conversation,
    DeliveryStatus,
    Direction,
    Message,
    Owner,
    SenderType,
    Status,
)

_C: Table = Conversation.__table__  # type: ignore[assignment]  # a declarative class's table
_M: Table = Message.__table__  # type: ignore[assignment]
_K: Table = Contact.__table__  # type: ignore[assignment]
_I: Table = ContactIdentity.__table__  # type: ignore[assignment]
_NOW = bindparam("now", type_=_C.c.last_activity_at.type)

_LOOK = (select(_K.c.id.label("contact_id"), _K.c.blocked_at, _K.c.online, _C.c.id.label("conversation_id"),
                _C.c.public_id, _C.c.team_id)
         .select_from(_I.join(_K, _K.c.id == _I.c.contact_id)
                      .outerjoin(_C, and_(_C.c.contact_id == _K.c.id, _C.c.status == Status.OPEN.value)))
         .where(_I.c.channel == Channel.WEBCHAT.value, _I.c.external_id == bindparam("visitor", type_=String))
         .order_by(_C.c.id.desc()).limit(1))
_INSERT = insert(_M).values(
    conversation_id=bindparam("conversation_id", type_=Integer), direction=Direction.IN.value,
    sender_type=SenderType.CONTACT.value, text=bindparam("text", type_=_M.c.text.type),
    channel=Channel.WEBCHAT.value, provider_message_id=bindparam("key", type_=String),
    delivery_status=DeliveryStatus.RECEIVED.value, created_at=bindparam("now", type_=_M.c.created_at.type),
    private=False).returning(_M.c.id)
_ACTIVITY = (update(_C).where(_C.c.id == bindparam("conversation_id", type_=Integer))
             .values(last_activity_at=_NOW,
                     waiting_since=case((and_(_C.c.owner == Owner.HUMAN.value, _C.c.waiting_since.is_(None)), _NOW),
                                        else_=_C.c.waiting_since))
             .returning(_C.c.owner))
# The same, also taking the bot's claim when the bot owns the conversation and nobody holds it (the
# claim's compare-and-set of models/conversations/bot_claims.py, folded into this UPDATE: SET reads the
# row as it was). A process that runs bot turns itself saves the claim's own transaction: the turn
# starts from what this one read. Claimed: the returned token is the one offered (they are random).
_BOT_FREE = and_(_C.c.owner == Owner.BOT.value,
                 or_(_C.c.bot_claim_until.is_(None), _C.c.bot_claim_until < _NOW))
_ACTIVITY_CLAIMING = (
    update(_C).where(_C.c.id == bindparam("conversation_id", type_=Integer))
    .values(last_activity_at=_NOW,
            waiting_since=case((and_(_C.c.owner == Owner.HUMAN.value, _C.c.waiting_since.is_(None)), _NOW),
                               else_=_C.c.waiting_since),
            bot_claim_token=case((_BOT_FREE, bindparam("token", type_=String)), else_=_C.c.bot_claim_token),
            bot_claim_until=case((_BOT_FREE, bindparam("until", type_=_C.c.bot_claim_until.type)),
                                 else_=_C.c.bot_claim_until))
    .returning(*LOOK_COLUMNS))


@dataclass(frozen=True)
class StoredText:
    contact_id: int
    conversation_id: int
    public_id: str
    message_id: int
    created_at: datetime
    # The bot's claim taken with the message (`claim_token` given, the bot owns the conversation and
    # nobody held it): what `bot_claims.claim_returning` returns of the conversation. None: not taken.
    claimed: Row[Any] | None = None


def do_ingest_webchat_text(session: Session, visitor_id: str, text: str, key: str | None, *,
                           claim_token: str | None = None, lease_s: float = 30.0,
                           summary_after_turn: bool = True, answered_elsewhere: bool = False) -> StoredText | None:
    """Store `text` from the webchat visitor `visitor_id` in their open conversation; None (nothing
    written): not the steady state, use `do_ingest_inbound`. A resend of `key` fails on the unique
    `(channel, provider_message_id)` like any insert (the caller retries with the look).

    `claim_token`: also take the bot's claim under this token for `lease_s` seconds when it is free
    (the caller runs the turn itself once this commits, bot/pipeline.py `BotPipeline.resume`).
    `summary_after_turn`: with the claim taken, the consoles' summary of this message may wait for the
    turn's end (`MessageCreated.bot_answers`) — only when the turn takes milliseconds; an LLM's or a
    remote engine's seconds would leave the consoles' lists behind. `answered_elsewhere`: a worker
    process answers it (`parley web`): in a conversation the bot owns, the summary is left to that
    worker's turn as well (`MessageCreated.answered_elsewhere`), on the same condition."""
    found = session.execute(_LOOK, {"visitor": visitor_id}).first()
    if found is None or found.conversation_id is None or found.blocked_at is not None or not found.online:
        return None
    now = utcnow()
    message_id = session.execute(_INSERT, {"conversation_id": found.conversation_id, "text": text, "key": key,
                                           "now": now}).scalar_one()
    claimed = None
    if claim_token is None:
        owner = session.execute(_ACTIVITY, {"conversation_id": found.conversation_id, "now": now}).scalar_one()
    else:
        row = session.execute(_ACTIVITY_CLAIMING, {
            "conversation_id": found.conversation_id, "now": now, "token": claim_token,
            "until": now + timedelta(seconds=lease_s)}).one()
        owner, claimed = row.owner, (row if row.bot_claim_token == claim_token else None)
    publish_on_commit(session, MessageCreated(found.conversation_id, found.team_id, found.contact_id, message_id,
                                              SenderType.CONTACT.value, False, Channel.WEBCHAT.value,
                                              human_owned=owner == Owner.HUMAN.value,
                                              bot_answers=claimed is not None and summary_after_turn,
                                              answered_elsewhere=(answered_elsewhere and summary_after_turn
                                                                  and claimed is None and owner == Owner.BOT.value)))
    return StoredText(found.contact_id, found.conversation_id, found.public_id, message_id, now, claimed)
