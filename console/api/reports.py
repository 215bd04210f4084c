"""REST API of reports under /api/v1/reports: agents, live chat and the bot, as JSON or CSV.

Figures are computed when asked (the page reloads them only on request); who sees what is decided in
models/reports/query.py (`scope_for`).
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, stream_with_context

from console.api.declare import api, query_args
from console.api.schemas import reports as sr
from console.auth import api_user
from console.services import services
from models.reports.query import check_filters, scope_for
from models.reports.render import report_csv, report_json, run
from models.schema.accounts import User
from models.schema.base import utcnow

bp = Blueprint("api_reports", __name__, url_prefix="/api/v1/reports")

DESCRIPTION = ("`from`/`to`: ISO 8601 (a date is a whole day in the report's time zone: the team's when `team_id` "
               "is given, else UTC); default the last 30 days, at most 366. Durations in seconds. `format=csv` "
               "answers text/csv. Agents see their own row of the agents report; supervisors their teams; admins "
               "everything. Restricted conversations count in the numbers; no report shows any text.")


def _report(name: str) -> Response:
    user = api_user()
    q = query_args(sr.ReportQuery)
    now = utcnow()
    with services().db.session() as s:
        me = s.get(User, user.id)
        assert me is not None
        filters = check_filters(s, name, now=now, start=q.start, end=q.end, team_id=q.team_id,
                                inbox_id=q.inbox_id, channel=q.channel, group_by=q.group_by)
        report = run(s, name, filters, scope_for(me, name, filters), now)
    if q.format == "csv":
        response = Response(stream_with_context(report_csv(report)), mimetype="text/csv")
        response.headers["Content-Disposition"] = f'attachment; filename="parley-{name}-report.csv"'
        return response
    return jsonify(report_json(report))


@bp.get("/agents")
@api("Operators' performance, per agent (or team, day, week)", sr.Report, query=sr.ReportQuery, errors=(403,),
     description=DESCRIPTION, media=("text/csv",))
def agents() -> Response:
    return _report("agents")


@bp.get("/live")
@api("Live chat performance, per team (or inbox, channel, day, week, intent)", sr.Report, query=sr.ReportQuery,
     errors=(403,), description=DESCRIPTION, media=("text/csv",))
def live() -> Response:
    return _report("live")


@bp.get("/bot")
@api("The bot: containment, handoffs, fallbacks and assist drafts, per intent (or team, inbox, channel, day, week)",
     sr.Report, query=sr.ReportQuery, errors=(403,), description=DESCRIPTION, media=("text/csv",))
def bot() -> Response:
    return _report("bot")
