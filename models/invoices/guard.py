"""The seed rule: a conversation with an unpaid invoice cannot be closed or deleted (by anyone, nor by a
timer). Kept apart from the rest of models/invoices so that closing and deleting import only this."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.errors import Conflict
from models.schema.invoices import Invoice, InvoiceStatus


def unpaid_invoice(session: Session, conversation_id: int) -> Invoice | None:
    """The oldest unpaid invoice or checkout of the conversation, if any (one indexed lookup)."""
    return session.scalar(select(Invoice).where(Invoice.conversation_id == conversation_id,
                                                Invoice.status == InvoiceStatus.UNPAID.value)
                          .order_by(Invoice.id).limit(1))


def check_no_unpaid_invoice(session: Session, conversation_id: int, action: str = "closing") -> None:
    """Raise 409 `unpaid_invoice` naming the invoice: the agent learns which one, and what to do."""
    inv = unpaid_invoice(session, conversation_id)
    if inv is not None:
        raise Conflict(f"This conversation has an unpaid invoice ({inv.number}); void it or wait for payment "
                       f"before {action}.", code="unpaid_invoice")
