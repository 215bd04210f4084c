"""Who may change who works a conversation: the role rules of docs/interfaces.md ("Who may do what"),
written once here and called by every action that changes assignees or ends a colleague's work.

The rule in one sentence: an agent acts on their own work only (take an unassigned chat, let go of
one of theirs, close or return what is theirs or nobody's); moving a colleague's chat is either a
transfer the colleague accepts (models/routing/transfers.py) or a supervisor's or admin's act. Views
may show or hide buttons, but these checks are what holds, whatever calls the action.
"""

from __future__ import annotations

from collections.abc import Sequence

from models.errors import Conflict, Forbidden
from models.schema.accounts import User
from models.schema.conversations import Conversation, Phase


def is_supervisor(user: User) -> bool:
    """Supervisors and admins: may reassign, close and merge across the team (not see past restrictions)."""
    return user.role in ("admin", "supervisor")


def check_may_assign(actor: User | None, conv: Conversation, before: Sequence[int], wanted: Sequence[int]) -> None:
    """`/assign` replaces the set of assignees. Supervisors and admins may set any set (of users who
    can see the conversation, checked elsewhere); `actor` None is routing. An agent may only add or
    remove themselves: take an unassigned chat (not while it is offered to someone else), or let go
    of their own. Anything touching a colleague is a transfer, so an agent cannot take a colleague's
    chat through `/assign` when `/transfer` and `/close` would refuse them."""
    if actor is None or is_supervisor(actor):
        return
    changed = set(before) ^ set(wanted)
    if not changed:
        return
    if changed != {actor.id}:
        raise Forbidden("Agents assign only themselves; ask a colleague to take over with a transfer, "
                        "or ask a supervisor.")
    if actor.id in wanted and before:
        raise Forbidden("Someone is already working on this chat; ask them to transfer it to you.")
    if actor.id in wanted and conv.phase == Phase.ASSIGNING.value:
        raise Conflict("This chat is offered to someone else right now.", code="offered_to_other")


def check_may_end(actor: User | None, conv: Conversation, what: str) -> None:
    """Close or return to the bot: an assigned conversation by its assignees, supervisors and admins;
    an unassigned one by anybody who can see it. `actor` None is the system (a timer)."""
    assignees = [a.user_id for a in conv.assignments]
    if actor is None or not assignees or actor.id in assignees or is_supervisor(actor):
        return
    raise Forbidden(f"Only an assignee, a supervisor or an admin can {what} this conversation.")
