"""Transfers: agent to agent (asked, then accepted, rejected or left to expire), to another team's
queue, and a supervisor's direct reassignment. Every step is audited for the conversation's journey,
and both sides hear about it (`TransferChanged`, turned into notifications by the console).

While a request waits for its answer the conversation is `transferring` and still belongs to the
agent who asked; only an accept moves it. A request answered after the conversation changed hands
or closed is `cancelled`, never applied.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.audit import audit
from models.conversations.assignment import _set_assignees
from models.conversations.roles import is_supervisor
from models.conversations.visibility import can_see
from models.db import publish_on_commit
from models.errors import Conflict, Forbidden, InvalidInput, InvalidState, NotFound
from models.events import TransferChanged
from models.routing.assign import withdraw_offers
from models.routing.locks import access_locked, lock_conversation, serialize
from models.routing.queue import do_requeue
from models.routing.settings import team_settings
from models.routing.timers import arm, arm_conversation_timers, timer_for
from models.schema.accounts import Availability, Team, User
from models.schema.conversations import Conversation, Owner, Phase, Status
from models.schema.routing import TimerKind, Transfer, TransferStatus


def _int_or_none(body: dict[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidInput(f"{name} must be an integer id.")
    return value


def check_transfer_body(body: dict[str, Any]) -> tuple[int | None, int | None, bool | None]:
    to_user_id, to_team_id = _int_or_none(body, "to_user_id"), _int_or_none(body, "to_team_id")
    if (to_user_id is None) == (to_team_id is None):
        raise InvalidInput("Send exactly one of to_user_id or to_team_id.")
    direct = body.get("direct")
    if direct is not None and not isinstance(direct, bool):
        raise InvalidInput("direct must be true or false.")
    return to_user_id, to_team_id, direct


def _changed(session: Session, conv: Conversation, t: Transfer, actor: User | None) -> None:
    publish_on_commit(session, TransferChanged(conv.id, conv.team_id, conv.contact_id, t.id, t.status,
                                               t.from_user_id, t.to_user_id, t.to_team_id,
                                               actor.id if actor else None))


def do_transfer(session: Session, actor: User, public_id: str, *, to_user_id: int | None,
                to_team_id: int | None, direct: bool | None, now: datetime) -> Transfer:
    conv = access_locked(session, actor, public_id)
    if conv.status != Status.OPEN.value:
        raise InvalidState("This conversation is closed.")
    if conv.owner != Owner.HUMAN.value:
        raise InvalidState("The bot has this conversation; hand it to a person first.", code="not_human")
    assignees = [a.user_id for a in conv.assignments]
    is_assignee = actor.id in assignees
    if not is_assignee and not is_supervisor(actor):
        raise Forbidden("Only its assignee, a supervisor or an admin can transfer this conversation.")
    if conv.phase == Phase.TRANSFERRING.value:
        raise Conflict("A transfer of this conversation is already waiting for an answer.",
                       code="transfer_pending")
    if to_team_id is not None:
        return _to_team(session, actor, conv, to_team_id, now)
    assert to_user_id is not None
    target = session.get(User, to_user_id)
    if target is None or not target.active:
        raise InvalidInput(f"Unknown user id: {to_user_id}.", code="unknown_user")
    if not can_see(target, conv):
        raise InvalidInput(f"{target.name} cannot see this conversation (another team, or it is "
                           "restricted); transfer it to their team instead.", code="not_in_team")
    if target.id in assignees:
        raise InvalidInput(f"{target.name} is already assigned to it.", code="already_assigned")
    if direct is None:
        direct = is_supervisor(actor) and not is_assignee
    if direct:
        if not is_supervisor(actor):
            raise Forbidden("Only a supervisor or an admin can reassign directly; ask instead.")
        return _reassign(session, actor, conv, target, assignees, now)
    if not is_assignee:
        raise Forbidden("Only an assignee can ask a colleague to take over; reassign directly instead.")
    if target.availability == Availability.OFFLINE.value:
        raise InvalidInput(f"{target.name} is offline.", code="unavailable")
    settings = team_settings(session, conv.team_id)
    t = Transfer(conversation_id=conv.id, from_user_id=actor.id, to_user_id=target.id,
                 from_team_id=conv.team_id, requested_by_id=actor.id, status=TransferStatus.PENDING.value,
                 created_at=now, expires_at=now + timedelta(seconds=settings.transfer_timeout_seconds))
    session.add(t)
    conv.phase = Phase.TRANSFERRING.value
    session.flush()
    assert t.expires_at is not None
    arm(session, TimerKind.TRANSFER, conv.id, t.expires_at, ref_id=t.id)
    audit(session, "routing.transfer_requested", actor=actor, conversation=conv, transfer_id=t.id,
                  to_user_id=target.id, expires_at=t.expires_at.isoformat())
    _changed(session, conv, t, actor)
    return t


def _reassign(session: Session, actor: User, conv: Conversation, target: User, before: list[int],
              now: datetime) -> Transfer:
    withdraw_offers(session, conv, now)
    _set_assignees(session, actor, conv, [target.id])
    t = Transfer(conversation_id=conv.id, from_user_id=before[0] if before else None, to_user_id=target.id,
                 from_team_id=conv.team_id, requested_by_id=actor.id, status=TransferStatus.DONE.value,
                 created_at=now, decided_at=now)
    session.add(t)
    session.flush()
    arm_conversation_timers(session, conv, now)
    audit(session, "routing.reassigned", actor=actor, conversation=conv, transfer_id=t.id,
                  to_user_id=target.id, before=before)
    _changed(session, conv, t, actor)
    return t


def _to_team(session: Session, actor: User, conv: Conversation, team_id: int, now: datetime) -> Transfer:
    team = session.get(Team, team_id)
    if team is None or team.archived_at is not None:  # an archived team takes no conversation
        raise InvalidInput(f"Unknown team id: {team_id}.", code="unknown_team")
    if team.id == conv.team_id:
        raise InvalidInput("The conversation is already in this team.", code="same_team")
    before = [a.user_id for a in conv.assignments]
    from_team = conv.team_id
    withdraw_offers(session, conv, now)
    conv.team_id = team.id
    _set_assignees(session, actor, conv, [])
    do_requeue(session, conv, now, "transferred")
    t = Transfer(conversation_id=conv.id, from_user_id=actor.id, to_team_id=team.id, from_team_id=from_team,
                 requested_by_id=actor.id, status=TransferStatus.DONE.value, created_at=now, decided_at=now)
    session.add(t)
    session.flush()
    audit(session, "routing.transferred_to_team", actor=actor, conversation=conv, transfer_id=t.id,
                  from_team_id=from_team, to_team_id=team.id, before=before)
    _changed(session, conv, t, actor)
    return t


def _lock_transfer(session: Session, transfer_id: int) -> Transfer | None:
    return session.scalar(select(Transfer).where(Transfer.id == transfer_id).with_for_update()
                          .execution_options(populate_existing=True))


def do_decide_transfer(session: Session, user: User, transfer_id: int, *, accept: bool,
                       now: datetime) -> Transfer:
    """The asked agent's answer. A request overtaken by events ends `cancelled` (the caller reports
    it as a conflict after committing that)."""
    serialize(session)
    t = _lock_transfer(session, transfer_id)
    if t is None or t.to_user_id != user.id or t.status == TransferStatus.DONE.value:
        raise NotFound("No such transfer request.")
    if t.status != TransferStatus.PENDING.value:
        raise Conflict(f"This transfer request has already been {t.status}.", code=f"transfer_{t.status}")
    conv = lock_conversation(session, t.conversation_id)
    assert conv is not None
    assignees = [a.user_id for a in conv.assignments]
    t.decided_at = now
    _drop_timer(session, t)
    if conv.status != Status.OPEN.value or conv.phase != Phase.TRANSFERRING.value \
            or t.from_user_id not in assignees:
        t.status = TransferStatus.CANCELLED.value
        audit(session, "routing.transfer_cancelled", actor=user, conversation=conv, transfer_id=t.id)
        _changed(session, conv, t, user)
        return t
    if accept:
        t.status = TransferStatus.ACCEPTED.value
        _set_assignees(session, user, conv, [u for u in assignees if u != t.from_user_id] + [user.id])
        arm_conversation_timers(session, conv, now)
    else:
        t.status = TransferStatus.REJECTED.value
        conv.phase = Phase.ASSIGNED.value
    audit(session, f"routing.transfer_{t.status}", actor=user, conversation=conv, transfer_id=t.id,
                  from_user_id=t.from_user_id, to_user_id=user.id)
    _changed(session, conv, t, user)
    return t


def do_expire_transfer(session: Session, transfer_id: int, now: datetime) -> bool:
    t = _lock_transfer(session, transfer_id)
    if t is None or t.status != TransferStatus.PENDING.value:
        return False
    conv = lock_conversation(session, t.conversation_id)
    assert conv is not None
    t.status = TransferStatus.EXPIRED.value
    t.decided_at = now
    if conv.status == Status.OPEN.value and conv.phase == Phase.TRANSFERRING.value:
        conv.phase = Phase.ASSIGNED.value
    audit(session, "routing.transfer_expired", conversation=conv, transfer_id=t.id,
                  from_user_id=t.from_user_id, to_user_id=t.to_user_id)
    _changed(session, conv, t, None)
    return True


def _drop_timer(session: Session, t: Transfer) -> None:
    timer = timer_for(session, TimerKind.TRANSFER.value, t.conversation_id, t.id)
    if timer is not None:
        session.delete(timer)


def pending_for(session: Session, user_id: int) -> list[Transfer]:
    return list(session.scalars(select(Transfer).where(Transfer.to_user_id == user_id,
                                                       Transfer.status == TransferStatus.PENDING.value)
                                .order_by(Transfer.id)))
