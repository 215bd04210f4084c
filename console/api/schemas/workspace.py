"""Shapes of a team's workspace (console/api/workspace.py): canned replies, opening hours, and a
conversation's workspace."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from console.api.schemas.common import Id, In, Out, Strict, Timestamp
from console.api.schemas.routing import QueryId, TeamRouting

Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]

Code = Annotated[str, Field(json_schema_extra={"pattern": "^[a-z0-9_-]{1,40}$"},
                            description="What the agent types after `/`; unique within the reply's scope "
                                        "(stored lowercase).")]
Body = Annotated[str, Field(json_schema_extra={"maxLength": 4000},
                            description="Plain text; `{{contact.name}}` and `{{agent.name}}` are filled in "
                                        "when inserted.")]


class RepliesQuery(In):
    team_id: QueryId | None = Field(None, description="Only this team's (and the caller's personal ones).")
    q: str | None = Field(None, description="Search in the short code and the text.")


class TeamName(Out):
    id: int
    name: str | None


class CannedReply(Out):
    id: int
    short_code: str
    body: str
    scope: Literal["team", "personal"]
    team: TeamName | None
    created_by_id: int | None
    can_edit: bool
    created_at: str
    updated_at: str
    text: str | None = Field(None, description="workspace only: the body with its placeholders filled in")


class CannedReplyList(Out):
    canned_replies: list[CannedReply]


class NewCannedReply(Strict):
    short_code: Code
    body: Body
    team_id: Id | None = Field(None, description="null: personal")


class CannedReplyChange(Strict):
    """The scope of a reply cannot change."""

    short_code: Code | None = None
    body: Body | None = None


class Interval(Out):
    day: Day
    start: str
    end: str


class IntervalIn(Strict):
    day: Day | None = None
    days: list[Day] | None = Field(None, description="several days at once, instead of `day`")
    start: str = Field(description="HH:MM, the team's wall-clock time")
    end: str = Field(description="HH:MM after `start`, or 24:00")


class HoursIn(Strict):
    timezone: str = Field(description="IANA name, e.g. Europe/Paris")
    intervals: list[IntervalIn] = Field(min_length=1)
    out_of_hours_message: str | None = Field(None, json_schema_extra={"maxLength": 1000},
                                             description="Sent to a customer queued while the team is closed; "
                                                         "`{{next_opening}}` becomes the next opening time.")


class Hours(Out):
    always_open: bool
    timezone: str | None
    intervals: list[Interval]
    out_of_hours_message: str | None
    open_now: bool
    next_opening: Timestamp
    next_opening_local: Timestamp
    next_opening_text: str | None


class TeamHours(Hours):
    team_id: int


class Workspace(Out):
    conversation_id: str
    team: TeamName
    member: bool
    on_behalf: bool
    canned_replies: list[CannedReply]
    routing: TeamRouting
    hours: Hours
