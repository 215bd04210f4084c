"""Invoices and checkouts an agent sends in a conversation, paid through a provider (Stripe Checkout),
and the provider events already processed (models/invoices/)."""

from __future__ import annotations

import secrets
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from models.schema.base import Base, utcnow


class InvoiceStatus(StrEnum):
    UNPAID = "unpaid"  # sent, waiting for the customer
    PAID = "paid"
    EXPIRED = "expired"  # the payment link ran out unpaid
    REFUNDED = "refunded"  # paid, then refunded in full
    VOID = "void"  # an admin cancelled it


class InvoiceKind(StrEnum):
    INVOICE = "invoice"  # line items, tax, a due date
    CHECKOUT = "checkout"  # a payment link for one amount


def new_invoice_id() -> str:
    return "inv_" + secrets.token_urlsafe(15)


class Invoice(Base):
    """Every amount is an integer in the currency's minor units (cents); `items` is
    `[{"description", "quantity", "unit_amount"}]`, `total` = subtotal + `tax_amount`. The payment link
    is the provider's session (`provider_session_id`, `payment_url`); `message_id` is the agent message
    that carried it into the conversation."""

    __tablename__ = "invoices"
    __table_args__ = (Index("ix_invoices_conversation_status", "conversation_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(40), unique=True, default=new_invoice_id)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(10))
    currency: Mapped[str] = mapped_column(String(3))  # ISO 4217, lower case (as Stripe writes it)
    items: Mapped[list[Any]] = mapped_column(default=list)
    subtotal: Mapped[int] = mapped_column(BigInteger)
    tax_rate_bps: Mapped[int] = mapped_column(Integer, default=0)  # basis points: 2000 = 20 %
    tax_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    total: Mapped[int] = mapped_column(BigInteger)
    due_date: Mapped[date | None] = mapped_column(default=None)
    status: Mapped[str] = mapped_column(String(10), default=InvoiceStatus.UNPAID.value)
    provider: Mapped[str] = mapped_column(String(20), default="stripe")
    provider_session_id: Mapped[str | None] = mapped_column(String(255), unique=True, default=None)
    provider_payment_id: Mapped[str | None] = mapped_column(String(255), index=True, default=None)
    payment_url: Mapped[str | None] = mapped_column(String(2000), default=None)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"), default=None)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(default=None)  # when the payment link stops working
    paid_at: Mapped[datetime | None] = mapped_column(default=None)
    voided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)

    @property
    def number(self) -> str:
        """What people read and say: INV-000042."""
        return f"INV-{self.id:06d}"


class ProviderEvent(Base):
    """A provider webhook event already processed: the same event id again is a replay, answered and
    ignored (the primary key makes two concurrent deliveries of one event collide)."""

    __tablename__ = "payment_events"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)  # the provider's event id (evt_…)
    provider: Mapped[str] = mapped_column(String(20), default="stripe")
    type: Mapped[str] = mapped_column(String(100))
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id", ondelete="SET NULL"), default=None)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
