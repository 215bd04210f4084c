"""Learning from handoffs: the customer messages the bot handed off, grouped, most frequent first.

Each handoff packet names the customer message that triggered it. Messages are grouped when they say
the same thing in other words: the same words once case, punctuation and filler are ignored, or word
sets that mostly overlap (Jaccard ≥ 0.6 on content words) — a deliberately simple measure an admin
can predict, that needs no model. A message an admin added to an intent (or set aside) leaves the list.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.schema.base import utcnow
from models.schema.conversations import Conversation, HandoffPacket, Message, SenderType
from models.schema.training import BotLearnedMessage

SIMILAR = 0.6
_WORD = re.compile(r"[a-z0-9']+")
_FILLER = frozenset({"a", "an", "the", "i", "me", "my", "to", "of", "is", "it", "please", "pls", "hi", "hello",
                     "hey", "can", "could", "you", "u", "do", "does", "for", "and"})


@dataclass
class _Group:
    key: str
    words: frozenset[str]
    messages: list[dict[str, Any]] = field(default_factory=list)


def normalise(text: str) -> str:
    return " ".join(_WORD.findall(text.casefold()))


def content_words(text: str) -> frozenset[str]:
    words = _WORD.findall(text.casefold())
    kept = frozenset(w for w in words if w not in _FILLER)
    return kept or frozenset(words)


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def handoff_messages(
    session: Session, *, reason: str | None = None, days: int = 30, limit: int = 5000
) -> list[dict[str, Any]]:
    since: datetime = utcnow() - timedelta(days=days)
    learned = select(BotLearnedMessage.message_id)
    stmt = (
        select(HandoffPacket, Message, Conversation.public_id)
        .join(Message, Message.id == HandoffPacket.trigger_message_id)
        .join(Conversation, Conversation.id == HandoffPacket.conversation_id)
        .where(
            Message.sender_type == SenderType.CONTACT.value,
            HandoffPacket.created_at >= since,
            Message.id.not_in(learned),
        )
        .order_by(HandoffPacket.id.desc())
        .limit(limit)
    )
    if reason:
        stmt = stmt.where(HandoffPacket.reason == reason)
    return [
        {
            "message_id": msg.id,
            "text": msg.text,
            "reason": packet.reason,
            "intent": packet.intent,
            "confidence": packet.confidence,
            "engine": packet.engine,
            "conversation_id": public_id,
            "at": packet.created_at.isoformat(),
        }
        for packet, msg, public_id in session.execute(stmt)
    ]


def group_messages(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Groups of similar messages, most frequent first (ties: most recent first)."""
    exact: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        key = normalise(row["text"])
        if key:
            exact.setdefault(key, []).append(row)
    groups: list[_Group] = []
    # Leaders are the most frequent phrasings, so a group is named after what customers say most.
    for key, members in sorted(exact.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        words = content_words(key)
        home = next((g for g in groups if _jaccard(g.words, words) >= SIMILAR), None)
        if home is None:
            groups.append(_Group(key, words, list(members)))
        else:
            home.messages.extend(members)
    out = []
    for group in groups:
        messages = sorted(group.messages, key=lambda m: m["at"], reverse=True)
        texts = Counter(m["text"].strip() for m in messages)
        guesses = Counter(m["intent"] for m in messages if m["intent"])
        leader = next(m["text"].strip() for m in messages if normalise(m["text"]) == group.key)
        out.append(
            {
                "text": leader,  # in the phrasing customers used most
                "count": len(messages),
                "variants": [t for t, _ in texts.most_common(8)],
                "reasons": dict(Counter(m["reason"] for m in messages).most_common()),
                "bot_guess": guesses.most_common(1)[0][0] if guesses else None,
                "message_ids": [m["message_id"] for m in messages],
                "conversations": list(dict.fromkeys(m["conversation_id"] for m in messages))[:5],
                "last_at": messages[0]["at"],
            }
        )
    out.sort(key=lambda g: g["last_at"], reverse=True)  # stable: ties in count stay most recent first
    out.sort(key=lambda g: g["count"], reverse=True)
    return out


def texts_of(session: Session, message_ids: list[int]) -> dict[int, str]:
    rows = session.execute(
        select(Message.id, Message.text).where(
            Message.id.in_(message_ids), Message.sender_type == SenderType.CONTACT.value
        )
    )
    return {int(i): str(t) for i, t in rows}


def mark(
    session: Session,
    message_ids: list[int],
    *,
    action: str,
    intent: str | None,
    user_id: int | None,
    data_version_id: int | None,
) -> None:
    for message_id in message_ids:
        if session.get(BotLearnedMessage, message_id) is None:
            session.add(
                BotLearnedMessage(
                    message_id=message_id,
                    action=action,
                    intent=intent,
                    user_id=user_id,
                    data_version_id=data_version_id,
                )
            )
