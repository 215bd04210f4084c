"""The relational schema: SQLAlchemy 2 typed models.

The schema is changed only through Alembic migrations (`models/migrations`); nothing calls
`create_all` outside tests of the migrations themselves.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    DateTime,
    TypeDecorator,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase

if TYPE_CHECKING:
    pass


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_public_id() -> str:
    """A conversation's public id: unguessable, URL-safe, the same in URLs, the API and sockets."""
    return "c_" + secrets.token_urlsafe(15)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC timestamps on every backend (SQLite would hand back naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime; use models.schema.utcnow()")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


TS = UTCDateTime()


class Base(DeclarativeBase):
    type_annotation_map = {datetime: TS, dict[str, Any]: JSON, list[Any]: JSON}
