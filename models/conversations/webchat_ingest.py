"""A customer's text message in a conversation under way, stored in three Core statements.

`do_ingest_inbound` (models/conversations/ingest.py) stores every customer message through the ORM:
the contact and the conversation loaded as entities, the message flushed by the unit of work. For a
known customer in an open conversation — every message after the first, on webchat and on SMS/WhatsApp
alike — that cost several times the statements themselves (bench/per_message.py, bench/webhooks.py).
Here the contact and its open conversation are read as columns, the message inserted, and the
conversation's activity (and, while a human owns it, the start of the unreplied wait) written, with
what `do_ingest_inbound` writes. Any other case — a new contact or conversation, a blocked contact,
presence to change, a contact to rename — returns None having written nothing, and the caller takes
the ORM path in the same transaction. The insert does not look for the provider's id first: a resend
fails on the unique `(channel, provider_message_id)` and the caller's retry takes the ORM path, which
looks (and finds the stored message).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Integer, Row, String, Table, and_, bindparam, case, insert, or_, select, update
from sqlalchemy.orm import Session

from models.conversations.bot_claims import LOOK_COLUMNS
from models.db import publish_on_commit
from models.events import MessageCreated, StoredMessage
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

_LOOK = (select(_K.c.id.label("contact_id"), _K.c.blocked_at, _K.c.online, _K.c.name,
                _C.c.id.label("conversation_id"), _C.c.public_id, _C.c.team_id, _C.c.restricted)
         .select_from(_I.join(_K, _K.c.id == _I.c.contact_id)
                      .outerjoin(_C, and_(_C.c.contact_id == _K.c.id, _C.c.status == Status.OPEN.value)))
         .where(_I.c.channel == bindparam("channel", type_=String),
                _I.c.external_id == bindparam("address", type_=String))
         .order_by(_C.c.id.desc()).limit(1))
_INSERT = insert(_M).values(
    conversation_id=bindparam("conversation_id", type_=Integer), direction=Direction.IN.value,
    sender_type=SenderType.CONTACT.value, text=bindparam("text", type_=_M.c.text.type),
    channel=bindparam("channel", type_=String), provider_message_id=bindparam("key", type_=String),
    delivery_status=DeliveryStatus.RECEIVED.value, created_at=bindparam("now", type_=_M.c.created_at.type),
    via_channel_id=bindparam("via", type_=Integer), private=False).returning(_M.c.id)
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
    """`do_ingest_text` for the webchat visitor `visitor_id`, who must be online (else presence changes:
    the ORM path)."""
    return do_ingest_text(session, Channel.WEBCHAT.value, visitor_id, text, key, online=True,
                          claim_token=claim_token, lease_s=lease_s, summary_after_turn=summary_after_turn,
                          answered_elsewhere=answered_elsewhere)


def look(session: Session, channel: str, address: str) -> Row[Any] | None:
    """The contact known on `channel` as `address` and its open conversation, as columns (one query);
    None: nobody is known by that address."""
    return cast("Row[Any] | None", session.execute(_LOOK, {"channel": channel, "address": address}).first())


def steady(found: Row[Any] | None, address: str, *, sender_name: str | None = None, online: bool = False) -> bool:
    """Whether `do_store_text` may store a message of what `look` found: a conversation open, the
    contact not blocked, nothing about the contact to change (its presence when `online` is asked
    for, a name that is still the number while the provider gives a profile name)."""
    return (found is not None and found.conversation_id is not None and found.blocked_at is None
            and not (online and not found.online) and not (sender_name and found.name == address))


def do_ingest_text(session: Session, channel: str, address: str, text: str, key: str | None, *,
                   via_channel_id: int | None = None, sender_name: str | None = None, online: bool = False,
                   claim_token: str | None = None, lease_s: float = 30.0,
                   summary_after_turn: bool = True, answered_elsewhere: bool = False) -> StoredText | None:
    """Store `text` from the customer known on `channel` as `address` in their open conversation;
    None (nothing written): not the steady state (`steady`), use `do_ingest_inbound`."""
    found = look(session, channel, address)
    if found is None or not steady(found, address, sender_name=sender_name, online=online):
        return None
    return do_store_text(session, found, channel, text, key, via_channel_id=via_channel_id,
                         claim_token=claim_token, lease_s=lease_s, summary_after_turn=summary_after_turn,
                         answered_elsewhere=answered_elsewhere)


def do_store_text(session: Session, found: Row[Any], channel: str, text: str, key: str | None, *,
                  via_channel_id: int | None = None, claim_token: str | None = None, lease_s: float = 30.0,
                  summary_after_turn: bool = True, answered_elsewhere: bool = False) -> StoredText:
    """Store `text` in the open conversation `look` found (`steady`). A resend of `key` fails on the
    unique `(channel, provider_message_id)` like any insert (the caller retries with the look).

    `via_channel_id`: the provider configuration it came through (models/conversations/ingest.py).
    `claim_token`: also take the bot's claim under this token for `lease_s` seconds when it is free
    (the caller runs the turn itself once this commits, bot/pipeline.py `BotPipeline.resume`).
    `summary_after_turn`: with the claim taken, the consoles' summary of this message may wait for the
    turn's end (`MessageCreated.bot_answers`) — only when the turn takes milliseconds; an LLM's or a
    remote engine's seconds would leave the consoles' lists behind. `answered_elsewhere`: a worker
    process answers it (`parley web`): in a conversation the bot owns, the summary is left to that
    worker's turn as well (`MessageCreated.answered_elsewhere`), on the same condition."""
    now = utcnow()
    message_id = session.execute(_INSERT, {"conversation_id": found.conversation_id, "text": text, "key": key,
                                           "now": now, "channel": channel, "via": via_channel_id}).scalar_one()
    claimed = None
    if claim_token is None:
        owner = session.execute(_ACTIVITY, {"conversation_id": found.conversation_id, "now": now}).scalar_one()
    else:
        row = session.execute(_ACTIVITY_CLAIMING, {
            "conversation_id": found.conversation_id, "now": now, "token": claim_token,
            "until": now + timedelta(seconds=lease_s)}).one()
        owner, claimed = row.owner, (row if row.bot_claim_token == claim_token else None)
    publish_on_commit(session, MessageCreated(found.conversation_id, found.team_id, found.contact_id, message_id,
                                              SenderType.CONTACT.value, False, channel,
                                              human_owned=owner == Owner.HUMAN.value,
                                              bot_answers=claimed is not None and summary_after_turn,
                                              answered_elsewhere=(answered_elsewhere and summary_after_turn
                                                                  and claimed is None and owner == Owner.BOT.value),
                                              stored=StoredMessage(
                                                  message_id, found.public_id, bool(found.restricted),
                                                  Direction.IN.value, SenderType.CONTACT.value, text, channel,
                                                  DeliveryStatus.RECEIVED.value, now)))
    return StoredText(found.contact_id, found.conversation_id, found.public_id, message_id, now, claimed)
