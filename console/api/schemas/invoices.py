"""Shapes of invoices and checkouts (console/api/invoices.py). Every amount is a JSON integer in the
currency's minor units (1250 = EUR 12.50): a float or a string is refused, never rounded."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import Field, StrictInt

from console.api.schemas.common import Channel, In, Out, Timestamp

Minor = Annotated[StrictInt, Field(ge=1, le=99_999_999, description="An amount in minor units (cents), a "
                                                                    "JSON integer: 1250 = 12.50.")]
Status = Literal["unpaid", "paid", "expired", "refunded", "void"]


class ItemIn(In):
    description: str = Field(min_length=1, max_length=120)
    quantity: Annotated[StrictInt, Field(ge=1, le=10_000, description="A whole number, at least 1.")] = 1
    unit_amount: Minor


class InvoiceIn(In):
    kind: Literal["invoice", "checkout"] = Field("invoice", description="`invoice`: line items, tax, a due "
                                                 "date. `checkout`: a payment link for one `amount`.")
    currency: str = Field(min_length=3, max_length=3, description="ISO 4217, either case: EUR, usd.")
    items: list[ItemIn] = Field([], max_length=20, description="The invoice's lines (not for a checkout).")
    amount: Minor | None = Field(None, description="A checkout's amount.")
    description: str | None = Field(None, max_length=120, description="What a checkout is for (default: "
                                                                     "Payment).")
    tax_rate_bps: Annotated[StrictInt, Field(ge=0, le=10_000)] = Field(
        0, description="Tax in basis points of the subtotal (2000 = 20 %), rounded half up to the minor unit.")
    due_date: dt.date | None = Field(None, description="YYYY-MM-DD; the payment link stops at its end (and "
                                                        "at most 24 hours after sending: Stripe's limit).")
    channel: Channel | None = Field(None, description="Where the message goes (default: the customer's last "
                                                      "channel).")


class ItemOut(Out):
    description: str
    quantity: int
    unit_amount: int
    amount: int


class InvoiceOut(Out):
    id: str
    number: str = Field(description="INV-000042: what people read and say.")
    conversation_id: str
    kind: Literal["invoice", "checkout"]
    currency: str = Field(description="Upper case, ISO 4217.")
    items: list[ItemOut]
    subtotal: int
    tax_rate_bps: int
    tax_amount: int
    total: int
    total_text: str = Field(description="The total as people read it: EUR 12.50.")
    due_date: str | None
    status: Status
    payment_url: str | None
    message_id: int | None
    created_by: int | None
    created_at: Timestamp
    updated_at: Timestamp
    expires_at: Timestamp
    paid_at: Timestamp


class InvoiceList(Out):
    invoices: list[InvoiceOut]


class InvoiceQuery(In):
    status: Status | None = Field(None, description="Only invoices with this status (e.g. unpaid).")
    limit: Annotated[int, Field(ge=1, le=500)] = 200
