"""Shapes of user management (console/api/users.py) and of the caller's own profile."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StrictBool, StrictInt

from console.api.declare import MAX_ID
from console.api.schemas.common import Id, In, Out, Ref, Strict, Timestamp

RoleName = Literal["admin", "supervisor", "agent"]
UserStatus = Literal["active", "invited", "deactivated"]
Capacity = Annotated[StrictInt, Field(ge=0, le=100)]
Name = Annotated[str, Field(min_length=1, max_length=120)]
Password = Annotated[str, Field(min_length=8, max_length=200)]


class User(Out):
    id: int
    email: str
    name: str
    role: RoleName
    status: UserStatus = Field(description="invited: has not chosen a password yet; deactivated: cannot sign in")
    teams: list[Ref]
    capacity: int = Field(description="Most chats at once (the default, 3, unless overridden)")
    capacity_override: int | None
    availability: str
    created_at: Timestamp
    invited_at: Timestamp
    deactivated_at: Timestamp


class UserList(Out):
    users: list[User]
    total: int = Field(description="How many users match (the list holds at most `limit` of them)")


class UsersQuery(In):
    q: Annotated[str, Field(max_length=200, description="Part of a name or an email")] | None = None
    role: RoleName | None = None
    status: Literal["active", "invited", "deactivated", "all"] | None = Field(
        None, description="absent: everyone not deactivated; invited, deactivated and all: admins and supervisors")
    team_id: Annotated[int, Field(ge=-MAX_ID - 1, le=MAX_ID)] | None = None
    limit: Annotated[int, Field(ge=1, le=1000)] = 1000
    offset: Annotated[int, Field(ge=0, le=MAX_ID)] = 0


class NewUser(Strict):
    email: Annotated[str, Field(max_length=254)]
    name: Name | None = None
    role: RoleName = "agent"
    team_ids: Annotated[list[Id], Field(max_length=500)] | None = Field(
        None, description="Teams to join (absent: the default team)")
    capacity: Capacity | None = None
    password: Password | None = Field(None, description="Absent: the user is invited by email to choose one")


class MailOutcome(Out):
    sent: bool
    error: str | None = Field(description="Why the mail server did not take it")


class Invitation(MailOutcome):
    expires_at: Timestamp


class UserCreated(User):
    invitation: Invitation | None = Field(description="The invitation mailed (null: created with a password)")


class UserPatch(Strict):
    name: Name | None = None
    role: RoleName | None = None
    team_ids: Annotated[list[Id], Field(max_length=500)] | None = Field(None, description="The whole new set")
    capacity: Capacity | None = Field(None, description="null: the default, 3")


class PasswordLinkSent(Out):
    purpose: Literal["invite", "reset"] = Field(description="invite while the user has never chosen a password")
    expires_at: Timestamp
    mail: MailOutcome


class Notifications(Strict):
    alerts: StrictBool | None = Field(None, description="Sound and desktop notifications in the console")


class NotificationsOut(Out):
    alerts: bool


class Me(Out):
    id: int
    email: str
    name: str
    role: RoleName
    availability: str
    teams: list[Ref]
    notifications: NotificationsOut


class MePatch(Strict):
    name: Name | None = None
    notifications: Notifications | None = None
