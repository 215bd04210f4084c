"""The hosted chat page: `/c/<token>`, a customer's personal link (models/outreach/links.py), the webchat
as a full page with no embedding site needed.

The page reads and writes through `/c/<token>/…` JSON (the token is the only credential: no cookie is
set or read here, so there is nothing for another site to ride on), and listens on the `/webchat` socket
as the link's own webchat identity, so agents' replies arrive live and agents see the customer online
and offline as for the widget. Opening the page in a browser (its script, not a link preview) marks the
customer joined.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, jsonify, render_template, request
from sqlalchemy import select
from werkzeug.exceptions import RequestEntityTooLarge

from connectors.webchat import customer_message, message_key
from console.api.files import count_upload, read_upload, upload_cap
from console.csp import HOSTED_CHAT_CSP
from console.errors import status_of
from console.limits import RateLimited, body_limit, client_address, limits
from console.runtime.channels import runtime
from console.serialize import iso
from console.services import services
from console.widget_history import with_files
from models.channels.attachments import check_allowed, do_attach, safe_filename
from models.conversations.messages import check_text
from models.errors import InvalidInput, NotFound, ParleyError
from models.feedback.ratings import awaiting_rating, check_rating, do_rate, rating_json
from models.outreach.links import LinkExpired, access_invitation
from models.outreach.sessions import customer_history, customer_view, do_customer_writes, do_join
from models.schema.accounts import Team
from models.schema.contacts import Contact
from models.schema.conversations import Conversation
from models.schema.outreach import Invitation

bp = Blueprint("hosted", __name__)


def _status(exc: ParleyError) -> int:
    if isinstance(exc, RateLimited):
        return 429
    return 410 if isinstance(exc, LinkExpired) else status_of(exc)


@bp.get("/c/<token>")
def page(token: str) -> tuple[str, int] | tuple[str, int, dict[str, str]]:
    """The page itself; a bad, expired or closed link gets a page that says so (and nothing else)."""
    with services().db.session() as s:
        try:
            inv = access_invitation(s, services().settings.secret_key, token)
            view = customer_view(s, inv)
        except ParleyError as exc:
            return render_template("hosted_chat.html", token=None, problem=exc.message), _status(exc)
        team = s.get(Team, view.conversation.team_id)
        html = render_template("hosted_chat.html", token=token, problem=None, team=team.name if team else "Support")
    return html, 200, {"Content-Security-Policy": HOSTED_CHAT_CSP}  # a bot's images from https sites


def _json(token: str, work: Callable[[Any, Invitation], Any], *, lock: bool = False) -> Any:
    """Run `work(session, invitation)` for a valid link in one transaction; errors as JSON."""
    try:
        with services().db.transaction() as s:
            inv = access_invitation(s, services().settings.secret_key, token, lock=lock)
            return work(s, inv)
    except ParleyError as exc:
        return jsonify({"error": {"code": exc.code, "message": exc.message}}), _status(exc)


def _state(s: Any, inv: Invitation) -> dict[str, Any]:
    view = customer_view(s, inv)
    contact = s.get(Contact, inv.contact_id)
    team = s.get(Team, view.conversation.team_id)
    return {"conversation_id": view.conversation.public_id, "state": view.state, "ended": view.ended,
            "rating_wanted": view.ended and awaiting_rating(s, view.conversation),
            "team": team.name if team else "", "name": contact.name if contact else "",
            "messages": with_files(s, [customer_message(id=m.id, conversation_id=pid, sender_type=m.sender_type,
                                                        text=m.text, created_at=iso(m.created_at) or "",
                                                        rich=m.rich)
                                       for m, pid in customer_history(s, inv)])}


@bp.post("/c/<token>/session")
def session(token: str) -> Any:
    """The page opened: the customer joins (first time), and gets the webchat token of their link."""

    def work(s: Any, inv: Invitation) -> Response:
        state = _state(s, inv)  # a link that may not be opened any more joins nobody
        do_join(s, inv)
        return jsonify({**state, "visitor_token": services().visitors.token_for(inv.visitor_id)})

    return _json(token, work, lock=True)


@bp.get("/c/<token>/messages")
def messages(token: str) -> Any:
    return _json(token, lambda s, inv: jsonify(_state(s, inv)))


@bp.post("/c/<token>/messages")
def post_message(token: str) -> Any:
    svc = services()
    data = request.get_json(silent=True)
    try:
        if not isinstance(data, dict):
            raise InvalidInput('Send {"text": "..."}.', code="invalid")
        text = check_text(data.get("text"), svc.settings.max_message_length)
    except ParleyError as exc:
        return jsonify({"error": {"code": exc.code, "message": exc.message}}), _status(exc)
    done: dict[str, Any] = {}

    def work(s: Any, inv: Invitation) -> tuple[Response, int]:
        settings, lim = svc.settings, limits()
        lim.hit("webchat_msg", settings.rate_limit_webchat_messages, inv.visitor_id, "Too many messages")
        lim.hit("webchat_msg_addr", settings.rate_limit_webchat_messages_per_address, client_address(),
                "Too many messages")
        ingested = do_customer_writes(s, inv, text, message_key(inv.visitor_id, data.get("client_id")))
        done["conversation_id"] = ingested.conversation.id
        m = ingested.message
        return jsonify(customer_message(id=m.id, conversation_id=ingested.conversation.public_id,
                                        sender_type=m.sender_type, text=m.text,
                                        created_at=iso(m.created_at) or "")), 201

    answer = _json(token, work, lock=True)
    if "conversation_id" in done:
        svc.process_conversation(done["conversation_id"])  # the bot, when it owns the conversation
    return answer


def _rated_conversation(s: Any, inv: Invitation, public_id: Any) -> Conversation:
    """The conversation a rating is for: one this link reached (the latest when none is named)."""
    if public_id is None:
        return customer_view(s, inv).conversation
    conv = (s.scalar(select(Conversation).where(Conversation.public_id == public_id))
            if isinstance(public_id, str) else None)
    if conv is None or conv.id not in (inv.conversation_ids or []) or conv.contact_id != inv.contact_id:
        raise NotFound("No such conversation.")
    return conv


@bp.post("/c/<token>/rating")
def rate(token: str) -> Any:
    """The end-of-chat rating from the hosted page: as the widget's `rate` (docs/prechat_rating.md), for a
    conversation of this link, whatever channel it lives on."""
    svc = services()
    data = request.get_json(silent=True)
    try:
        score, comment = check_rating(data)
        public_id = data.get("conversation_id") if isinstance(data, dict) else None
    except ParleyError as exc:
        return jsonify({"error": {"code": exc.code, "message": exc.message}}), _status(exc)

    def work(s: Any, inv: Invitation) -> tuple[Response, int]:
        limits().hit("webchat_msg", svc.settings.rate_limit_webchat_messages, inv.visitor_id, "Too many messages")
        rating = rating_json(do_rate(s, _rated_conversation(s, inv, public_id), score, comment))
        assert rating is not None
        return jsonify({"score": rating["score"], "comment": rating["comment"]}), 201

    return _json(token, work, lock=True)


@bp.post("/c/<token>/upload")
@body_limit(upload_cap)
def upload(token: str) -> Any:
    """The customer sends a file from the hosted page (multipart field `file`): a message "[file: name]"
    with the file, in the conversation the link reaches now, by the same rules as text (an ended session
    follows the team's rule) and the same checks as the widget's files."""
    svc, rt = services(), runtime()
    done: dict[str, Any] = {}
    try:
        data, filename = read_upload(rt.settings.max_attachment_bytes)
        sniffed = check_allowed(data, filename, rt.settings.max_attachment_bytes)
    except ParleyError as exc:
        return jsonify({"error": {"code": exc.code, "message": exc.message}}), _status(exc)
    except RequestEntityTooLarge:
        return jsonify({"error": {"code": "file_too_large", "message": "The file is too large."}}), 413

    def work(s: Any, inv: Invitation) -> tuple[Response, int]:
        count_upload(f"visitor:{inv.visitor_id}")
        ingested = do_customer_writes(s, inv, f"[file: {safe_filename(filename, sniffed)}]", None)
        do_attach(s, rt.store, conv=ingested.conversation, msg=ingested.message, data=data, filename=filename,
                  max_bytes=rt.settings.max_attachment_bytes)
        done["conversation_id"] = ingested.conversation.id
        m = ingested.message
        shown = customer_message(id=m.id, conversation_id=ingested.conversation.public_id,
                                 sender_type=m.sender_type, text=m.text, created_at=iso(m.created_at) or "")
        return jsonify(with_files(s, [shown])[0]), 201

    answer = _json(token, work, lock=True)
    if "conversation_id" in done:
        svc.process_conversation(done["conversation_id"])
    return answer
