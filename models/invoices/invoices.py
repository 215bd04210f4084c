"""Sending an invoice or a checkout into a conversation, reading it with permission, and an admin's void.

The provider's payment link is made before the transaction that stores the invoice (connectors/stripe.py,
called by console/api/invoices.py): `check_*` runs first, so a refused request creates nothing anywhere;
`do_send_invoice` then writes the invoice and the agent message carrying the link in one transaction, and
the message leaves through the outbox like any agent reply (webchat, SMS, WhatsApp).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.audit import audit
from models.conversations.access import access_conversation
from models.conversations.messages import do_agent_message
from models.conversations.visibility import visible_clause
from models.db import publish_on_commit
from models.errors import Conflict, Forbidden, InvalidInput, InvalidState, NotFound
from models.events import InvoiceChanged
from models.invoices.money import format_amount, line_total, percent, tax_of
from models.schema.accounts import User
from models.schema.base import utcnow
from models.schema.conversations import Conversation, Status
from models.schema.invoices import Invoice, InvoiceKind, InvoiceStatus

MAX_ITEMS = 20
MAX_AMOUNT = 99_999_999  # Stripe's largest amount in minor units (8 digits)
LINK_MIN = timedelta(minutes=30)  # Stripe accepts a session expiry 30 minutes to 24 hours ahead
LINK_MAX = timedelta(hours=24)


@dataclass(frozen=True)
class Item:
    description: str
    quantity: int
    unit_amount: int


@dataclass(frozen=True)
class Draft:
    """A checked invoice: the totals computed here, with integers, once."""

    kind: str
    currency: str  # lower case
    items: tuple[Item, ...]
    tax_rate_bps: int
    due_date: date | None

    @property
    def subtotal(self) -> int:
        return sum(line_total(i.quantity, i.unit_amount) for i in self.items)

    @property
    def tax_amount(self) -> int:
        return tax_of(self.subtotal, self.tax_rate_bps)

    @property
    def total(self) -> int:
        return self.subtotal + self.tax_amount

    def link_expiry(self, now: datetime) -> datetime:
        """When the payment link stops working: the end of the due date, within what Stripe accepts."""
        end = now + LINK_MAX
        if self.due_date is not None:
            end = min(end, datetime.combine(self.due_date + timedelta(days=1), time(), tzinfo=now.tzinfo))
        return max(end, now + LINK_MIN)


def check_draft(kind: str, currency: str, items: list[Item], tax_rate_bps: int, due_date: date | None,
                today: date) -> Draft:
    """Amounts and quantities arrive as integers (the request shapes refuse floats); the rest is checked here."""
    code = currency.strip().lower()
    if len(code) != 3 or not code.isascii() or not code.isalpha():
        raise InvalidInput("currency: a three-letter ISO 4217 code, e.g. EUR.", code="invalid_currency")
    if not items:
        raise InvalidInput("An invoice needs at least one line item.", code="no_items")
    if len(items) > MAX_ITEMS:
        raise InvalidInput(f"At most {MAX_ITEMS} line items.", code="too_many_items")
    if kind == InvoiceKind.CHECKOUT.value and len(items) != 1:
        raise InvalidInput("A checkout is one amount.", code="invalid")
    for n, item in enumerate(items):
        if not item.description.strip():
            raise InvalidInput(f"items.{n}.description: describe what is paid for.", code="invalid")
        if item.quantity < 1 or item.unit_amount < 1:
            raise InvalidInput(f"items.{n}: quantity and unit_amount are whole numbers of at least 1.",
                               code="invalid_amount")
    if due_date is not None and due_date < today:
        raise InvalidInput("due_date is in the past.", code="invalid_due_date")
    draft = Draft(kind, code, tuple(Item(i.description.strip(), i.quantity, i.unit_amount) for i in items),
                  tax_rate_bps, due_date)
    if draft.total > MAX_AMOUNT:
        raise InvalidInput(f"The total is too large ({format_amount(draft.total, code)}).", code="invalid_amount")
    return draft


def check_may_invoice(session: Session, user: User, public_id: str, *, lock: bool = False,
                      open_only: bool = True) -> Conversation:
    """The conversation, if `user` sees it (404 otherwise) and a payment request can go into it now."""
    conv = access_conversation(session, user, public_id, lock=lock)
    if open_only and conv.status != Status.OPEN.value:
        raise InvalidState("This conversation is closed; reopen it to send an invoice.")
    return conv


def invoice_text(inv: Invoice) -> str:
    """The message the customer receives (plain text: it goes out by SMS and WhatsApp too)."""
    cur = inv.currency
    if inv.kind == InvoiceKind.CHECKOUT.value:
        item = inv.items[0]
        lines = [f"Payment request {inv.number}: {item['description']}, {format_amount(inv.total, cur)}."]
    else:
        lines = [f"Invoice {inv.number}"]
        lines += [f"{i['quantity']} x {i['description']}: {format_amount(i['quantity'] * i['unit_amount'], cur)}"
                  for i in inv.items]
        if inv.tax_amount:
            lines.append(f"Tax ({percent(inv.tax_rate_bps)} %): {format_amount(inv.tax_amount, cur)}")
        due = f", due {inv.due_date.isoformat()}" if inv.due_date else ""
        lines.append(f"Total: {format_amount(inv.total, cur)}{due}.")
    lines.append(f"Pay here: {inv.payment_url}")
    return "\n".join(lines)


def do_send_invoice(session: Session, user: User, conv: Conversation, draft: Draft, *, public_id: str,
                    session_id: str, url: str, expires_at: datetime, channel: str | None = None) -> Invoice:
    """Store the invoice with its payment link and post it as the agent's message. Runs under the
    conversation's row lock (the caller's `access_conversation(..., lock=True)`)."""
    inv = Invoice(public_id=public_id, conversation_id=conv.id, kind=draft.kind, currency=draft.currency,
                  items=[{"description": i.description, "quantity": i.quantity, "unit_amount": i.unit_amount}
                         for i in draft.items],
                  subtotal=draft.subtotal, tax_rate_bps=draft.tax_rate_bps, tax_amount=draft.tax_amount,
                  total=draft.total, due_date=draft.due_date, status=InvoiceStatus.UNPAID.value,
                  provider_session_id=session_id, payment_url=url, expires_at=expires_at, created_by_id=user.id)
    session.add(inv)
    session.flush()
    msg = do_agent_message(session, user, conv, invoice_text(inv), channel=channel)
    inv.message_id = msg.id
    audit(session, "invoice.sent", actor=user, conversation=conv, invoice=inv.public_id, total=inv.total,
          currency=inv.currency)
    _changed(session, conv, inv)
    return inv


def access_invoice(session: Session, user: User, public_id: str, *, lock: bool = False) -> tuple[Invoice, Conversation]:
    """The invoice and its conversation if `user` may see the conversation; otherwise 404, as unknown."""
    stmt = select(Invoice).where(Invoice.public_id == public_id)
    if lock:
        stmt = stmt.with_for_update()
    inv = session.scalar(stmt)
    if inv is None:
        raise NotFound("No such invoice.")
    conv = session.get(Conversation, inv.conversation_id)
    if conv is None:
        raise NotFound("No such invoice.")
    access_conversation(session, user, conv.public_id)
    return inv, conv


def visible_invoices(session: Session, user: User, *, status: str | None, limit: int) -> list[tuple[Invoice, str]]:
    """Invoices of the conversations `user` sees (the visibility rule in SQL), newest first, with their
    conversation's public id."""
    stmt = (select(Invoice, Conversation.public_id).join(Conversation, Conversation.id == Invoice.conversation_id)
            .where(visible_clause(user)).order_by(Invoice.id.desc()).limit(limit))
    if status is not None:
        stmt = stmt.where(Invoice.status == status)
    return [(inv, public_id) for inv, public_id in session.execute(stmt)]


def invoices_of(session: Session, conversation_id: int) -> list[Invoice]:
    return list(session.scalars(select(Invoice).where(Invoice.conversation_id == conversation_id)
                                .order_by(Invoice.id)))


def check_may_void(user: User, inv: Invoice) -> None:
    if user.role != "admin" or not user.active:
        raise Forbidden("Only admins void invoices.")
    if inv.status != InvoiceStatus.UNPAID.value:
        raise Conflict(f"{inv.number} is {inv.status}; only an unpaid invoice can be voided.", code="not_unpaid")


def do_void(session: Session, user: User, conv: Conversation, inv: Invoice) -> None:
    """Mark it void (the provider's link was expired first, by the caller). Under the invoice's row lock."""
    check_may_void(user, inv)
    inv.voided_by_id = user.id
    audit(session, "invoice.voided", actor=user, conversation=conv, invoice=inv.public_id)
    do_set_status(session, conv, inv, InvoiceStatus.VOID.value)


# What each status may become: forward only (a late or repeated provider event changes nothing).
NEXT: dict[str, frozenset[str]] = {
    InvoiceStatus.UNPAID.value: frozenset({InvoiceStatus.PAID.value, InvoiceStatus.EXPIRED.value,
                                           InvoiceStatus.VOID.value}),
    InvoiceStatus.PAID.value: frozenset({InvoiceStatus.REFUNDED.value}),
}


def do_set_status(session: Session, conv: Conversation, inv: Invoice, status: str) -> bool:
    """Move `inv` to `status` if that is forward; False (nothing written) otherwise."""
    if status not in NEXT.get(inv.status, frozenset()):
        return False
    now = utcnow()
    inv.status = status
    inv.updated_at = now
    if status == InvoiceStatus.PAID.value:
        inv.paid_at = now
    _changed(session, conv, inv)
    return True


def _changed(session: Session, conv: Conversation, inv: Invoice) -> None:
    publish_on_commit(session, InvoiceChanged(conv.id, conv.team_id, conv.contact_id, inv.id, inv.status))
