"""REST endpoints of contacts (under /api/v1; shapes in console/api/schemas/contacts.py): find and list,
edit, link a number, merge, block and unblock, the blocked contacts and what they sent (admins), erase
(admins); and the contacts page.

Erasing is `DELETE /contacts/<id>`: the contact is the resource that goes (its conversations, files and
identities with it), so the REST-natural verb is DELETE on it.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, jsonify, render_template
from sqlalchemy import exists, or_, select
from sqlalchemy.orm import Session

from console.api.declare import api, json_body, query_args
from console.api.schemas import contacts as sch
from console.auth import api_user, current_user, login_required
from console.runtime.channels import runtime
from console.serialize import iso, user_brief
from console.services import services
from models.contacts.blocking import blocked_contacts, blocked_messages, check_reason, do_block, do_unblock
from models.contacts.details import check_contact_changes, do_update_contact
from models.contacts.erase import do_erase_contact
from models.contacts.identities import access_contact, identities_of, may_see_contact
from models.contacts.merge import check_phone, do_link_identity, do_merge_contacts
from models.contacts.tags import normalise_tag
from models.conversations.deletion import check_may_delete, forget_files
from models.conversations.visibility import can_see
from models.errors import InvalidInput, NotFound
from models.schema.accounts import User
from models.schema.broadcasts import ContactTag
from models.schema.contacts import Contact, ContactIdentity
from models.schema.conversations import Conversation

bp = Blueprint("api_contacts", __name__, url_prefix="/api/v1")


def block_json(s: Session, contact: Contact) -> dict[str, Any] | None:
    if contact.blocked_at is None:
        return None
    by = s.get(User, contact.blocked_by) if contact.blocked_by else None
    return {"at": iso(contact.blocked_at), "by": user_brief(by) if by else None, "reason": contact.blocked_reason}


def brief_json(s: Session, c: Contact) -> dict[str, Any]:
    return {"id": c.id, "name": c.name, "email": c.email, "phone": c.phone, "blocked": block_json(s, c)}


def contact_json(s: Session, user: User, contact: Contact) -> dict[str, Any]:
    convs = [c for c in s.scalars(select(Conversation).where(Conversation.contact_id == contact.id)
                                  .order_by(Conversation.id.desc()).limit(50)) if can_see(user, c)]
    return {**brief_json(s, contact), "online": contact.online,
            "identities": [{"channel": i.channel, "address": i.external_id if i.channel != "webchat" else None}
                           for i in identities_of(s, contact.id)],
            "conversations": [{"id": c.public_id, "name": c.name, "status": c.status, "channel": c.channel,
                               "created_at": iso(c.created_at)} for c in convs]}


@bp.get("/contacts")
@api("Find contacts by name, email or number (no query: the latest ones)", sch.ContactList, query=sch.ContactQuery)
def contacts() -> Response:
    """Find contacts (to merge two, or follow one up): by name, email or number."""
    user = api_user()
    args = query_args(sch.ContactQuery)
    q = args.q.strip()[:100]
    if len(q) == 1:
        raise InvalidInput("q must have at least 2 characters.")
    stmt = select(Contact)
    if args.tag is not None:
        tagged = select(ContactTag.contact_id).where(ContactTag.tag == normalise_tag(args.tag))
        stmt = stmt.where(Contact.id.in_(tagged))
    if q:
        pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(or_(
            Contact.name.ilike(pattern, escape="\\"), Contact.email.ilike(pattern, escape="\\"),
            Contact.phone.ilike(pattern, escape="\\"),
            exists().where(ContactIdentity.contact_id == Contact.id, ContactIdentity.channel != "webchat",
                           ContactIdentity.external_id.ilike(pattern, escape="\\"))))
    with services().db.session() as s:
        visible = []
        for c in s.scalars(stmt.order_by(Contact.id.desc()).limit(200)):
            if may_see_contact(s, user, c.id):
                visible.append(brief_json(s, c))
            if len(visible) == 50:
                break
        return jsonify({"contacts": visible})


@bp.get("/contacts/<int:contact_id>")
@api("A contact with its identities on every channel", sch.Contact)
def contact(contact_id: int) -> Response:
    user = api_user()
    with services().db.session() as s:
        return jsonify(contact_json(s, user, access_contact(s, user, contact_id)))


@bp.patch("/contacts/<int:contact_id>")
@api("Correct a contact's name, email or number (audited)", sch.Contact, body=sch.ContactChange)
def edit_contact(contact_id: int) -> Response:
    user = api_user()
    body = json_body(sch.ContactChange)
    changes = check_contact_changes(body.model_dump(exclude_unset=True))
    with services().db.transaction() as s:
        do_update_contact(s, user, access_contact(s, user, contact_id), changes)
    with services().db.session() as s:
        return jsonify(contact_json(s, user, access_contact(s, user, contact_id)))


@bp.delete("/contacts/<int:contact_id>")
@api("Erase a contact (admins; right to be forgotten): every conversation, file and identity of theirs goes",
     status=204, errors=(403,))
def erase_contact(contact_id: int) -> tuple[str, int]:
    user = api_user()
    check_may_delete(user)
    with services().db.transaction() as s:
        target = s.get(Contact, contact_id)  # admins erase any contact, confidential or not
        if target is None:
            raise NotFound("No such contact.")
        keys = do_erase_contact(s, user, target)
    forget_files(runtime().store, keys)
    return "", 204


@bp.post("/contacts/<int:contact_id>/identities")
@api("Link an SMS or WhatsApp number to a contact", sch.Contact, status=201, body=sch.IdentityIn, errors=(403, 409))
def link_identity(contact_id: int) -> tuple[Response, int]:
    user = api_user()
    body = json_body(sch.IdentityIn)
    address = check_phone(body.address)
    with services().db.transaction() as s:
        target = access_contact(s, user, contact_id)
        do_link_identity(s, user, target, body.channel, address)
    with services().db.session() as s:
        return jsonify(contact_json(s, user, access_contact(s, user, contact_id))), 201


@bp.post("/contacts/<int:contact_id>/merge")
@api("Merge another contact into this one (identities and conversations move over)", sch.Contact,
     body=sch.MergeIn, errors=(403, 409, 422))
def merge(contact_id: int) -> Response:
    """Fold another contact (`contact_id` in the body) into this one."""
    user = api_user()
    other_id = json_body(sch.MergeIn).contact_id
    with services().db.transaction() as s:
        keep = access_contact(s, user, contact_id)
        other = access_contact(s, user, other_id)
        do_merge_contacts(s, user, keep, other)
    with services().db.session() as s:
        return jsonify(contact_json(s, user, access_contact(s, user, contact_id)))


@bp.post("/contacts/<int:contact_id>/block")
@api("Block a contact on every channel (anybody who may see it)", sch.Blocked, body=sch.BlockIn,
     description="Its new messages start no conversation and reach no bot or agent; they are kept for admins. "
                 "History stays. `open_conversation`: the conversation still open, which the agent should end.")
def block(contact_id: int) -> Response:
    user = api_user()
    reason = check_reason(json_body(sch.BlockIn).reason)
    with services().db.transaction() as s:
        conv = do_block(s, user, access_contact(s, user, contact_id), reason)
        open_id = conv.public_id if conv is not None and can_see(user, conv) else None
    with services().db.session() as s:
        return jsonify({"contact": contact_json(s, user, access_contact(s, user, contact_id)),
                        "open_conversation": open_id})


@bp.delete("/contacts/<int:contact_id>/block")
@api("Lift a contact's block (supervisors, admins)", status=204, errors=(403, 422))
def unblock(contact_id: int) -> tuple[str, int]:
    user = api_user()
    with services().db.transaction() as s:
        do_unblock(s, user, access_contact(s, user, contact_id))
    return "", 204


@bp.get("/contacts/blocked")
@api("The blocked contacts (admins)", sch.BlockedContactList, errors=(403,))
def blocked() -> Response:
    user = api_user()
    with services().db.session() as s:
        return jsonify({"contacts": [{**brief_json(s, c), "blocked_messages": n}
                                     for c, _, n in blocked_contacts(s, user)]})


@bp.get("/contacts/<int:contact_id>/blocked-messages")
@api("What a blocked contact sent since (admins)", sch.BlockedMessageList, errors=(403,))
def blocked_sent(contact_id: int) -> Response:
    user = api_user()
    with services().db.session() as s:
        return jsonify({"messages": [{"id": m.id, "channel": m.channel, "text": m.text, "media_count": m.media_count,
                                      "received_at": iso(m.received_at)}
                                     for m in blocked_messages(s, user, contact_id)]})


@login_required
def contacts_page() -> Any:
    user = current_user()
    if user is None:
        raise NotFound("No such page.")
    return render_template("contacts.html", user=user)


def register_pages(app: Flask) -> None:
    app.add_url_rule("/contacts", "contacts_page", contacts_page)
