"""Files: agents upload them (every channel), webchat customers upload them, and they are served
only to whoever may see their conversation — agents through the API, providers through an
expiring signed link. Never inline unless a plain image; SVG and HTML always as downloads."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, jsonify, request, send_file
from sqlalchemy import select
from werkzeug.exceptions import RequestEntityTooLarge

from connectors.webchat import CHANNEL as WEBCHAT
from connectors.webchat import visitor_display_name
from console.api.declare import api
from console.api.schemas.channels import Upload
from console.api.schemas.common import Message as MessageOut
from console.auth import api_user
from console.limits import RateLimited, body_limit, client_address, limits
from console.runtime.channels import runtime
from console.serialize import iso, message_json
from console.services import services
from console.widget_inbox import check_widget_request
from models.channels.attachments import INLINE_SAFE, check_allowed, do_attach, safe_filename
from models.contacts.blocking import do_keep_blocked
from models.contacts.identities import do_find_or_create_contact
from models.conversations.access import access_conversation
from models.conversations.ingest import do_ingest_inbound, open_conversation_of
from models.conversations.messages import check_text, do_agent_message
from models.conversations.visibility import can_see
from models.discussions.mentions import do_note_mentions
from models.errors import Forbidden, InvalidInput, NotFound, ParleyError
from models.feedback.prechat import check_prechat_done
from models.schema.channels import Attachment, AttachmentState
from models.schema.conversations import Conversation
from models.storage import NotStored

bp = Blueprint("attachments", __name__)


FORM_SLACK = 64 * 1024  # room for the other multipart fields around the file


def _serve(att: Attachment) -> Response:
    """Stream the file from the shared storage: a local file with ranges and sendfile, an object in S3
    chunk by chunk (never read whole into memory); its SHA-256 is the ETag either way."""
    if att.state != AttachmentState.READY.value or not att.storage_key:
        raise NotFound("This file is not available.")
    return serve_stored(att.storage_key, att.content_type, att.filename, att.size, att.sha256)


def serve_stored(storage_key: str, content_type: str | None, filename: str, size: int | None,
                 sha256: str | None) -> Response:
    """`_serve` for any stored file (internal chat's files too: console/api/internal_chat.py)."""
    inline = content_type in INLINE_SAFE
    store = runtime().store
    options: dict[str, Any] = {"mimetype": content_type or "application/octet-stream",
                               "as_attachment": not inline, "download_name": filename, "max_age": 0}
    path = store.local_path(storage_key)
    if path is not None:
        if not path.is_file():
            raise NotFound("This file is not available.")
        response = send_file(path, conditional=True, **options)
    else:
        try:
            stream = store.open(storage_key)
        except NotStored as exc:
            raise NotFound("This file is not available.") from exc
        response = send_file(stream, conditional=False, etag=False, **options)
        response.call_on_close(stream.close)  # also when a 304 or 416 never reads it
        if size is not None:
            response.content_length = size
        if sha256:
            response.set_etag(sha256)
        response.make_conditional(request.environ, accept_ranges=True, complete_length=size)
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Cross-Origin-Resource-Policy"] = "same-origin"
    return response


@bp.get("/api/v1/attachments/<attachment_id>")
@api("Download a file of a conversation the caller may see (images inline, everything else as a download)",
     binary=True)
def download(attachment_id: str) -> Response:
    user = api_user()
    with services().db.session() as s:
        att = s.scalar(select(Attachment).where(Attachment.public_id == attachment_id))
        conv = s.get(Conversation, att.conversation_id) if att is not None else None
        if att is None or conv is None or not can_see(user, conv):
            raise NotFound("No such file.")
        s.expunge(att)
    return _serve(att)


def _linked(public_id: str | None) -> Attachment:
    """The file a verified signed link names (404 for a bad or expired link, or a file gone since)."""
    if public_id is None:
        abort(404)
    with services().db.session() as s:
        att = s.scalar(select(Attachment).where(Attachment.public_id == public_id))
        if att is None:
            abort(404)
        s.expunge(att)
    return att


@bp.get("/media/<token>")
def provider_fetch(token: str) -> Response:
    """For Twilio/Meta to download a file an agent sent: an expiring signed link, nothing guessable."""
    return _serve(_linked(runtime().links.verify(token)))


def upload_cap() -> int:
    return runtime().settings.max_attachment_bytes + FORM_SLACK


def read_upload(limit: int) -> tuple[bytes, str | None]:
    upload = request.files.get("file")
    if upload is None:
        raise InvalidInput("Send the file as multipart/form-data in the field 'file'.", code="no_file")
    return upload.read(limit + 1), upload.filename


@bp.post("/api/v1/conversations/<public_id>/attachments")
@api("Send a file (optionally with text) on the reply channel, or as a private note", MessageOut, status=201,
     form=Upload, errors=(403, 413, 422), description=Upload.__doc__ or "")
@body_limit(upload_cap)
def agent_upload(public_id: str) -> tuple[Response, int]:
    """An agent sends a file (optionally with text) on the reply channel, or as a private note."""
    user = api_user()
    count_upload(f"user:{user.id}")
    rt, svc = runtime(), services()
    data, filename = read_upload(rt.settings.max_attachment_bytes)
    sniffed = check_allowed(data, filename, rt.settings.max_attachment_bytes)
    text = (request.form.get("text") or "").strip()
    if text:
        check_text(text, svc.settings.max_message_length)
    private = (request.form.get("private") or "").lower() in ("1", "true", "yes")
    channel = request.form.get("channel") or None
    with svc.db.transaction() as s:
        conv = access_conversation(s, user, public_id, lock=True)
        msg = do_agent_message(s, user, conv, text or safe_filename(filename, sniffed), private=private,
                                       channel=channel, outbound={"send_text": bool(text)})
        if private and text:  # @mentions in a note with a file
            do_note_mentions(s, user, conv, msg)
        do_attach(s, rt.store, conv=conv, msg=msg, data=data, filename=filename,
                  max_bytes=rt.settings.max_attachment_bytes)
        s.flush()
        s.refresh(msg)
        return jsonify(message_json(msg, conv.public_id)), 201


def count_upload(who: str) -> None:
    """A file counts against its sender's and its address's upload budgets (agents, widget, hosted page)."""
    settings, lim = services().settings, limits()
    lim.hit("upload", settings.rate_limit_uploads, who, "Too many files")
    lim.hit("upload_addr", settings.rate_limit_uploads_per_address, client_address(), "Too many files")


@bp.post("/webchat/upload")
@body_limit(upload_cap)
def visitor_upload() -> Any:
    """A webchat customer sends a file: the visitor token (form field `token`) says who they are.
    Errors carry the CORS header too, so the widget on the shop's site can show them."""
    from console.errors import status_of

    try:
        return _visitor_upload()
    except RateLimited as exc:
        return _cors(jsonify({"ok": False, "error": {"code": exc.code, "message": exc.message}})), 429, \
            {"Retry-After": str(exc.retry_after)}
    except ParleyError as exc:
        return _cors(jsonify({"ok": False, "error": {"code": exc.code, "message": exc.message}})), status_of(exc)
    except RequestEntityTooLarge:
        return _cors(jsonify({"ok": False, "error": {"code": "file_too_large",
                                                     "message": "The file is too large."}})), 413


def _visitor_upload() -> Any:
    rt, svc = runtime(), services()
    visitor = svc.visitors.verify(request.form.get("token"))
    if visitor is None:
        return _cors(jsonify({"ok": False, "error": {"code": "bad_token", "message": "Reconnect to chat."}})), 403
    count_upload(f"visitor:{visitor.visitor_id}")
    data, filename = read_upload(rt.settings.max_attachment_bytes)
    sniffed = check_allowed(data, filename, rt.settings.max_attachment_bytes)
    text = f"[file: {safe_filename(filename, sniffed)}]"
    conv_id: int | None = None
    with svc.db.transaction() as s:
        inbox = check_widget_request(s, request.form.get("widget_key"))  # the widget's inbox, on its sites
        contact = do_find_or_create_contact(s, WEBCHAT, visitor.visitor_id,
                                                    visitor_display_name(visitor.visitor_id))
        if contact.blocked:  # kept for admins (the file is not), then refused (models/contacts/blocking.py)
            do_keep_blocked(s, contact=contact, channel=WEBCHAT, text=text, provider_message_id=None, media_count=1)
        else:
            if open_conversation_of(s, contact) is None:  # a file starts no chat before the pre-chat form
                check_prechat_done(inbox.options, contact, visitor_display_name(visitor.visitor_id))
            ingested = do_ingest_inbound(s, contact=contact, channel=WEBCHAT, inbox=inbox, text=text)
            do_attach(s, rt.store, conv=ingested.conversation, msg=ingested.message, data=data, filename=filename,
                      max_bytes=rt.settings.max_attachment_bytes)
            reply = {"ok": True, "id": ingested.message.id, "conversation_id": ingested.conversation.public_id,
                     "text": ingested.message.text, "created_at": iso(ingested.message.created_at)}
            conv_id = ingested.conversation.id
    if conv_id is None:
        raise Forbidden("This contact is blocked.", code="blocked")
    svc.process_conversation(conv_id)
    return _cors(jsonify(reply))


def _cors(response: Response) -> Response:
    origins = services().settings.widget_origins
    origin = request.headers.get("Origin")
    if origins == ("*",):
        response.headers["Access-Control-Allow-Origin"] = "*"
    elif origin and origin in origins:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Vary"] = "Origin"
    return response


@bp.get("/webchat/files/<token>")
def visitor_download(token: str) -> Response:
    """A file an agent sent to a webchat customer: the link came over that customer's own socket."""
    response = _serve(_linked(runtime().links.verify_visitor(token)))
    response.headers["Content-Disposition"] = response.headers["Content-Disposition"].replace("inline", "attachment")
    response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
    return response
