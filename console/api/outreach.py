"""REST API of outreach under /api/v1 (shapes in console/api/schemas/outreach.py):

- `POST /conversations`: start a conversation (New chat) on SMS, WhatsApp or by email invitation;
- `GET|PATCH /conversations/<id>/invitation`: the invitation, and what is prepared before it is sent;
- `POST /conversations/<id>/invite`: send it (a pre-planned session), or send it again with a
  corrected phone or email (re-engage) while the customer has not joined; 409 once they have;
- `POST /conversations/<id>/end`, `POST /conversations/<id>/renew`: end a session (the customer's link
  then follows the team's rule) and bring it back as it was;
- `GET|PUT /teams/<id>/outreach`: that rule (admins set it);
- `GET /outreach/options`, `GET /outreach/contacts`: what the New chat dialog offers.

Email goes out after the transaction commits (connectors/mail.py); a refused mail withdraws the link and
answers 502, the conversation and what was prepared being kept for a resend.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from connectors.mail import MailError, mail_configured, send_mail
from console.api.declare import api, json_body, optional_json_body, query_args
from console.api.schemas import outreach as so
from console.api.schemas.common import Conversation as ConversationOut
from console.auth import api_user
from console.outreach_mail import invitation_mail
from console.serialize import conversations_json, iso
from console.services import services
from models.contacts.identities import may_see_contact
from models.conversations.access import access_conversation
from models.errors import InvalidInput, InvalidState, NotFound
from models.outbox.enqueue import route_for, whatsapp_window
from models.outreach.contacts import contact_for_start
from models.outreach.invite import (
    LinkConfig,
    MailToSend,
    do_mail_failed,
    do_send_invitation,
    do_update_prepared,
    invitation_of,
)
from models.outreach.sessions import (
    customer_statuses,
    do_end_session,
    do_renew_session,
    do_set_end_behaviour,
    end_behaviour,
)
from models.outreach.start import StartRequest, Template, check_start, do_start_conversation
from models.schema.accounts import Team, User
from models.schema.base import utcnow
from models.schema.channels import ChannelConfig, Inbox
from models.schema.contacts import Contact
from models.schema.conversations import Conversation
from models.schema.outreach import Invitation

bp = Blueprint("outreach", __name__, url_prefix="/api/v1")


def _links() -> LinkConfig:
    settings = services().settings
    return LinkConfig(base_url=settings.public_url or request.host_url, secret_key=settings.secret_key,
                      ttl_days=settings.invite_ttl_days)


def _conversation_json(user: User, public_id: str) -> dict[str, Any]:
    with services().db.session() as s:
        conv = access_conversation(s, user, public_id)
        return conversations_json(s, user, [conv])[0]


def _deliver(mail: MailToSend | None, public_id: str) -> tuple[Response, int] | None:
    """Send an invitation mail after its transaction committed; a refusal withdraws the link: 502."""
    if mail is None:
        return None
    try:
        send_mail(services().settings, invitation_mail(mail))
    except MailError as exc:
        with services().db.transaction() as s:
            do_mail_failed(s, mail.invitation_id, str(exc))
        message = (f"The invitation email to {mail.to} was not sent ({exc}). Conversation {public_id} is kept as "
                   "prepared: fix the address or the mail settings and send the invitation again.")
        return jsonify({"error": {"code": "mail_failed", "message": message}}), 502
    return None


@bp.post("/conversations")
@api("Start a conversation (New chat): SMS, WhatsApp, or an email invitation", ConversationOut, status=201,
     body=so.StartConversation, errors=(403, 404, 409, 413, 422, 502),
     description="Created open, owned by a human, assigned to the caller, in the team of the inbox. WhatsApp "
                 "outside the 24-hour window takes a template only (text: 422 `window_closed`).")
def start() -> tuple[Response, int]:
    user = api_user()
    body = json_body(so.StartConversation)
    settings = services().settings
    if (body.contact_id is None) == (body.contact is None):
        raise InvalidInput("Give contact_id or contact (name and phone or email), not both.", code="contact")
    req = check_start(StartRequest(
        channel=body.channel, inbox_id=body.inbox_id, text=body.text, invite=body.invite, pre_plan=body.pre_plan,
        template=Template(body.template.name, list(body.template.variables)) if body.template else None),
        settings.max_message_length)
    if req.channel == "email" and not req.pre_plan and not mail_configured(settings):
        raise InvalidState("Email is not configured (PARLEY_SMTP_URL): invite by SMS instead.", code="no_email")
    new = body.contact
    with services().db.transaction() as s:
        contact = contact_for_start(s, user, contact_id=body.contact_id, name=new.name if new else None,
                                    phone=new.phone if new else None, email=new.email if new else None)
        started = do_start_conversation(s, user, contact, req, _links())
        public_id = started.conversation.public_id
    return _deliver(started.mail, public_id) or (jsonify(_conversation_json(user, public_id)), 201)


def _invitation_json(s: Session, conv: Conversation, inv: Invitation) -> dict[str, Any]:
    now = utcnow()
    state = ("joined" if inv.joined_at else "prepared" if inv.sent_at is None
             else "expired" if inv.expires_at is not None and now >= inv.expires_at else "sent")
    return {"conversation_id": conv.public_id, "via": inv.via, "address": inv.address, "welcome": inv.welcome,
            "state": state, "sent_at": iso(inv.sent_at), "expires_at": iso(inv.expires_at),
            "joined_at": iso(inv.joined_at), "sends": inv.sends, "customer": customer_statuses(s, [conv])[conv.id]}


def _invitation_out(user: User, public_id: str) -> Response:
    with services().db.session() as s:
        conv = access_conversation(s, user, public_id)
        return jsonify(_invitation_json(s, conv, invitation_of(s, conv)))


@bp.get("/conversations/<public_id>/invitation")
@api("The conversation's invitation: how it went, where, whether the customer joined", so.InvitationOut)
def invitation(public_id: str) -> Response:
    return _invitation_out(api_user(), public_id)


@bp.patch("/conversations/<public_id>/invitation")
@api("Change what is prepared before the invitation is sent (welcome message, the customer's name)",
     so.InvitationOut, body=so.PreparedIn, errors=(409, 413))
def prepare(public_id: str) -> Response:
    user = api_user()
    body = json_body(so.PreparedIn)
    with services().db.transaction() as s:
        conv = access_conversation(s, user, public_id, lock=True)
        do_update_prepared(s, user, conv, invitation_of(s, conv, lock=True), welcome=body.welcome, name=body.name,
                           max_length=services().settings.max_message_length)
    return _invitation_out(user, public_id)


@bp.post("/conversations/<public_id>/invite")
@api("Send the invitation, or send it again with a corrected phone or email (re-engage)", so.InvitationOut,
     body=so.InviteIn, errors=(409, 422, 502),
     description="Only while the customer has not joined (409 after). A new link replaces the old one and "
                 "its expiry (PARLEY_INVITE_TTL_DAYS) starts again; everything prepared is kept.")
def invite(public_id: str) -> Response | tuple[Response, int]:
    user = api_user()
    body = optional_json_body(so.InviteIn)
    with services().db.transaction() as s:
        conv = access_conversation(s, user, public_id, lock=True)
        inv = invitation_of(s, conv, lock=True)
        if inv.via == "email" and not mail_configured(services().settings):
            raise InvalidState("Email is not configured (PARLEY_SMTP_URL).", code="no_email")
        mail = do_send_invitation(s, user, conv, inv, _links(), phone=body.phone, email=body.email)
    return _deliver(mail, public_id) or _invitation_out(user, public_id)


@bp.post("/conversations/<public_id>/end")
@api("End the session: the conversation closes and the customer's link follows the team's rule",
     ConversationOut, errors=(403, 409, 422))
def end(public_id: str) -> Response:
    user = api_user()
    with services().db.transaction() as s:
        do_end_session(s, user, access_conversation(s, user, public_id, lock=True))
    return jsonify(_conversation_json(user, public_id))


@bp.post("/conversations/<public_id>/renew")
@api("Renew an ended session: open again as it was (assignees, link)", ConversationOut, errors=(403, 422))
def renew(public_id: str) -> Response:
    user = api_user()
    with services().db.transaction() as s:
        do_renew_session(s, user, access_conversation(s, user, public_id, lock=True))
    return jsonify(_conversation_json(user, public_id))


@bp.get("/teams/<int:team_id>/outreach")
@api("A team's outreach rules: what an ended session leaves the customer", so.TeamOutreachOut)
def team_outreach(team_id: int) -> Response:
    api_user()
    with services().db.session() as s:
        if s.get(Team, team_id) is None:
            raise NotFound("No such team.")
        return jsonify({"team_id": team_id, "end_behaviour": end_behaviour(s, team_id)})


@bp.put("/teams/<int:team_id>/outreach")
@api("Set what an ended session leaves the customer (admins): read_only, no_access or write_again",
     so.TeamOutreachOut, body=so.TeamOutreachIn, errors=(403,))
def set_team_outreach(team_id: int) -> Response:
    user = api_user()
    body = json_body(so.TeamOutreachIn)
    with services().db.transaction() as s:
        rule = do_set_end_behaviour(s, user, team_id, body.end_behaviour)
    return jsonify({"team_id": team_id, "end_behaviour": rule})


@bp.get("/outreach/options")
@api("What New chat offers: inboxes, configured channels, WhatsApp templates and the contact's window",
     so.OutreachOptions, query=so.OptionsQuery)
def options() -> Response:
    user = api_user()
    args = query_args(so.OptionsQuery)
    with services().db.session() as s:
        teams = {t.id: t.name for t in s.scalars(select(Team))}
        inboxes = [{"id": i.id, "name": i.name, "kind": i.kind, "team": teams.get(i.team_id, ""),
                    "is_default": i.is_default}
                   for i in s.scalars(select(Inbox).order_by(Inbox.kind, Inbox.id))
                   if user.sees_all_teams or i.team_id in user.team_ids]
        probe = Conversation(contact_id=args.contact_id or 0, channel="whatsapp")
        wa = route_for(s, probe, "whatsapp")
        sms = route_for(s, probe, "sms")
        window = False
        if args.contact_id is not None and may_see_contact(s, user, args.contact_id):
            window = whatsapp_window(s, args.contact_id)[0]
        templates = [{"name": t["name"], "language": t.get("language", "en"), "body": t.get("body", ""),
                      "variables": t.get("variables", [])} for t in (_templates(wa))]
        return jsonify({"inboxes": inboxes, "email": mail_configured(services().settings), "sms": sms is not None,
                        "whatsapp": wa is not None, "whatsapp_window_open": window, "templates": templates})


def _templates(config: ChannelConfig | None) -> list[dict[str, Any]]:
    return list(config.templates or []) if config is not None else []


@bp.get("/outreach/contacts")
@api("Contacts the caller may write to, by part of a name, number or email", so.ContactOptions,
     query=so.ContactQuery)
def contacts() -> Response:
    user = api_user()
    q = query_args(so.ContactQuery).q.strip()[:100].lower()
    with services().db.session() as s:
        stmt = select(Contact).where(Contact.blocked_at.is_(None)).order_by(Contact.name, Contact.id).limit(200)
        if q:
            like = f"%{q.replace('%', '').replace('_', '')}%"
            stmt = stmt.where(or_(func.lower(Contact.name).like(like), func.lower(Contact.email).like(like),
                                  Contact.phone.like(like)))
        found = [c for c in s.scalars(stmt) if may_see_contact(s, user, c.id)][:20]
        return jsonify({"contacts": [{"id": c.id, "name": c.name, "phone": c.phone, "email": c.email}
                                     for c in found]})
