"""Who hears what: the Socket.IO namespaces, their rooms, and the one audience rule.

Rooms on `/console`: `user:<id>` (each agent's own sockets), `team:<id>` (agents of that team), `all`
(admins and supervisors), `discussion:<id>:user:<id>` (a reader's sockets showing that discussion).
A user is in `all` or in their team rooms, never both, so nobody hears an event twice. On `/webchat`
each customer's sockets share `contact:<id>`. With REDIS_URL, Flask-SocketIO carries every emit
through Redis, so it reaches sockets held by any process.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy.orm import Session

from models.conversations.visibility import named_users

CONSOLE = "/console"

WEBCHAT_NS = "/webchat"

ALL_ROOM = "all"


def team_room(team_id: int) -> str:
    return f"team:{team_id}"


def user_room(user_id: int) -> str:
    return f"user:{user_id}"


def discussion_room(discussion_id: int, user_id: int) -> str:
    """The sockets on which `user_id` has this discussion open (console/discussion_sockets.py joins
    them after checking the user may read it). One room per reader, not per discussion: the listener
    names only the rooms of readers who may still read it when an entry is posted, so a user who lost
    sight of the conversation since opening the panel hears nothing more."""
    return f"discussion:{discussion_id}:user:{user_id}"


def contact_room(contact_id: int) -> str:
    return f"contact:{contact_id}"


def audience(team_id: int, named: Sequence[int] | None) -> list[str]:
    """The `/console` rooms that hear about a conversation of `team_id`.

    The visibility rule (models/conversations/visibility.py) applied to rooms: a conversation is heard
    by its team's room and the supervisors' `all` room; a restricted one (`named`: the users it is
    visible to, from `named_users`) only in those users' own rooms, never in a shared room — and by
    nobody when nobody is named."""
    if named is not None:
        return [user_room(uid) for uid in named]
    return [team_room(team_id), ALL_ROOM]


def audiences(session: Session, conversations: Iterable[tuple[int, int]], *,
              restricted: Iterable[int] | None = None) -> dict[int, list[str]]:
    """`audience` of each `(conversation id, team id)`, with one query for the named users.

    `restricted`: which of them are restricted, when the caller read it in this session just now
    (its `Conversation.restricted`); the named users are then looked up for those only, and not at
    all when there are none (the common case: no query)."""
    pairs = list(conversations)
    named = named_users(session, [cid for cid, _ in pairs] if restricted is None else list(restricted))
    return {cid: audience(team_id, named.get(cid)) for cid, team_id in pairs}


def union(rooms: Iterable[Sequence[str]]) -> list[str]:
    """Every room of several audiences once, team rooms first, then `all`, then users' rooms (an
    event about a contact is heard once per room whatever number of its conversations it concerns).
    No conversation at all: the supervisors' `all` room."""
    groups = list(rooms)
    if not groups:
        return [ALL_ROOM]
    seen = {room for group in groups for room in group}
    teams = sorted((r for r in seen if r.startswith("team:")), key=lambda r: int(r.split(":")[1]))
    users = sorted((r for r in seen if r.startswith("user:")), key=lambda r: int(r.split(":")[1]))
    return teams + ([ALL_ROOM] if ALL_ROOM in seen else []) + users
