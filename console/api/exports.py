"""REST API of exports under /api/v1: conversations (CSV or JSON Lines, streamed; large ones written in
the background to shared storage), one contact's conversations (from their journey), and one
conversation's transcript as text or PDF.

Nothing is held whole in memory: responses are generators over server-side cursors
(models/reports/export.py). PDF transcripts are not offered: no small pure-Python PDF library is
installed, and a transcript is readable as text.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, stream_with_context

from console.api.declare import api, query_args
from console.api.schemas import reports as sr
from console.auth import api_user
from console.services import services
from models.contacts.identities import access_contact
from models.conversations.access import access_conversation
from models.errors import Conflict, NotFound
from models.reports.export import (
    FORMATS,
    ExportQuery,
    check_export_query,
    check_format,
    check_may_export,
    conversations,
    count_conversations,
    render,
    transcript,
)
from models.reports.export_jobs import access_export, do_start_export, run_export
from models.reports.transcript_pdf import transcript_pdf
from models.schema.accounts import Role, User
from models.schema.reports import ExportJob, ExportStatus
from models.storage import NotStored, storage_for

bp = Blueprint("api_exports", __name__, url_prefix="/api/v1")

# Up to this many conversations an export streams at once (200); more are written in the background (202).
INLINE_MAX = 2000
MEDIA = {"csv": "text/csv", "jsonl": "application/x-ndjson"}


def _job_json(job: ExportJob) -> dict[str, Any]:
    url = f"/api/v1/exports/{job.public_id}"
    return {"id": job.public_id, "status": job.status, "total": job.total, "done": job.done, "url": url,
            "download_url": f"{url}/file" if job.status == ExportStatus.DONE else None, "error": job.error}


def _stream(user_id: int, q: Any, *, notes: bool = True) -> Any:
    """The export, line by line, from a session of its own that lives as long as the response."""
    with services().db.session() as s:
        me = s.get(User, user_id)
        assert me is not None
        yield from render(conversations(s, me, q, notes=notes), q.fmt)


@bp.get("/exports/conversations")
@api("Export conversations with their messages, notes, handoff packets, assignments and journey",
     sr.ExportJob, query=sr.ExportQuery, errors=(403,), also=(202,), media=tuple(MEDIA.values()),
     description=f"Supervisors and admins; only conversations the caller may see (restricted ones only for their "
                 f"named users). `status=closed` filters by when they closed, otherwise by when they started. Up to "
                 f"{INLINE_MAX} conversations: 200, streamed as `format` (csv: one line per record; jsonl: one "
                 f"conversation per line). More: 202 with the export job (`url`) to poll; its `download_url` "
                 f"serves the file when done.")
def export_conversations() -> Response:
    user = api_user()
    q = query_args(sr.ExportQuery)
    svc = services()
    with svc.db.session() as s:
        me = s.get(User, user.id)
        assert me is not None
        check_may_export(me)
        query = check_export_query(s, fmt=q.format, start=q.start, end=q.end, status=q.status, team_id=q.team_id)
        large = count_conversations(s, me, query) > INLINE_MAX
    if large:
        with svc.db.transaction() as s:
            me = s.get(User, user.id)
            assert me is not None
            job = do_start_export(s, me, query)
            job_id, out = job.id, _job_json(job)
        svc.jobs.submit(run_export, svc.db, storage_for(svc.settings), job_id)
        return Response(response=jsonify(out).get_data(), status=202, mimetype="application/json")
    response = Response(stream_with_context(_stream(user.id, query)), mimetype=MEDIA[query.fmt])
    response.headers["Content-Disposition"] = f'attachment; filename="parley-conversations.{query.fmt}"'
    return response


@bp.get("/contacts/<int:contact_id>/export")
@api("Export a contact's conversations (their journey) with messages, notes, packets, assignments and steps",
     query=sr.ContactExportQuery, binary=True, media=tuple(MEDIA.values()),
     description="Anybody who may see the contact; only the conversations the caller may see (restricted ones only "
                 "for their named users); private notes for supervisors and admins only. Streamed as `format` (csv, "
                 "the default: one line per record; jsonl: one conversation per line), oldest conversation first.")
def export_contact(contact_id: int) -> Response:
    user = api_user()
    q = query_args(sr.ContactExportQuery)
    with services().db.session() as s:
        access_contact(s, user, contact_id)
        query = ExportQuery(check_format(q.format, FORMATS), None, None, contact_id=contact_id)
    staff = user.role in (Role.ADMIN.value, Role.SUPERVISOR.value)  # private notes are in staff exports only
    response = Response(stream_with_context(_stream(user.id, query, notes=staff)), mimetype=MEDIA[query.fmt])
    response.headers["Content-Disposition"] = f'attachment; filename="parley-contact-{contact_id}.{query.fmt}"'
    return response


@bp.get("/exports/<export_id>")
@api("An export job: its progress, and where to fetch the file when done", sr.ExportJob)
def export_status(export_id: str) -> Response:
    user = api_user()
    with services().db.session() as s:
        return jsonify(_job_json(access_export(s, user, export_id)))


@bp.get("/exports/<export_id>/file")
@api("The file of a finished export (its owner only)", binary=True, errors=(409,))
def export_file(export_id: str) -> Response:
    user = api_user()
    svc = services()
    with svc.db.session() as s:
        job = access_export(s, user, export_id)
        if job.status != ExportStatus.DONE:
            raise Conflict("This export is not ready.", code="not_ready")
        key, fmt = job.storage_key, job.format
    try:
        stream = storage_for(svc.settings).open(key)
    except NotStored:
        raise NotFound("The export's file is gone.") from None

    def chunks() -> Any:
        with stream:
            while block := stream.read(64 * 1024):
                yield block

    response = Response(chunks(), mimetype=MEDIA.get(fmt, "application/octet-stream"))
    response.headers["Content-Disposition"] = f'attachment; filename="parley-conversations.{fmt}"'
    return response


@bp.get("/conversations/<public_id>/transcript")
@api("A conversation's transcript as plain text or PDF (what the customer saw; notes on request)",
     query=sr.TranscriptQuery, binary=True, media=("text/plain", "application/pdf"),
     description="Anybody who may see the conversation. `format=txt` (default) streams text; `format=pdf` is a PDF "
                 "document of the same lines, made on the server.")
def conversation_transcript(public_id: str) -> Response:
    user = api_user()
    q = query_args(sr.TranscriptQuery)
    notes = q.notes == "true"
    if q.format == "pdf":
        with services().db.session() as s:
            body = transcript_pdf(s, access_conversation(s, user, public_id), notes=notes)
        response = Response(body, mimetype="application/pdf")
        response.headers["Content-Disposition"] = f'attachment; filename="{public_id}.pdf"'
        return response
    with services().db.session() as s:
        access_conversation(s, user, public_id)

    def lines() -> Any:
        with services().db.session() as s:
            yield from transcript(s, access_conversation(s, user, public_id), notes=notes)

    response = Response(stream_with_context(lines()), mimetype="text/plain")
    response.headers["Content-Disposition"] = f'inline; filename="{public_id}.txt"'
    return response
