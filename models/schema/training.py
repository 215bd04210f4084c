"""Tables of the bot studio: versions of the training data, training/evaluation runs, model
activations, and handoff messages already learnt from.

Imported at the end of `models.schema`, so `Base.metadata` always has them. Created by migration
`0005_training`.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.schema.base import Base, utcnow


class DataVersionKind(StrEnum):
    BASELINE = "baseline"  # the data as found (first use, or changed outside Parley)
    CHANGE = "change"  # an admin's edit in the console
    LEARN = "learn"  # a handoff message added to an intent
    RESTORE = "restore"  # an older version put back


class RunKind(StrEnum):
    TRAIN = "train"
    EVALUATE = "evaluate"


class RunStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


class BotDataVersion(Base):
    """One state of `data/`, and the change that led to it: who, when, what."""

    __tablename__ = "bot_data_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    kind: Mapped[str] = mapped_column(String(12))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)
    author_name: Mapped[str] = mapped_column(String(200), default="")  # kept if the user is deleted
    summary: Mapped[str] = mapped_column(Text, default="")
    changes: Mapped[list[Any]] = mapped_column(default=list)  # the operations, as sent
    data_hash_before: Mapped[str | None] = mapped_column(String(64), default=None)
    data_hash_after: Mapped[str] = mapped_column(String(64), index=True)
    # Every Rasa file of data/ after the change ({relative path: text}): diffs, restores, evaluations.
    files: Mapped[dict[str, Any]] = mapped_column(default=dict)
    restored_from_id: Mapped[int | None] = mapped_column(Integer, default=None)


class BotTrainingRun(Base):
    """A training or an evaluation, run in the background, with its progress and its figures."""

    __tablename__ = "bot_training_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(12))
    engine: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(12), default=RunStatus.QUEUED.value, index=True)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    stage: Mapped[str] = mapped_column(String(300), default="")
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    result: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)
    data_version_id: Mapped[int | None] = mapped_column(Integer, default=None)
    model_version: Mapped[str | None] = mapped_column(String(100), default=None, index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    # Refreshed while running: a run whose heartbeat stopped was cut short by a restart.
    heartbeat_at: Mapped[datetime | None] = mapped_column(default=None)
    cancel_requested: Mapped[bool] = mapped_column(default=False)


class BotModelActivation(Base):
    """Which model version an admin put in front of customers, replacing which (for rollback)."""

    __tablename__ = "bot_model_activations"
    # Every bot turn asks for an engine's newest row (the active model): one index lookup.
    __table_args__ = (Index("ix_bot_model_activations_engine_id", "engine", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    engine: Mapped[str] = mapped_column(String(20))
    version: Mapped[str] = mapped_column(String(100))
    previous_version: Mapped[str | None] = mapped_column(String(100), default=None)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)
    actor_name: Mapped[str] = mapped_column(String(200), default="")
    note: Mapped[str] = mapped_column(String(40), default="activate")  # activate | rollback


class BotLearnedMessage(Base):
    """A customer message from a handoff that an admin added to an intent (or set aside)."""

    __tablename__ = "bot_learned_messages"

    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True)
    action: Mapped[str] = mapped_column(String(12))  # added | dismissed
    intent: Mapped[str | None] = mapped_column(String(100), default=None)
    data_version_id: Mapped[int | None] = mapped_column(Integer, default=None)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
