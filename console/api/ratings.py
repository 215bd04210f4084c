"""REST API of the end-of-chat rating under /api/v1 (shapes in console/api/schemas/ratings.py):
`GET /conversations/<id>/rating`, for anybody who may see the conversation. Customers rate through the
webchat socket (console/webchat_feedback.py)."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from console.api.declare import api
from console.api.schemas import ratings as sr
from console.auth import api_user
from console.services import services
from models.conversations.access import access_conversation
from models.feedback.ratings import rating_of

bp = Blueprint("ratings", __name__, url_prefix="/api/v1")


@bp.get("/conversations/<public_id>/rating")
@api("The customer's end-of-chat rating of a conversation (null: none yet)", sr.RatingOf)
def rating(public_id: str) -> Response:
    user = api_user()
    with services().db.session() as s:
        conv = access_conversation(s, user, public_id)
        return jsonify({"rating": rating_of(s, conv.id)})
