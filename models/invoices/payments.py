"""What the payment provider tells us (its signed webhook, parsed by connectors/stripe.py): an invoice
paid, expired or refunded. Each provider event is applied at most once: its id is stored in the same
transaction (`payment_events`), so a replay — or two deliveries racing — changes nothing the second time.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.invoices.invoices import do_set_status
from models.schema.conversations import Conversation
from models.schema.invoices import Invoice, InvoiceStatus, ProviderEvent

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PaymentUpdate:
    """One provider event, reduced to what Parley acts on. `status` None: an event we do not act on."""

    event_id: str
    type: str
    status: str | None
    invoice_public_id: str | None = None  # metadata[invoice_id] of the session
    session_id: str | None = None
    payment_id: str | None = None  # the PaymentIntent: how a refund finds its invoice
    amount: int | None = None  # amount_total, minor units
    currency: str | None = None


def _invoice_for(session: Session, update: PaymentUpdate) -> Invoice | None:
    stmt = select(Invoice).with_for_update()
    if update.session_id:
        return session.scalar(stmt.where(Invoice.provider_session_id == update.session_id))
    if update.payment_id:
        return session.scalar(stmt.where(Invoice.provider_payment_id == update.payment_id))
    return None


def seen(session: Session, event_id: str) -> bool:
    return session.get(ProviderEvent, event_id) is not None


def do_apply_payment(session: Session, update: PaymentUpdate) -> str:
    """Apply one provider event; returns what happened (`replay`, `ignored`, `unknown_invoice`, `stale`,
    or the new status). The caller commits, and acknowledges the provider only after that; a concurrent
    delivery of the same event fails on the primary key and is answered as a replay."""
    if seen(session, update.event_id):
        return "replay"
    record = ProviderEvent(id=update.event_id, type=update.type[:100])
    session.add(record)
    session.flush()  # the primary key claims the event now
    if update.status is None:
        return "ignored"
    inv = _invoice_for(session, update)
    if inv is None or (update.invoice_public_id and update.invoice_public_id != inv.public_id):
        log.warning("payment event %s (%s) names no invoice here", update.event_id, update.type)
        return "unknown_invoice"
    record.invoice_id = inv.id
    if update.status == InvoiceStatus.PAID.value and (
            update.amount != inv.total or (update.currency or "").lower() != inv.currency):
        log.warning("payment event %s for %s: %s %s paid, %s %s due; not marked paid", update.event_id,
                    inv.number, update.amount, update.currency, inv.total, inv.currency)
        return "amount_mismatch"
    if update.payment_id and inv.provider_payment_id is None:
        inv.provider_payment_id = update.payment_id
    conv = session.get(Conversation, inv.conversation_id)
    assert conv is not None  # the invoice's foreign key cascades with it
    if not do_set_status(session, conv, inv, update.status):
        return "stale"
    return update.status
