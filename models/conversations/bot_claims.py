"""Bot claims: which process runs the bot on a conversation right now, as a lease in the database.

A conversation's customer messages must be answered one at a time and exactly once, whichever web
or worker process, on whichever host, heard of them. A Python lock covers one process; the lease
covers all of them and survives none: a process killed while holding it simply stops renewing, the
lease expires, and the next sweep of any worker claims the conversation again. Claiming is one
compare-and-set `UPDATE` (the row lock PostgreSQL takes for it serialises claimers; SQLite writes
one at a time anyway), so the same code is correct on both. Exactly-once rests on the pipeline's
`bot_cursor` check under the row lock; the lease only keeps two processes from doing the work twice.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Integer, Row, String, Table, bindparam, func, or_, select, update
from sqlalchemy.orm import Session

from models.schema.base import utcnow
from models.schema.conversations import Conversation, Message, Owner, SenderType, Status


def _free(now: datetime) -> ColumnElement[bool]:
    return or_(Conversation.bot_claim_until.is_(None), Conversation.bot_claim_until < now)


def claim(session: Session, conversation_id: int, *, lease_s: float, token: str | None = None,
          now: datetime | None = None) -> str | None:
    """Take the conversation for `lease_s` seconds (nobody else sees it before the transaction
    commits). Returns the lease's token, or None when another process holds an unexpired lease."""
    now = now or utcnow()
    token = token or secrets.token_hex(16)
    result = session.execute(
        update(Conversation)
        .where(Conversation.id == conversation_id, _free(now))
        .values(bot_claim_token=token, bot_claim_until=now + timedelta(seconds=lease_s))
        .execution_options(synchronize_session=False))
    return token if result.rowcount == 1 else None  # type: ignore[attr-defined]


# Built once, in Core on the table: the bot takes, renews and gives back a claim for every customer
# message, and the ORM's UPDATE … RETURNING of an entity (session synchronisation, identity map) cost
# five times the statement itself (bench/per_message.py).
_T: Table = Conversation.__table__  # type: ignore[assignment]  # a declarative class's table
# What the pipeline reads of a conversation it claims (bot/pipeline.py `_pending_in`).
LOOK_COLUMNS = _LOOK = (_T.c.id, _T.c.public_id, _T.c.contact_id, _T.c.channel, _T.c.owner, _T.c.status,
                        _T.c.bot_cursor, _T.c.bot_fallbacks, _T.c.custom_attributes, _T.c.page_url,
                        _T.c.bot_claim_token)
_ID, _TOKEN = bindparam("conversation_id", type_=Integer), bindparam("token", type_=String)
_NOW, _UNTIL = bindparam("now", type_=_T.c.bot_claim_until.type), bindparam("until", type_=_T.c.bot_claim_until.type)
_CLAIM_RETURNING = (update(_T).where(_T.c.id == _ID, or_(_T.c.bot_claim_until.is_(None), _T.c.bot_claim_until < _NOW))
                    .values(bot_claim_token=_TOKEN, bot_claim_until=_UNTIL).returning(*_LOOK))
_RELEASE_RETURNING = (update(_T).where(_T.c.id == _ID, _T.c.bot_claim_token == _TOKEN)
                      .values(bot_claim_token=None, bot_claim_until=None).returning(*_LOOK))
_RENEW_RETURNING = (select(Conversation)
                    .from_statement(update(_T).where(_T.c.id == _ID, _T.c.bot_claim_token == _TOKEN)
                                    .values(bot_claim_until=_UNTIL).returning(*_T.c))
                    .execution_options(populate_existing=True))
_HOLD = update(_T).where(_T.c.id == _ID).values(bot_claim_token=_TOKEN, bot_claim_until=_UNTIL)
_PASS_OVER = (update(_T).where(_T.c.id == _ID)
              .values(bot_cursor=bindparam("cursor", type_=Integer), bot_claim_token=None, bot_claim_until=None))


def claim_returning(session: Session, conversation_id: int, *, lease_s: float, token: str,
                    now: datetime | None = None) -> Row[Any] | None:
    """`claim`, and what the bot reads of the claimed conversation (`_LOOK`'s columns, by name), in one
    statement (`UPDATE … RETURNING`): the bot's first look costs no second round trip. None: another
    process holds it. The row is not an entity: change it with `hold` and `set_cursor`."""
    now = now or utcnow()
    return session.execute(_CLAIM_RETURNING, {"conversation_id": conversation_id, "now": now, "token": token,
                                              "until": now + timedelta(seconds=lease_s)}).first()


def renew_returning(session: Session, conversation_id: int, token: str, *, lease_s: float,
                    now: datetime | None = None) -> Conversation | None:
    """`renew`, returning the conversation (None: the lease was lost). Being a write, it also takes
    the row's lock (PostgreSQL) or the database's (SQLite) before anything is read after it."""
    now = now or utcnow()
    return session.scalars(_RENEW_RETURNING, {"conversation_id": conversation_id, "token": token,
                                              "until": now + timedelta(seconds=lease_s)}).first()


def release_returning(session: Session, conversation_id: int, token: str) -> Row[Any] | None:
    """`release`, returning what `claim_returning` does of the conversation as it now is (None: the
    lease was not ours any more). Being a write, it takes the row's (PostgreSQL) or the database's
    (SQLite) lock first: what the caller then reads in this transaction is what any later claimer will find."""
    return session.execute(_RELEASE_RETURNING, {"conversation_id": conversation_id, "token": token}).first()


def hold(session: Session, conversation_id: int, token: str | None, *, lease_s: float,
         now: datetime | None = None) -> None:
    """Set the claim whoever holds it (the caller holds the row's lock: it just released or claimed it);
    `token` None gives it back."""
    until = (now or utcnow()) + timedelta(seconds=lease_s) if token is not None else None
    session.execute(_HOLD, {"conversation_id": conversation_id, "token": token, "until": until})


def pass_over(session: Session, conversation_id: int, cursor: int) -> None:
    """Move the conversation's `bot_cursor` past what the bot will not answer, and give its claim back
    (the caller holds the claim, or just released it, and the row's lock)."""
    session.execute(_PASS_OVER, {"conversation_id": conversation_id, "cursor": cursor})


def renew(session: Session, conversation_id: int, token: str, *, lease_s: float,
          now: datetime | None = None) -> bool:
    """Extend a lease still held under `token`. False: it was lost (expired and taken by another)."""
    now = now or utcnow()
    result = session.execute(
        update(Conversation)
        .where(Conversation.id == conversation_id, Conversation.bot_claim_token == token)
        .values(bot_claim_until=now + timedelta(seconds=lease_s))
        .execution_options(synchronize_session=False))
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def release(session: Session, conversation_id: int, token: str) -> None:
    """Give the conversation back at once (a lease taken over by another process is left alone)."""
    session.execute(
        update(Conversation)
        .where(Conversation.id == conversation_id, Conversation.bot_claim_token == token)
        .values(bot_claim_token=None, bot_claim_until=None)
        .execution_options(synchronize_session=False))


def unanswered_ids(session: Session, *, limit: int = 100, claimable_only: bool = True,
                   now: datetime | None = None) -> list[int]:
    """Bot-owned open conversations with customer messages the bot has not dealt with, oldest
    waiting first; `claimable_only`: only those nobody holds a live lease on (what a sweep may take)."""
    now = now or utcnow()
    stmt = (select(Conversation.id)
            .join(Message, Message.conversation_id == Conversation.id)
            .where(Conversation.status == Status.OPEN.value, Conversation.owner == Owner.BOT.value,
                   Message.sender_type == SenderType.CONTACT.value, Message.id > Conversation.bot_cursor)
            .group_by(Conversation.id)
            .order_by(func.min(Message.id))
            .limit(limit))
    if claimable_only:
        stmt = stmt.where(_free(now))
    return list(session.scalars(stmt))
