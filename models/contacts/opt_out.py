"""SMS opt-out: a customer who texts STOP (or one of the carrier keywords Twilio honours) gets no more
broadcasts on that number until they text START. Twilio itself refuses to send to an opted-out number
(error 21610); recording it here lets a broadcast skip and count them instead of failing each send.

Only a message that *is* the keyword counts ("stop" alone, not "please don't stop"), as Twilio does.
Checking costs no query unless the text is a keyword, so the customer-message path is unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from models.schema.base import utcnow
from models.schema.broadcasts import OptOut

# Twilio's default opt-out and opt-in keywords (Advanced Opt-Out), case-insensitive, whole message.
STOP_WORDS = frozenset({"STOP", "STOPALL", "STOP ALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT",
                        "REVOKE"})
START_WORDS = frozenset({"START", "UNSTOP", "YES"})


def keyword(text: str) -> str | None:
    word = " ".join(text.split()).upper().rstrip(".!")
    return word if word in STOP_WORDS or word in START_WORDS else None


def do_note_keyword(session: Session, channel: str, address: str, text: str) -> bool | None:
    """Record an opt-out (True) or its end (False) if `text` is a keyword on SMS; None otherwise."""
    word = keyword(text) if channel == "sms" else None
    if word is None:
        return None
    row = session.get(OptOut, (channel, address))
    if word in START_WORDS:
        if row is not None:
            session.execute(delete(OptOut).where(OptOut.channel == channel, OptOut.external_id == address))
        return False
    if row is None:
        session.add(OptOut(channel=channel, external_id=address, keyword=word, opted_out_at=utcnow()))
        session.flush()
    return True


def opted_out(session: Session, channel: str, addresses: Iterable[str]) -> set[str]:
    """Which of `addresses` opted out on `channel` (one query)."""
    wanted = list(set(addresses))
    if not wanted:
        return set()
    return set(session.scalars(select(OptOut.external_id).where(OptOut.channel == channel,
                                                                OptOut.external_id.in_(wanted))))
