"""Users, teams, team membership, API tokens and the audit log."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Integer,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.schema.base import Base, utcnow

if TYPE_CHECKING:
    pass


class Role(StrEnum):
    ADMIN = "admin"
    SUPERVISOR = "supervisor"
    AGENT = "agent"


class Availability(StrEnum):
    ONLINE = "online"
    AWAY = "away"
    OFFLINE = "offline"


class Team(Base):
    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Archived: kept for its history (conversations, audit), gone from lists and pickers; only a team
    # with no open conversation left can be archived (models/accounts/teams.py).
    archived_at: Mapped[datetime | None] = mapped_column(default=None)

    members: Mapped[list[TeamMember]] = relationship(back_populates="team", cascade="all, delete-orphan")


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20), default=Role.AGENT.value)
    availability: Mapped[str] = mapped_column(String(20), default=Availability.OFFLINE.value)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Routing (models/routing.py): most active chats at once (None: the default, 3); when a console
    # of this user was last known connected; what they had chosen before they were set offline for
    # having no console open (restored when one connects again).
    capacity: Mapped[int | None] = mapped_column(Integer, default=None)
    console_seen_at: Mapped[datetime | None] = mapped_column(default=None)
    auto_offline_from: Mapped[str | None] = mapped_column(String(20), default=None)
    # The user's own notification choices (models/accounts/profile.py: which keys, what they mean).
    notifications: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Invited by email and no password chosen yet (password_hash is then unusable): not an admin who
    # can sign in, so not counted as one by the last-admin rule.
    invited_at: Mapped[datetime | None] = mapped_column(default=None)
    deactivated_at: Mapped[datetime | None] = mapped_column(default=None)

    memberships: Mapped[list[TeamMember]] = relationship(back_populates="user", cascade="all, delete-orphan")

    @property
    def team_ids(self) -> list[int]:
        return [m.team_id for m in self.memberships]

    @property
    def sees_all_teams(self) -> bool:
        return self.role in (Role.ADMIN.value, Role.SUPERVISOR.value)


class TeamMember(Base):
    __tablename__ = "team_members"

    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    # When routing last gave this member one of the team's chats (round robin, least-loaded ties).
    last_routed_at: Mapped[datetime | None] = mapped_column(default=None)

    team: Mapped[Team] = relationship(back_populates="members")
    user: Mapped[User] = relationship(back_populates="memberships")


class ApiToken(Base):
    """A personal API token; only its SHA-256 is kept."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # What the owner called it ("CI export"), so a list of tokens can be read and the right one revoked.
    name: Mapped[str] = mapped_column(String(120), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)
    expires_at: Mapped[datetime | None] = mapped_column(default=None)  # None: until revoked
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


class PasswordLink(Base):
    """A one-time link to set a password: an invitation (72 h) or a reset (2 h). Only the SHA-256 of
    its secret is kept; using it, issuing a newer one or deactivating the user ends it."""

    __tablename__ = "password_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    purpose: Mapped[str] = mapped_column(String(20))  # invite | reset
    created_by: Mapped[int | None] = mapped_column(Integer, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column(default=None)


class AuthSession(Base):
    """A console login. The cookie carries only the random id (its SHA-256 is kept here), so ending a
    session — logout, a password change elsewhere, deactivation — is one row update that every process sees."""

    __tablename__ = "sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    id_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    user_agent: Mapped[str] = mapped_column(String(255), default="")
    ip: Mapped[str] = mapped_column(String(64), default="")


class AuditEvent(Base):
    """An append-only record of who did what. Survives the deletion of what it names."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor_user_id: Mapped[int | None] = mapped_column(Integer, default=None)
    conversation_id: Mapped[int | None] = mapped_column(Integer, default=None, index=True)
    kind: Mapped[str] = mapped_column(String(60))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
