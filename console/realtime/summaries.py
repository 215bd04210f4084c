"""Conversation summaries for the live pushes, read in one query.

The coalesced `conversation` push (console/realtime/listener.py) runs after most changes to a
conversation, twice for every message a bot answers: it was the largest share of the statements per
message (eight: the conversation, its contact, team and assignments, then the unreplied count, the last
message and the handoff packet). Here the conversation and its contact, team and assignees come in one
statement with the figures as correlated subqueries and the last message and latest packet joined on
them; the shape is `summary_json`'s, the same as the REST lists'.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session, aliased, joinedload

from console.serialize import summary_json
from models.conversations.inbox import last_message_id_column, latest_packet_id_column, unreplied_column
from models.outreach.sessions import customer_status
from models.schema.conversations import Assignment, Conversation, HandoffPacket, Message
from models.schema.outreach import Invitation


@cache
def _summaries_query() -> Any:
    """Built once: the correlated columns and the aliases cost more to make than the query to run."""
    last = aliased(Message)
    packet = aliased(HandoffPacket)
    return (select(Conversation, unreplied_column(), last, packet, Invitation.id, Invitation.joined_at,
                   Invitation.sent_at).select_from(Conversation)
            .outerjoin(last, last.id == last_message_id_column())
            .outerjoin(packet, packet.id == latest_packet_id_column())
            .outerjoin(Invitation, Invitation.conversation_id == Conversation.id)
            .options(joinedload(Conversation.contact), joinedload(Conversation.team),
                     joinedload(Conversation.assignments).joinedload(Assignment.user))
            .where(Conversation.id.in_(bindparam("ids", expanding=True)))
            .order_by(Conversation.id))


def conversation_summaries(session: Session, ids: Iterable[int]) -> list[tuple[Conversation, dict[str, Any]]]:
    """Each existing conversation among `ids` with its summary (as broadcast: no per-user `unread`)."""
    wanted = sorted(set(ids))
    if not wanted:
        return []
    rows = session.execute(_summaries_query(), {"ids": wanted}).unique().all()
    return [(conv, summary_json(conv, int(unreplied or 0), last_row, packet_row,
                                customer_status(conv, (joined, sent) if invitation_id is not None else None)))
            for conv, unreplied, last_row, packet_row, invitation_id, joined, sent in rows]
