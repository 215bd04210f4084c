"""The relational schema: SQLAlchemy 2 typed tables, one module per area.

Importing any of them imports them all (this package), so `metadata` is always the whole schema, as
Alembic's environment and the migration test need, and relationships between areas resolve. The
schema is changed only through Alembic migrations (`models/migrations`); nothing calls `create_all`
outside tests of the migrations themselves.
"""

from __future__ import annotations

from models.schema import (
    accounts,
    broadcasts,
    channels,
    contacts,
    conversations,
    discussions,
    feedback,
    integrations,
    internal,
    invoices,
    llm,
    outreach,
    prepared,
    reports,
    routing,
    training,
)
from models.schema.base import Base

TABLE_MODULES = (accounts, contacts, conversations, channels, routing, llm, training, integrations, reports, outreach,
                 invoices, feedback, internal, discussions, broadcasts, prepared)
metadata = Base.metadata
