"""An invoice as JSON: the API's answer, the console's live push and the `invoice.paid` webhook's data."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.invoices.money import format_amount
from models.schema.conversations import Conversation
from models.schema.invoices import Invoice


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def invoice_json(inv: Invoice, conversation_public_id: str) -> dict[str, Any]:
    return {"id": inv.public_id, "number": inv.number, "conversation_id": conversation_public_id, "kind": inv.kind,
            "currency": inv.currency.upper(),
            "items": [{**i, "amount": i["quantity"] * i["unit_amount"]} for i in inv.items],
            "subtotal": inv.subtotal, "tax_rate_bps": inv.tax_rate_bps, "tax_amount": inv.tax_amount,
            "total": inv.total, "total_text": format_amount(inv.total, inv.currency),
            "due_date": inv.due_date.isoformat() if inv.due_date else None, "status": inv.status,
            "payment_url": inv.payment_url, "message_id": inv.message_id, "created_by": inv.created_by_id,
            "created_at": _iso(inv.created_at), "updated_at": _iso(inv.updated_at),
            "expires_at": _iso(inv.expires_at), "paid_at": _iso(inv.paid_at)}


def invoice_payload(session: Session, invoice_id: int) -> tuple[int, bool, dict[str, Any]] | None:
    """What the console hears of an invoice: (conversation id, whether it is restricted, the JSON), in one
    query; None when it is gone."""
    row = session.execute(select(Invoice, Conversation.public_id, Conversation.restricted)
                          .join(Conversation, Conversation.id == Invoice.conversation_id)
                          .where(Invoice.id == invoice_id)).first()
    if row is None:
        return None
    inv, public_id, restricted = row
    return inv.conversation_id, bool(restricted), invoice_json(inv, public_id)
