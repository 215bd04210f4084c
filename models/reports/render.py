"""A report as JSON (what the API answers) and as CSV (one line per row, nested counts flattened)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from models.reports.agents import agents_report
from models.reports.bot import bot_report
from models.reports.csvcell import csv_cell
from models.reports.definitions import DEFINITIONS, MAIN_METRIC, NOTES
from models.reports.live import live_report
from models.reports.query import Filters, Report, Scope, is_postgresql

RUNNERS: dict[str, Callable[[Session, Filters, Scope, datetime], Report]] = {
    "agents": agents_report, "live": live_report, "bot": bot_report}


def run(session: Session, name: str, filters: Filters, scope: Scope, now: datetime) -> Report:
    if is_postgresql(session):
        # A report's statements are short: compiling them (JIT) costs more than it saves (40-60 ms each).
        session.execute(text("SET LOCAL jit = off"))
    return RUNNERS[name](session, filters, scope, now)


def report_json(report: Report) -> dict[str, Any]:
    f = report.filters
    return {
        "report": report.name,
        "from": f.start.isoformat(), "to": f.end.isoformat(), "timezone": str(f.tz), "group_by": f.group_by,
        "filters": {"team_id": f.team_id, "inbox_id": f.inbox_id, "channel": f.channel},
        "rows": report.rows, "totals": report.totals, **report.extra,
        "definitions": DEFINITIONS[report.name], "notes": NOTES[report.name],
        "main_metric": MAIN_METRIC[report.name],
    }


def _flat(row: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in row.items():
        if isinstance(value, dict):
            out.update({f"{name}.{k}": v for k, v in sorted(value.items())})
        else:
            out[name] = value
    return out


def report_csv(report: Report) -> Iterator[str]:
    """The rows, then a `total` line; durations in seconds, empty where there is nothing to measure."""
    rows = [_flat(r) for r in report.rows] + [_flat({"key": "total", "label": "total", **report.totals})]
    columns: list[str] = []
    for r in rows:
        columns += [c for c in r if c not in columns]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, restval="", extrasaction="ignore")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: csv_cell(v) for k, v in r.items()})
    yield buf.getvalue()
