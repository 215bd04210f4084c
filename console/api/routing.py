"""REST API of routing under /api/v1: availability, accept, transfers, queues, journeys, and the
admin settings behind them (team routing, agent capacity, visibility, contact presets).

Described in console/openapi.py with the rest of the API.
"""

from __future__ import annotations

from bisect import bisect_right
from typing import Any

from flask import Blueprint, Response, jsonify
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from console.api.declare import api, json_body, query_args
from console.api.schemas import routing as sr
from console.api.schemas.common import Conversation as ConversationOut
from console.auth import api_user
from console.realtime.payloads import transfer_json
from console.serialize import conversations_json, iso, user_brief
from console.services import services
from models.contacts.identities import access_contact
from models.contacts.presets import do_set_contact_presets, presets_of
from models.conversations.access import access_conversation
from models.conversations.restrict import do_restrict
from models.conversations.visibility import can_see
from models.errors import Conflict, NotFound
from models.routing.assign import do_accept
from models.routing.availability import (
    active_chats,
    capacity_of,
    check_availability,
    check_capacity,
    do_set_availability,
    do_set_capacity,
)
from models.routing.queue import queue_outlook, queue_positions, queue_select
from models.routing.settings import check_team_settings, do_update_team_settings, team_settings
from models.routing.transfers import check_transfer_body, do_decide_transfer, do_transfer, pending_for
from models.schema.accounts import AuditEvent, Team, TeamMember, User
from models.schema.base import utcnow
from models.schema.contacts import Contact
from models.schema.conversations import Assignment, Conversation, Message, Phase, Status
from models.schema.routing import Offer, OfferStatus, Transfer, TransferStatus

bp = Blueprint("api_routing", __name__, url_prefix="/api/v1")


def _conversation(s: Session, user: User, conv_id: int) -> dict[str, Any] | None:
    """The conversation as the caller now sees it (None if a transfer took it out of their sight)."""
    conv = s.scalar(select(Conversation).options(
        selectinload(Conversation.contact), selectinload(Conversation.team),
        selectinload(Conversation.assignments).selectinload(Assignment.user)).where(Conversation.id == conv_id))
    if conv is None or not can_see(user, conv):
        return None
    return conversations_json(s, user, [conv])[0]


@bp.post("/me/availability")
@api("Set the caller's availability", sr.Availability, body=sr.AvailabilityIn,
     description="Only `online` agents get chats from the queue. An agent with no console open for 5 minutes is "
                 "set offline; opening one again restores the choice.")
def set_availability() -> Response:
    user = api_user()
    status = check_availability(json_body(sr.AvailabilityIn).status)
    with services().db.transaction() as s:
        do_set_availability(s, user.id, status, now=utcnow())
    return jsonify({"id": user.id, "availability": status})


@bp.get("/me/routing")
@api("The caller's availability, load, pending offers and transfer requests", sr.MyRouting)
def my_routing() -> Response:
    """What the console needs at start: availability, load, and offers and requests awaiting me."""
    user = api_user()
    with services().db.session() as s:
        me = s.get(User, user.id)
        assert me is not None
        offers = s.scalars(select(Offer).join(Conversation, Conversation.id == Offer.conversation_id).where(
            Offer.user_id == user.id, Offer.status == OfferStatus.PENDING.value,
            Conversation.phase == Phase.ASSIGNING.value, Conversation.status == Status.OPEN.value))
        offer_list = [{"id": o.id, "conversation": _conversation(s, user, o.conversation_id),
                       "expires_at": iso(o.expires_at)} for o in offers]
        requests = [{"transfer": transfer_json(s, t), "conversation": _conversation(s, user, t.conversation_id)}
                    for t in pending_for(s, user.id)]
        return jsonify({"availability": me.availability, "capacity": capacity_of(me),
                        "active_chats": active_chats(s, [me.id])[me.id],
                        "offers": [o for o in offer_list if o["conversation"]],
                        "transfer_requests": [r for r in requests if r["conversation"]]})


@bp.post("/conversations/<public_id>/accept")
@api("Accept the chat offered to the caller, or take a waiting chat from the queue", ConversationOut,
     errors=(409, 422), description="First to take it wins: the others get 409 `taken` (or `offered_to_other`). "
                                    "Taking from the queue respects the caller's capacity (409 `at_capacity`).")
def accept(public_id: str) -> Response:
    user = api_user()
    with services().db.transaction() as s:
        do_accept(s, user, public_id, utcnow())
    with services().db.session() as s:
        return jsonify(_conversation(s, user, access_conversation(s, user, public_id).id))


@bp.post("/conversations/<public_id>/transfer")
@api("Transfer to a colleague (asks them) or to another team's queue", sr.TransferResult, body=sr.TransferIn,
     errors=(403, 409, 422),
     description="`to_user_id`: the colleague must accept within the team's transfer timeout (default 60 s); until "
                 "then the conversation is `transferring` and stays with the caller. A supervisor or admin who is "
                 "not assigned reassigns directly (`direct`, default true for them). `to_team_id`: it goes "
                 "straight to that team's queue.")
def transfer(public_id: str) -> Response:
    user = api_user()
    to_user_id, to_team_id, direct = check_transfer_body(sr.changes(json_body(sr.TransferIn)))
    with services().db.transaction() as s:
        t = do_transfer(s, user, public_id, to_user_id=to_user_id, to_team_id=to_team_id,
                                  direct=direct, now=utcnow())
        transfer_id, conv_id = t.id, t.conversation_id
    with services().db.session() as s:
        t2 = s.get(Transfer, transfer_id)
        assert t2 is not None
        return jsonify({"transfer": transfer_json(s, t2), "conversation": _conversation(s, user, conv_id)})


def _decide(transfer_id: int, accept: bool) -> Response:
    user = api_user()
    with services().db.transaction() as s:
        t = do_decide_transfer(s, user, transfer_id, accept=accept, now=utcnow())
        status, conv_id = t.status, t.conversation_id
    if status == TransferStatus.CANCELLED.value:
        raise Conflict("This conversation changed hands or closed meanwhile; the request is void.",
                       code="transfer_cancelled")
    with services().db.session() as s:
        t2 = s.get(Transfer, transfer_id)
        assert t2 is not None
        return jsonify({"transfer": transfer_json(s, t2), "conversation": _conversation(s, user, conv_id)})


@bp.post("/transfers/<int:transfer_id>/accept")
@api("Accept a transfer request made to the caller (the chat moves to the caller)", sr.TransferResult,
     errors=(403, 409, 422))
def accept_transfer(transfer_id: int) -> Response:
    return _decide(transfer_id, True)


@bp.post("/transfers/<int:transfer_id>/reject")
@api("Reject a transfer request made to the caller (the asker keeps the chat)", sr.TransferResult,
     errors=(403, 409, 422))
def reject_transfer(transfer_id: int) -> Response:
    return _decide(transfer_id, False)


def _team_ids_for(s: Session, user: User, team_id: int | None) -> list[int]:
    if team_id is not None:
        if s.get(Team, team_id) is None or not (user.sees_all_teams or team_id in user.team_ids):
            raise NotFound("No such team.")
        return [team_id]
    if user.sees_all_teams:
        return list(s.scalars(select(Team.id).order_by(Team.id)))
    return sorted(user.team_ids)


@bp.get("/queue")
@api("Team queues: waiting and offered chats, longest-waiting first, and the team's agents", sr.QueueList,
     query=sr.TeamQuery, errors=(404,))
def queue() -> Response:
    user = api_user()
    team_id_arg = query_args(sr.TeamQuery).team_id
    now = utcnow()
    with services().db.session() as s:
        out = []
        for team_id in _team_ids_for(s, user, team_id_arg):
            team = s.get(Team, team_id)
            assert team is not None
            settings = team_settings(s, team_id)
            positions = queue_positions(s, team_id)
            convs = [c for c in s.scalars(queue_select(team_id).options(
                selectinload(Conversation.contact), selectinload(Conversation.team),
                selectinload(Conversation.assignments).selectinload(Assignment.user)))
                if can_see(user, c)]
            offers = {o.conversation_id: o for o in s.scalars(select(Offer).where(
                Offer.conversation_id.in_([c.id for c in convs]), Offer.status == OfferStatus.PENDING.value))}
            outlook = queue_outlook(s, team_id, now)
            items = []
            for c, item in zip(convs, conversations_json(s, user, convs), strict=True):
                pos = positions[c.id]
                since = c.queued_at or c.handed_off_at or c.created_at
                offer = offers.get(c.id)
                items.append({**item, "position": pos, "queued_at": iso(since),
                              **outlook.fields(pos),
                              "offer": {"user_id": offer.user_id, "expires_at": iso(offer.expires_at)}
                              if offer else None})
            members = list(s.scalars(select(User).join(TeamMember, TeamMember.user_id == User.id)
                                     .where(TeamMember.team_id == team_id, User.active.is_(True))
                                     .order_by(User.name)))
            loads = active_chats(s, [m.id for m in members])
            out.append({"team": {"id": team.id, "name": team.name}, "policy": settings.policy,
                        "offer_timeout_seconds": settings.offer_timeout_seconds,
                        "conversations": items,
                        "agents": [{"id": m.id, "name": m.name, "availability": m.availability,
                                    "active_chats": loads[m.id], "capacity": capacity_of(m)}
                                   for m in members]})
        return jsonify({"queues": out})


STATES = {Phase.WAITING.value: "Waiting", Phase.ASSIGNING.value: "Assigning", Phase.ASSIGNED.value: "Assigned",
          Phase.TRANSFERRING.value: "Transferring", Phase.ENDED.value: "Ended", Phase.FAILED.value: "Failed"}


def _state(conv: Conversation) -> str:
    if conv.phase in STATES:
        return STATES[conv.phase]
    return "Ended" if conv.status == Status.CLOSED.value else "Bot"


STEP_WORDS = {
    "conversation.handoff": "Handed off by the bot", "conversation.taken_over": "Taken over from the bot",
    "conversation.assigned": "Assignees changed", "conversation.closed": "Closed",
    "conversation.reopened": "Reopened", "conversation.returned_to_bot": "Returned to the bot",
    "conversation.visibility": "Visibility changed", "routing.assigned": "Assigned by routing",
    "routing.offered": "Offered", "routing.offer_accepted": "Offer accepted",
    "routing.offer_expired": "Offer expired", "routing.taken": "Taken from the queue",
    "routing.transfer_requested": "Transfer requested", "routing.transfer_accepted": "Transfer accepted",
    "routing.transfer_rejected": "Transfer rejected", "routing.transfer_expired": "Transfer request expired",
    "routing.transfer_cancelled": "Transfer request void", "routing.reassigned": "Reassigned by a supervisor",
    "routing.transferred_to_team": "Moved to another team's queue",
    "routing.auto_closed": "Completed automatically",
}


@bp.get("/contacts/<int:contact_id>/journey")
@api("A contact's journey: every conversation across channels, with its state and steps", sr.Journey)
def journey(contact_id: int) -> Response:
    user = api_user()
    with services().db.session() as s:
        contact = access_contact(s, user, contact_id)
        convs = [c for c in s.scalars(select(Conversation).options(
            selectinload(Conversation.team), selectinload(Conversation.assignments).selectinload(Assignment.user))
            .where(Conversation.contact_id == contact_id).order_by(Conversation.created_at, Conversation.id))
            if can_see(user, c)]
        ids = [c.id for c in convs]
        steps: dict[int, list[AuditEvent]] = {}
        for ev in s.scalars(select(AuditEvent).where(AuditEvent.conversation_id.in_(ids)).order_by(AuditEvent.id)):
            if ev.conversation_id is not None:
                steps.setdefault(ev.conversation_id, []).append(ev)
        marks: dict[int, list[tuple[Any, int]]] = {}
        for cid, mid, at in s.execute(select(Message.conversation_id, Message.id, Message.created_at)
                                      .where(Message.conversation_id.in_(ids)).order_by(Message.id)):
            marks.setdefault(cid, []).append((at, mid))
        names = {u.id: u.name for u in s.scalars(select(User))}
        teams = {t.id: t.name for t in s.scalars(select(Team))}

        def step_json(ev: AuditEvent) -> dict[str, Any]:
            times = marks.get(ev.conversation_id or 0, [])
            i = bisect_right([t for t, _ in times], ev.created_at)
            data = dict(ev.data or {})
            for key in ("user_id", "to_user_id", "from_user_id"):
                if isinstance(data.get(key), int):
                    data[key.replace("_id", "")] = names.get(data[key])
            for key in ("team_id", "to_team_id", "from_team_id"):
                if isinstance(data.get(key), int):
                    data[key.replace("_id", "")] = teams.get(data[key])
            return {"at": iso(ev.created_at), "kind": ev.kind,
                    "text": STEP_WORDS.get(ev.kind, ev.kind.replace("_", " ").replace(".", ": ")),
                    "actor": {"id": ev.actor_user_id, "name": names.get(ev.actor_user_id)}
                    if ev.actor_user_id else None,
                    "message_id": times[i - 1][1] if i else None, "data": data}

        return jsonify({
            "contact": {"id": contact.id, "name": contact.name, "email": contact.email, "phone": contact.phone},
            "conversations": [{
                "id": c.public_id, "status": c.status, "state": _state(c), "phase": c.phase, "channel": c.channel,
                "team": {"id": c.team.id, "name": c.team.name},
                "agents": [user_brief(a.user) for a in c.assignments],
                "created_at": iso(c.created_at), "handed_off_at": iso(c.handed_off_at),
                "closed_at": iso(c.closed_at), "last_activity_at": iso(c.last_activity_at),
                "steps": [step_json(ev) for ev in steps.get(c.id, [])],
            } for c in convs]})


@bp.patch("/teams/<int:team_id>/routing")
@api("Change a team's routing settings (admins)", sr.TeamRouting, body=sr.TeamRoutingIn, errors=(403,))
def team_routing(team_id: int) -> Response:
    user = api_user()
    changes = check_team_settings(sr.changes(json_body(sr.TeamRoutingIn)))
    with services().db.transaction() as s:
        settings = do_update_team_settings(s, user, team_id, changes)
        return jsonify(settings.json())


@bp.patch("/users/<int:user_id>/routing")
@api("Set an agent's capacity (admins); null: the default, 3", sr.Capacity, body=sr.CapacityIn, errors=(403,))
def user_routing(user_id: int) -> Response:
    user = api_user()
    capacity = check_capacity(json_body(sr.CapacityIn).capacity)
    with services().db.transaction() as s:
        target = do_set_capacity(s, user, user_id, capacity)
        return jsonify({"id": target.id, "capacity": capacity_of(target),
                        "capacity_override": target.capacity})


@bp.put("/conversations/<public_id>/visibility")
@api("Restrict a conversation to named users, or lift the restriction (supervisors, admins)", sr.Visibility,
     body=sr.VisibilityIn, errors=(403,),
     description="Then only those users see it anywhere (lists, counters, search, sockets, API), whatever their "
                 "role, and it can be assigned only among them.")
def conversation_visibility(public_id: str) -> Response:
    user = api_user()
    user_ids = json_body(sr.VisibilityIn).user_ids
    with services().db.transaction() as s:
        ids = do_restrict(s, user, public_id, user_ids, utcnow())
        users = [user_brief(u) for u in s.scalars(select(User).where(User.id.in_(ids or [])))]
    return jsonify({"restricted": ids is not None, "users": users})


@bp.get("/contacts/<int:contact_id>/presets")
@api("A contact's presets for future conversations (admins)", sr.ContactPresets)
def contact_presets(contact_id: int) -> Response:
    user = api_user()
    if user.role != "admin":
        raise NotFound("No such contact.")
    with services().db.session() as s:
        if s.get(Contact, contact_id) is None:
            raise NotFound("No such contact.")
        p = presets_of(s, contact_id)
        return jsonify({"visible_user_ids": p["visible"], "assign_user_ids": p["assign"]})


@bp.put("/contacts/<int:contact_id>/presets")
@api("Preset who sees and who gets a contact's future conversations (admins)", sr.ContactPresets,
     body=sr.PresetsIn, errors=(403,))
def set_contact_presets(contact_id: int) -> Response:
    user = api_user()
    body = sr.changes(json_body(sr.PresetsIn))
    with services().db.transaction() as s:
        p = do_set_contact_presets(s, user, contact_id, body)
    return jsonify({"visible_user_ids": p["visible"], "assign_user_ids": p["assign"]})
