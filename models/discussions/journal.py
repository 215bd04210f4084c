"""System entries in a conversation's internal discussion: transfers, handoffs, closing and reopening.

A commit writer (models/db.py `CommitWriter`): it reads the events a commit is about to publish and
writes the entries in that same transaction, so an entry exists exactly when the change committed.
It looks at nothing but these events: a commit without one of them (every customer message, every
reply) costs no statement; one with them costs one query when the conversation has no discussion.
Bound records are posted where they are bound (models/integrations/actions.py).
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.discussions.discussions import post_system_entry, users_by_id
from models.events import ConversationHandedOff, ConversationStatusChanged, Event, TransferChanged
from models.schema.accounts import Team
from models.schema.conversations import Conversation
from models.schema.discussions import Discussion

STATUS_TEXT = {"closed": "The conversation was closed: this discussion is now view-only.",
               "reopened": "The conversation was reopened: this discussion is writable again.",
               "returned_to_bot": "The conversation was returned to the bot."}


def post_system_entries(session: Session, events: list[Event]) -> None:
    noted = [e for e in events if isinstance(e, ConversationHandedOff | TransferChanged)
             or (isinstance(e, ConversationStatusChanged) and e.change in STATUS_TEXT)]
    if not noted:
        return
    ids = {e.conversation_id for e in noted}
    rows = session.execute(select(Discussion, Conversation)
                           .join(Conversation, Conversation.id == Discussion.conversation_id)
                           .where(Discussion.conversation_id.in_(ids))).all()
    if not rows:
        return
    found = {conv.id: (d, conv) for d, conv in rows}
    transfers = [e for e in noted if isinstance(e, TransferChanged) and e.conversation_id in found]
    people = users_by_id(session, [u for t in transfers for u in (t.from_user_id, t.to_user_id, t.actor_id)])
    team_ids = {t.to_team_id for t in transfers if t.to_team_id is not None}
    teams = dict(session.execute(select(Team.id, Team.name).where(Team.id.in_(team_ids))).all()) if team_ids else {}

    def name(uid: int | None) -> str:
        return people[uid].name if uid is not None and uid in people else "someone"

    for evt in noted:
        if evt.conversation_id not in found:
            continue
        d, conv = found[evt.conversation_id]
        if isinstance(evt, ConversationHandedOff):
            text = f"The bot handed the conversation to people ({evt.reason.replace('_', ' ')})."
        elif isinstance(evt, TransferChanged):
            text = transfer_text(evt, name, teams.get(evt.to_team_id) if evt.to_team_id else None)
        else:
            text = STATUS_TEXT[evt.change]
        post_system_entry(session, conv, d, text)


def transfer_text(evt: TransferChanged, n: Callable[[int | None], str], team: str | None) -> str:
    """`n`: a user id's display name."""
    to = f"{team}'s queue" if evt.to_team_id is not None else n(evt.to_user_id)
    return {
        "pending": f"{n(evt.actor_id)} asked {to} to take over the conversation.",
        "accepted": f"{n(evt.to_user_id)} accepted the transfer from {n(evt.from_user_id)}.",
        "rejected": f"{n(evt.to_user_id)} declined the transfer from {n(evt.from_user_id)}.",
        "expired": f"The transfer to {to} expired unanswered.",
        "cancelled": f"The transfer to {to} was cancelled.",
        "done": f"{n(evt.actor_id)} moved the conversation to {to}.",
    }.get(evt.status, f"Transfer to {to}: {evt.status}.")
