"""REST endpoints of the widget SDK (under /api/v1; shapes in console/api/schemas/widget_sdk.py): a
conversation's About facts (page, referrer, the site's attributes) for the console, and the admin's
identity-verification secret of a webchat inbox (created or replaced here; shown only to admins)."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify
from sqlalchemy import select

from console.api.declare import api
from console.api.schemas import widget_sdk as sch
from console.auth import api_user
from console.services import services
from models.contacts.widget_sdk import USER
from models.conversations.access import access_conversation
from models.inboxes.identity import do_rotate_identity_secret
from models.inboxes.manage import access_inbox, check_admin
from models.schema.contacts import Contact, ContactIdentity

bp = Blueprint("api_widget_sdk", __name__, url_prefix="/api/v1")


@bp.get("/conversations/<public_id>/about")
@api("What the site told about the customer: the page the chat started on, the referrer, its attributes",
     sch.About)
def about(public_id: str) -> Response:
    user = api_user()
    with services().db.session() as s:
        conv = access_conversation(s, user, public_id)
        contact = s.get(Contact, conv.contact_id)
        verified = s.scalar(select(ContactIdentity.external_id).where(
            ContactIdentity.contact_id == conv.contact_id, ContactIdentity.channel == USER)
            .order_by(ContactIdentity.id).limit(1))
        attributes = (contact.custom_attributes if contact is not None else None) or conv.custom_attributes or {}
        return jsonify({"conversation_id": conv.public_id, "page_url": conv.page_url, "referrer": conv.referrer,
                        "attributes": attributes, "verified_user_id": verified})


@bp.post("/inboxes/<int:inbox_id>/identity-secret")
@api("Create or replace a webchat inbox's identity-verification secret (admins): hashes signed with "
     "the old one stop verifying", sch.IdentitySecret, errors=(400, 403))
def rotate_identity_secret(inbox_id: int) -> Response:
    user = api_user()
    check_admin(user)
    with services().db.transaction() as s:
        secret = do_rotate_identity_secret(s, user, access_inbox(s, user, inbox_id))
    return jsonify({"identity_secret": secret})
