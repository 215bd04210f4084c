"""REST API of a pre-planned session's files under /api/v1 (models/outreach/files.py):
`GET|POST /conversations/<id>/invitation/files` (list; add one, multipart, before the invitation goes),
`DELETE /conversations/<id>/invitation/files/<attachment_id>` (take one off the list). Uploads are checked
like any conversation attachment (console/api/files.py: size, sniffed type)."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify
from sqlalchemy.orm import Session

from console.api.declare import api
from console.api.files import read_upload, upload_cap
from console.api.schemas import history as sh
from console.auth import api_user
from console.limits import body_limit
from console.runtime.channels import runtime
from console.services import services
from models.channels.attachments import check_allowed
from models.conversations.access import access_conversation
from models.outreach.files import do_prepare_file, do_unprepare_file, prepared_files
from models.outreach.invite import invitation_of
from models.schema.conversations import Conversation
from models.schema.outreach import Invitation

bp = Blueprint("prepared_files", __name__, url_prefix="/api/v1")


def _json(s: Session, conv: Conversation, inv: Invitation) -> dict[str, object]:
    return {"conversation_id": conv.public_id, "files": [
        {"id": a.public_id, "filename": a.filename, "content_type": a.content_type, "size": a.size,
         "shared": p.shared_message_id is not None} for p, a in prepared_files(s, inv)]}


@bp.get("/conversations/<public_id>/invitation/files")
@api("The files a pre-planned session shares when its invitation goes", sh.PreparedFiles)
def list_files(public_id: str) -> Response:
    user = api_user()
    with services().db.session() as s:
        conv = access_conversation(s, user, public_id)
        return jsonify(_json(s, conv, invitation_of(s, conv)))


@bp.post("/conversations/<public_id>/invitation/files")
@api("Add a file to share when the invitation goes (kept on a private note until then)", sh.PreparedFiles,
     status=201, form=sh.PreparedUpload, errors=(409, 413, 422))
@body_limit(upload_cap)
def add_file(public_id: str) -> tuple[Response, int]:
    user = api_user()
    rt = runtime()
    limit = rt.settings.max_attachment_bytes
    data, filename = read_upload(limit)
    check_allowed(data, filename, limit)
    with services().db.transaction() as s:
        conv = access_conversation(s, user, public_id, lock=True)
        inv = invitation_of(s, conv, lock=True)
        do_prepare_file(s, rt.store, user, conv, inv, data=data, filename=filename, max_bytes=limit)
        return jsonify(_json(s, conv, inv)), 201


@bp.delete("/conversations/<public_id>/invitation/files/<attachment_id>")
@api("Take a file off the list before the invitation goes (it stays on the private note)", status=204,
     errors=(409,))
def remove_file(public_id: str, attachment_id: str) -> tuple[str, int]:
    user = api_user()
    with services().db.transaction() as s:
        conv = access_conversation(s, user, public_id, lock=True)
        do_unprepare_file(s, invitation_of(s, conv, lock=True), attachment_id)
    return "", 204
