"""What the realtime events carry, beyond the serializers the REST API shares (console/serialize.py).

`queue_state` is also what a reconnecting widget is told (console/sockets.py), and `transfer_json` what
the transfers API returns (console/api/routing.py): one shape for the push and the pull.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import Integer, Row, bindparam, exists, select
from sqlalchemy.orm import Session

from console.serialize import attachment_json, iso, message_shape
from models.events import Brief
from models.routing.queue import queue_outlook, queue_positions
from models.schema.accounts import Team, User
from models.schema.base import utcnow
from models.schema.channels import Attachment
from models.schema.conversations import Conversation, Message, Phase, Status
from models.schema.routing import Transfer


def brief(conv: Conversation) -> dict[str, Any]:
    """The conversation as a notification names it."""
    return {"id": conv.public_id, "channel": conv.channel, "phase": conv.phase,
            "contact": {"id": conv.contact.id, "name": conv.contact.name},
            "team": {"id": conv.team.id, "name": conv.team.name}}


def brief_of(named: Brief, team_id: int) -> dict[str, Any]:
    """`brief`, from what an event carries (models/events.py `Brief`): the same shape, no query."""
    return {"id": named.public_id, "channel": named.channel, "phase": named.phase,
            "contact": {"id": named.contact_id, "name": named.contact_name},
            "team": {"id": team_id, "name": named.team_name}}


def queue_state(session: Session, conv: Conversation, now: Any = None) -> dict[str, Any]:
    """What the customer is told about their conversation's place (the `/webchat` `queue` event).

    While waiting: the place, and either an estimated wait (team open) or when the team opens
    (`team_open` false, `opens_at`, `opens_at_text` in the team's timezone)."""
    if conv.status != Status.OPEN.value:
        return {"status": "closed", "position": None, "estimated_wait_seconds": None, "agent": None}
    if conv.phase in (Phase.WAITING.value, Phase.ASSIGNING.value) and conv.owner == "human":
        pos = queue_positions(session, conv.team_id).get(conv.id)
        if pos is not None:
            outlook = queue_outlook(session, conv.team_id, now or utcnow())
            return {"status": "waiting", "position": pos, **outlook.fields(pos), "agent": None}
    if conv.owner != "human":
        return {"status": "bot", "position": None, "estimated_wait_seconds": None, "agent": None}
    agent = conv.assignments[0].user.name if conv.assignments else None
    return {"status": "assigned", "position": None, "estimated_wait_seconds": None,
            "agent": {"name": agent} if agent else None}


def transfer_json(session: Session, t: Transfer) -> dict[str, Any]:
    def who(uid: int | None) -> dict[str, Any] | None:
        u = session.get(User, uid) if uid is not None else None
        return {"id": u.id, "name": u.name} if u is not None else None

    team = session.get(Team, t.to_team_id) if t.to_team_id is not None else None
    return {"id": t.id, "status": t.status, "from_user": who(t.from_user_id), "to_user": who(t.to_user_id),
            "to_team": {"id": team.id, "name": team.name} if team is not None else None,
            "requested_by": who(t.requested_by_id), "created_at": iso(t.created_at),
            "expires_at": iso(t.expires_at), "decided_at": iso(t.decided_at)}


@cache
def _pushed_message_query() -> Any:
    """Built once, on the tables. Columns, not entities: the push runs for every message stored, and
    loading a `Message` (identity map, relationship loaders) cost more than the statement
    (bench/per_message.py)."""
    m, c, u, a = (Message.__table__, Conversation.__table__, User.__table__, Attachment.__table__)
    files = exists().where(a.c.message_id == m.c.id)
    return (select(*m.c, c.c.public_id, c.c.restricted, u.c.id.label("author_found"), u.c.name.label("author_name"),
                   files.label("has_files"))
            .select_from(m.join(c, c.c.id == m.c.conversation_id).outerjoin(u, u.c.id == m.c.author_id))
            .where(m.c.id == bindparam("message_id", type_=Integer)))


def pushed_message(session: Session, message_id: int) -> tuple[Row[Any], dict[str, Any]] | None:
    """A message as the consoles are sent it (`message_json`'s shape), with the row it was read from
    (its columns, and the conversation's `public_id` and `restricted`); its files cost a query only
    when it has some. None: it is gone."""
    row = session.execute(_pushed_message_query(), {"message_id": message_id}).first()
    if row is None:
        return None
    author = {"id": row.author_found, "name": row.author_name} if row.author_id and row.author_found else None
    files = [attachment_json(a) for a in session.scalars(
        select(Attachment).where(Attachment.message_id == message_id).order_by(Attachment.id))] if row.has_files else []
    return row, message_shape(row, row.public_id, author, files)
