"""Inbox queries and counters: the one source of truth for lists, tiles, badges and the tab title.

Every number is computed from messages and assignments as they are, never kept in a counter that
could drift: "unreplied" is the customer messages after the last public human reply, "unread" the
customer messages after the user's read mark.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

from sqlalchemy import ColumnElement, and_, case, exists, func, or_, select, true
from sqlalchemy.orm import Session, aliased, selectinload

from models.conversations.roles import is_supervisor
from models.conversations.visibility import visible_clause
from models.errors import Forbidden, InvalidInput
from models.schema.accounts import TeamMember, User
from models.schema.contacts import Contact
from models.schema.conversations import (
    Assignment,
    Conversation,
    HandoffPacket,
    Message,
    Owner,
    ReadMark,
    SenderType,
    Status,
)
from models.schema.routing import ConversationAccess

VIEWS = ("team", "mine", "bot", "active")

# The dashboard tiles, each a counter and the list it opens (`?filter=<name>`): the same conditions
# feed both, so a conversation is in a tile's list exactly when it adds to that tile's number.
TILES = ("unassigned", "unreplied", "my_unreplied", "assigned_to_me", "unread")


LIST_LIMIT = 100


def visible_to(user: User) -> ColumnElement[bool]:
    """Team inboxes, and restricted conversations only for their named users (models/visibility.py)."""
    return visible_clause(user)


def assigned_to(user_id: int) -> ColumnElement[bool]:
    return exists().where(Assignment.conversation_id == Conversation.id, Assignment.user_id == user_id)


@cache  # a constant expression: built once (an alias costs ~100 column proxies to make), reused
def _last_human_reply_id() -> Any:
    m = aliased(Message)
    return (
        select(func.coalesce(func.max(m.id), 0))
        .where(m.conversation_id == Conversation.id, m.sender_type == SenderType.AGENT.value,
               m.private.is_(False))
        .correlate(Conversation).scalar_subquery()
    )


def _read_mark_id(user_id: int) -> Any:
    return (
        select(func.coalesce(func.max(ReadMark.last_read_message_id), 0))
        .where(ReadMark.conversation_id == Conversation.id, ReadMark.user_id == user_id)
        .correlate(Conversation).scalar_subquery()
    )


def _human_open() -> ColumnElement[bool]:
    return and_(Conversation.status == Status.OPEN.value, Conversation.owner == Owner.HUMAN.value)


COUNTERS = ("unreplied", "my_unreplied", "unassigned", "assigned_to_me", "unread")


def _tile(user: User, tile: str) -> tuple[ColumnElement[bool], Any]:
    """A tile's rule: the conversations it looks at, and for the tiles that count customer messages,
    the mark after which a customer message counts (None: the tile counts conversations)."""
    vis = visible_to(user)
    if tile == "unassigned":
        return and_(_human_open(), vis, ~exists().where(Assignment.conversation_id == Conversation.id)), None
    if tile == "assigned_to_me":
        return and_(Conversation.status == Status.OPEN.value, vis, assigned_to(user.id)), None
    if tile == "unreplied":
        return and_(_human_open(), vis), _last_human_reply_id()
    if tile == "my_unreplied":
        return and_(_human_open(), vis, assigned_to(user.id)), _last_human_reply_id()
    if tile == "unread":
        return and_(_human_open(), vis), _read_mark_id(user.id)
    raise InvalidInput(f"filter must be one of: {', '.join(TILES)}.")


def counters(session: Session, user: User) -> dict[str, int]:
    """The five tiles' numbers. Unassigned and assigned-to-me count conversations, the others customer
    messages, by the rules of `_tile` (each tile's list, `tile_condition`): a tile's number is its list's
    length, or the sum of its rows' `unreplied` / `unread` figures."""
    return counters_for(session, [user])[user.id]


def counters_for(session: Session, users: Sequence[User]) -> dict[int, dict[str, int]]:
    """Each user's counters, in two queries however many users (a change in a team recounts every
    user who can see it: 5 queries per user made a burst of handoffs cost 100 per push for 20 agents).

    Both queries group the figures by user and by what decides visibility (the conversation's team,
    whether it is restricted; a restricted one is counted only where the user is named on it), and
    `visible_clause`'s team rule is then applied to each group here: the same rule, the same numbers
    as counting one user at a time.
    """
    by_id = {u.id: u for u in users}
    if not by_id:
        return {}
    ids = list(by_id)
    out = {uid: dict.fromkeys(COUNTERS, 0) for uid in ids}
    named = exists().where(ConversationAccess.conversation_id == Conversation.id,
                           ConversationAccess.user_id == User.id)
    mine = exists().where(Assignment.conversation_id == Conversation.id, Assignment.user_id == User.id)
    read_mark = (select(func.coalesce(func.max(ReadMark.last_read_message_id), 0))
                 .where(ReadMark.conversation_id == Conversation.id, ReadMark.user_id == User.id)
                 .correlate(Conversation, User).scalar_subquery())
    # A restricted conversation counts for its named users only; the others by team, below.
    counted = or_(Conversation.restricted.is_(False), named)
    unreplied = and_(counted, Message.id > _last_human_reply_id())
    groups = (User.id, Conversation.team_id, Conversation.restricted)
    messages = session.execute(
        select(*groups, func.count(Message.id).filter(unreplied),
               func.count(Message.id).filter(and_(unreplied, mine)),
               func.count(Message.id).filter(and_(counted, Message.id > read_mark)))
        .select_from(User).join(Conversation, true()).join(Message, Message.conversation_id == Conversation.id)
        .where(User.id.in_(ids), Message.sender_type == SenderType.CONTACT.value, _human_open())
        .group_by(*groups)).all()
    unassigned = and_(counted, _human_open(), ~exists().where(Assignment.conversation_id == Conversation.id))
    conversations = session.execute(
        select(*groups, func.count(Conversation.id).filter(unassigned),
               func.count(Conversation.id).filter(and_(counted, mine)))
        .select_from(User).join(Conversation, true())
        .where(User.id.in_(ids), Conversation.status == Status.OPEN.value)
        .group_by(*groups)).all()

    def sees(uid: int, team_id: int, restricted: bool) -> bool:
        user = by_id[uid]
        return restricted or user.sees_all_teams or team_id in user.team_ids

    for uid, team_id, restricted, n_unreplied, n_mine, n_unread in messages:
        if sees(uid, team_id, restricted):
            figures = out[uid]
            figures["unreplied"] += n_unreplied
            figures["my_unreplied"] += n_mine
            figures["unread"] += n_unread
    for uid, team_id, restricted, n_unassigned, n_assigned in conversations:
        if sees(uid, team_id, restricted):  # assigned to me counts what my list shows (`_tile`)
            out[uid]["unassigned"] += n_unassigned
            out[uid]["assigned_to_me"] += n_assigned
    return out


def tile_condition(user: User, tile: str) -> ColumnElement[bool]:
    """The conversations a tile counts, or that hold a customer message it counts: its list's filter."""
    where, mark = _tile(user, tile)
    if mark is None:
        return where
    m = aliased(Message)
    return and_(where, exists().where(m.conversation_id == Conversation.id,
                                      m.sender_type == SenderType.CONTACT.value, m.id > mark))


def list_conversations(session: Session, user: User, *, view: str | None, status: str,
                       q: str | None = None, tile: str | None = None, limit: int = LIST_LIMIT,
                       inbox_id: int | None = None) -> list[Conversation]:
    """`view` None: "team", unless a `tile` filter says which conversations (then no view narrows it).
    "active": every open conversation the caller may see, for supervisors and admins only."""
    if view is None:
        view = None if tile else "team"
    if view == "active":
        if not is_supervisor(user):
            raise Forbidden("Only supervisors and admins see every active conversation.")
        if status != Status.OPEN.value:
            raise InvalidInput("The active view lists open conversations only.")
    stmt = select(Conversation).where(visible_to(user), Conversation.status == status)
    if tile is not None:
        stmt = stmt.where(tile_condition(user, tile))
    if inbox_id is not None:
        stmt = stmt.where(Conversation.inbox_id == inbox_id)
    if view == "team":
        stmt = stmt.where(Conversation.owner == Owner.HUMAN.value)
    elif view == "mine":
        stmt = stmt.where(assigned_to(user.id))
    elif view == "bot":
        stmt = stmt.where(Conversation.owner == Owner.BOT.value)
    if q:
        pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(or_(
            Conversation.name.ilike(pattern, escape="\\"),
            exists().where(Contact.id == Conversation.contact_id,
                           or_(Contact.name.ilike(pattern, escape="\\"),
                               Contact.email.ilike(pattern, escape="\\"))),
            exists().where(Message.conversation_id == Conversation.id,
                           Message.text.ilike(pattern, escape="\\")),
        ))
    stmt = (stmt.options(selectinload(Conversation.contact), selectinload(Conversation.team),
                         selectinload(Conversation.assignments).selectinload(Assignment.user))
            .order_by(Conversation.last_activity_at.desc(), Conversation.id.desc()).limit(limit))
    return list(session.scalars(stmt))


def _per_conversation(session: Session, ids: Sequence[int], where: ColumnElement[bool]) -> dict[int, int]:
    if not ids:
        return {}
    rows = session.execute(
        select(Message.conversation_id, func.count(Message.id))
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(Message.conversation_id.in_(ids), Message.sender_type == SenderType.CONTACT.value, where)
        .group_by(Message.conversation_id)
    ).all()
    return {cid: n for cid, n in rows}


def unreplied_by_conversation(session: Session, ids: Sequence[int]) -> dict[int, int]:
    return _per_conversation(session, ids, and_(_human_open(), Message.id > _last_human_reply_id()))


@cache
def unreplied_column() -> Any:
    """`unreplied_by_conversation` as a column of a query on `Conversation` (the same rule)."""
    m = aliased(Message)
    count = (select(func.count(m.id))
             .where(m.conversation_id == Conversation.id, m.sender_type == SenderType.CONTACT.value,
                    m.id > _last_human_reply_id())
             .correlate(Conversation).scalar_subquery())
    return case((_human_open(), count), else_=0)


@cache
def last_message_id_column() -> Any:
    """The id of the conversation's latest message, private or not (`last_messages(include_private=True)`)."""
    m = aliased(Message)
    return select(func.max(m.id)).where(m.conversation_id == Conversation.id).correlate(Conversation).scalar_subquery()


@cache
def latest_packet_id_column() -> Any:
    """The id of the conversation's latest handoff packet (`latest_packets`)."""
    return (select(func.max(HandoffPacket.id)).where(HandoffPacket.conversation_id == Conversation.id)
            .correlate(Conversation).scalar_subquery())


def unread_by_conversation(session: Session, user: User, ids: Sequence[int]) -> dict[int, int]:
    return _per_conversation(session, ids, and_(_human_open(), Message.id > _read_mark_id(user.id)))


def last_messages(session: Session, ids: Sequence[int], *, include_private: bool) -> dict[int, Message]:
    if not ids:
        return {}
    cond = [Message.conversation_id.in_(ids)]
    if not include_private:
        cond.append(Message.private.is_(False))
    latest = (select(func.max(Message.id)).where(*cond).group_by(Message.conversation_id)).subquery()
    return {m.conversation_id: m for m in session.scalars(select(Message).where(Message.id.in_(select(latest))))}


def latest_packets(session: Session, ids: Sequence[int]) -> dict[int, HandoffPacket]:
    if not ids:
        return {}
    latest = (select(func.max(HandoffPacket.id)).where(HandoffPacket.conversation_id.in_(ids))
              .group_by(HandoffPacket.conversation_id)).subquery()
    return {p.conversation_id: p
            for p in session.scalars(select(HandoffPacket).where(HandoffPacket.id.in_(select(latest))))}


def users_who_can_see(session: Session, team_id: int) -> list[User]:
    """Whose counters a change in this team can move: its members, supervisors and admins, and the
    users named on its restricted conversations (who may be in no team of it)."""
    member = exists().where(TeamMember.user_id == User.id, TeamMember.team_id == team_id)
    named = exists().where(ConversationAccess.user_id == User.id,
                           ConversationAccess.conversation_id == Conversation.id,
                           Conversation.team_id == team_id, Conversation.status == Status.OPEN.value)
    return list(session.scalars(
        select(User).options(selectinload(User.memberships))
        .where(User.active.is_(True), or_(User.role.in_(("admin", "supervisor")), member, named))
    ))
