"""REST API of contacts' tags under /api/v1 (shapes in console/api/schemas/broadcasts.py; the rules in
models/contacts/tags.py): `GET|PUT /contacts/<id>/tags` (whoever may see the contact), `GET /tags` (every
tag with how many contacts carry it; the contacts are filtered by `GET /contacts?tag=`)."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from console.api.declare import api, json_body
from console.api.schemas import broadcasts as sb
from console.auth import api_user
from console.services import services
from models.contacts.identities import access_contact
from models.contacts.tags import check_tags, do_set_tags, tag_counts, tags_of

bp = Blueprint("tags", __name__, url_prefix="/api/v1")


@bp.get("/contacts/<int:contact_id>/tags")
@api("A contact's tags", sb.TagsOut)
def contact_tags(contact_id: int) -> Response:
    user = api_user()
    with services().db.session() as s:
        contact = access_contact(s, user, contact_id)
        return jsonify({"contact_id": contact.id, "tags": tags_of(s, contact.id)})


@bp.put("/contacts/<int:contact_id>/tags")
@api("Replace a contact's tags (stored lower-case; audited)", sb.TagsOut, body=sb.TagsIn)
def set_contact_tags(contact_id: int) -> Response:
    user = api_user()
    body = json_body(sb.TagsIn)
    tags = check_tags(body.tags)
    with services().db.transaction() as s:
        contact = access_contact(s, user, contact_id)
        do_set_tags(s, user, contact, tags)
    return jsonify({"contact_id": contact_id, "tags": tags})


@bp.get("/tags")
@api("Every tag in use, with how many contacts carry it", sb.TagList)
def all_tags() -> Response:
    api_user()
    with services().db.session() as s:
        return jsonify({"tags": [{"tag": t, "contacts": n} for t, n in tag_counts(s)]})
