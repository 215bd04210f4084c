"""Shapes of reports and exports (console/api/reports.py, console/api/exports.py)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from console.api.declare import MAX_ID
from console.api.schemas.common import In, Obj, Out

QueryId = Annotated[int, Field(ge=-MAX_ID - 1, le=MAX_ID)]
When = Annotated[str | None, Field(max_length=40, description="ISO 8601 date (a whole day in the report's time "
                                                              "zone) or date and time.")]


class ReportQuery(In):
    start: When = Field(None, alias="from")
    end: When = Field(None, alias="to", description="Exclusive as a date and time; a date includes that whole day. "
                                                    "Default: now, and from 30 days before.")
    team_id: QueryId | None = Field(None, description="One team; its opening hours' time zone cuts days and weeks.")
    inbox_id: QueryId | None = None
    channel: Literal["webchat", "sms", "whatsapp"] | None = None
    group_by: Literal["day", "week", "agent", "team", "inbox", "channel", "intent"] | None = Field(
        None, description="agents: agent (default), team, day, week; live: team (default), inbox, channel, day, "
                          "week, intent; bot: intent (default), team, inbox, channel, day, week.")
    format: Literal["json", "csv"] | None = None


class Report(Out):
    report: str
    timezone: str
    group_by: str
    rows: list[Obj] = Field(description="One per group: `key`, `label` and the metrics; durations in seconds.")
    totals: Obj
    definitions: dict[str, str] = Field(description="Each metric's definition, one sentence.")
    notes: list[str]
    main_metric: str = Field(description="The report's main metric, the column the page charts first: agents "
                                         "`conversations_handled`, live `started`, bot `containment_rate`.")


class ExportQuery(In):
    start: When = Field(None, alias="from")
    end: When = Field(None, alias="to")
    status: Literal["open", "closed"] | None = None
    team_id: QueryId | None = None
    format: Literal["csv", "jsonl"] | None = None


class ContactExportQuery(In):
    format: Literal["csv", "jsonl"] | None = None


class ExportJob(Out):
    id: str
    status: Literal["running", "done", "failed"]
    total: int
    done: int
    url: str = Field(description="Where to poll for this export.")
    download_url: str | None = Field(description="The file, once done.")
    error: str | None


class TranscriptQuery(In):
    format: Literal["txt", "pdf"] | None = Field(None, description="txt (default) or pdf.")
    notes: Literal["true", "false"] | None = Field(None, description="Include private notes (default false).")
