"""What each kind of timer does when it fires: one handler per kind."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from models.audit import audit
from models.conversations.messages import do_system_message
from models.conversations.status import do_close
from models.invoices.guard import unpaid_invoice
from models.routing.assign import do_expire_offer, withdraw_offers
from models.routing.locks import lock_conversation
from models.routing.settings import team_settings
from models.routing.timers import TRANSFER_GRACE
from models.routing.transfers import do_expire_transfer
from models.schema.conversations import Conversation, Owner, Phase, Status
from models.schema.routing import Timer, TimerKind

log = logging.getLogger(__name__)


def handle(session: Session, timer: Timer, now: datetime) -> None:
    """Do what a claimed timer is for; it is deleted, or moved to its new due time, in this transaction."""
    if not _handle(session, timer, now):
        session.delete(timer)


def _handle(session: Session, timer: Timer, now: datetime) -> bool:
    """Do what the timer is for. True: it re-armed itself (keep the row); False: done (delete it)."""

    if timer.kind == TimerKind.OFFER.value:
        do_expire_offer(session, timer.ref_id, now)
        return False
    if timer.kind == TimerKind.TRANSFER.value:
        do_expire_transfer(session, timer.ref_id, now)
        return False
    conv = lock_conversation(session, timer.conversation_id)
    if conv is None or conv.status != Status.OPEN.value or conv.owner != Owner.HUMAN.value:
        return False
    settings = team_settings(session, conv.team_id)
    if timer.kind == TimerKind.IDLE.value:
        if conv.phase == Phase.TRANSFERRING.value:
            timer.due_at = now + TRANSFER_GRACE  # not while a transfer awaits its answer
            return True
        if conv.phase != Phase.ASSIGNED.value or not settings.idle_timeout_seconds:
            return False
        due = conv.last_activity_at + timedelta(seconds=settings.idle_timeout_seconds)
        if due > now:
            timer.due_at = due
            return True
        if unpaid_invoice(session, conv.id) is not None:  # never closed while a payment is awaited: look again later
            timer.due_at = now + timedelta(seconds=settings.idle_timeout_seconds)
            return True
        do_auto_close(session, conv, now, reason="idle", failed=False)
        return False
    if timer.kind == TimerKind.WAITING.value:
        if conv.phase not in (Phase.WAITING.value, Phase.ASSIGNING.value) or not settings.waiting_timeout_seconds:
            return False
        since = conv.queued_at or conv.handed_off_at or conv.created_at
        due = since + timedelta(seconds=settings.waiting_timeout_seconds)
        if due > now:
            timer.due_at = due
            return True
        if unpaid_invoice(session, conv.id) is not None:
            timer.due_at = now + timedelta(seconds=settings.waiting_timeout_seconds)
            return True
        do_auto_close(session, conv, now, reason="waiting", failed=True)
        return False
    log.warning("unknown timer kind %r (timer %s) dropped", timer.kind, timer.id)
    return False


def do_auto_close(session: Session, conv: Conversation, now: datetime, *, reason: str, failed: bool) -> None:
    """Complete a conversation nobody is working (idle while assigned) or nobody took (waiting too
    long: phase `failed`), telling the customer with the team's closing message."""
    settings = team_settings(session, conv.team_id)
    withdraw_offers(session, conv, now)
    if settings.closing_message:
        do_system_message(session, conv, settings.closing_message)
    do_close(session, None, conv)
    if failed:
        conv.phase = Phase.FAILED.value
    audit(session, "routing.auto_closed", conversation=conv, reason=reason, team_id=conv.team_id)
