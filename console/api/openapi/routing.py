"""The OpenAPI description of the routing endpoints (console/api_routing.py; merged into console/openapi.py)."""

from __future__ import annotations

from typing import Any

from console.api.openapi.parts import op as _op
from console.api.openapi.parts import path_param as _path
from console.api.openapi.parts import ref as _ref

_CONV = _path("id", "string", "The conversation's public id.")


_TRANSFER = _path("transfer_id", description="The transfer request's id.")


_CONTACT = _path("contact_id", description="The contact's id.")


_TEAM = _path("team_id", description="The team's id.")


_USER = _path("user_id", description="The user's id.")


_IDS = {"type": "array", "items": {"type": "integer"}}


_SECONDS_OR_OFF = {"type": ["integer", "null"], "minimum": 5, "description": "Seconds; null switches it off."}


def paths() -> dict[str, Any]:
    transfer_answer = _op("", _ref("TransferResult"), params=[_TRANSFER], errors=("401", "404", "409"))
    return {
        "/me/availability": {"post": _op(
            "Set the caller's availability", _ref("Availability"), errors=("400", "401"),
            description="Only `online` agents get chats from the queue. An agent with no console open for "
                        "5 minutes is set offline; opening one again restores the choice.",
            body={"type": "object", "required": ["status"],
                  "properties": {"status": {"enum": ["online", "away", "offline"]}}})},
        "/me/routing": {"get": _op("The caller's availability, load, pending offers and transfer requests",
                                   _ref("MyRouting"))},
        "/conversations/{id}/accept": {"post": _op(
            "Accept the chat offered to the caller, or take a waiting chat from the queue", _ref("Conversation"),
            params=[_CONV], errors=("401", "404", "409", "422"),
            description="First to take it wins: the others get 409 `taken` (or `offered_to_other`). "
                        "Taking from the queue respects the caller's capacity (409 `at_capacity`).")},
        "/conversations/{id}/transfer": {"post": _op(
            "Transfer to a colleague (asks them) or to another team's queue", _ref("TransferResult"),
            params=[_CONV], errors=("400", "401", "403", "404", "409", "422"),
            description="`to_user_id`: the colleague must accept within the team's transfer timeout (default "
                        "60 s); until then the conversation is `transferring` and stays with the caller. A "
                        "supervisor or admin who is not assigned reassigns directly (`direct`, default true "
                        "for them). `to_team_id`: it goes straight to that team's queue.",
            body={"type": "object", "properties": {
                "to_user_id": {"type": "integer"}, "to_team_id": {"type": "integer"},
                "direct": {"type": "boolean"}}})},
        "/transfers/{transfer_id}/accept": {"post": {**transfer_answer, "summary": "Accept a transfer request "
                                                     "made to the caller (the chat moves to the caller)"}},
        "/transfers/{transfer_id}/reject": {"post": {**transfer_answer, "summary": "Reject a transfer request "
                                                     "made to the caller (the asker keeps the chat)"}},
        "/queue": {"get": _op(
            "Team queues: waiting and offered chats, longest-waiting first, and the team's agents",
            _ref("QueueList"), errors=("400", "401", "404"),
            params=[{"name": "team_id", "in": "query", "schema": {"type": "integer"},
                     "description": "One team (default: every team the caller serves)."}])},
        "/contacts/{contact_id}/journey": {"get": _op(
            "A contact's journey: every conversation across channels, with its state and steps",
            _ref("Journey"), params=[_CONTACT], errors=("401", "404"))},
        "/teams": {"get": _op("Teams and their routing settings", _ref("TeamList"))},
        "/teams/{team_id}/routing": {"patch": _op(
            "Change a team's routing settings (admins)", _ref("TeamRouting"), params=[_TEAM],
            errors=("400", "401", "403", "404"), body={"$ref": "#/components/schemas/TeamRouting"})},
        "/users/{user_id}/routing": {"patch": _op(
            "Set an agent's capacity (admins); null: the default, 3", _ref("Capacity"), params=[_USER],
            errors=("400", "401", "403", "404"),
            body={"type": "object", "required": ["capacity"],
                  "properties": {"capacity": {"type": ["integer", "null"], "minimum": 0, "maximum": 100}}})},
        "/conversations/{id}/visibility": {"put": _op(
            "Restrict a conversation to named users, or lift the restriction (supervisors, admins)",
            _ref("Visibility"), params=[_CONV], errors=("400", "401", "403", "404"),
            description="Then only those users see it anywhere (lists, counters, search, sockets, API), "
                        "whatever their role, and it can be assigned only among them.",
            body={"type": "object", "required": ["user_ids"],
                  "properties": {"user_ids": {"type": ["array", "null"], "items": {"type": "integer"}}}})},
        "/contacts/{contact_id}/presets": {
            "get": _op("A contact's presets for future conversations (admins)", _ref("ContactPresets"),
                       params=[_CONTACT], errors=("401", "404")),
            "put": _op("Preset who sees and who gets a contact's future conversations (admins)",
                       _ref("ContactPresets"), params=[_CONTACT], errors=("400", "401", "403", "404"),
                       body={"$ref": "#/components/schemas/ContactPresets"}),
        },
    }


def schemas() -> dict[str, Any]:
    ts = {"type": ["string", "null"], "format": "date-time"}
    who = {"type": ["object", "null"], "properties": {"id": {"type": "integer"}, "name": {"type": "string"}}}
    conv_ref = {"$ref": "#/components/schemas/Conversation"}
    return {
        "Availability": {"type": "object", "properties": {
            "id": {"type": "integer"}, "availability": {"enum": ["online", "away", "offline"]}}},
        "MyRouting": {"type": "object", "properties": {
            "availability": {"type": "string"}, "capacity": {"type": "integer"}, "active_chats": {"type": "integer"},
            "offers": {"type": "array", "items": {"type": "object", "properties": {
                "id": {"type": "integer"}, "conversation": conv_ref, "expires_at": ts}}},
            "transfer_requests": {"type": "array", "items": {"$ref": "#/components/schemas/TransferResult"}}}},
        "Transfer": {"type": "object", "properties": {
            "id": {"type": "integer"},
            "status": {"enum": ["pending", "accepted", "rejected", "expired", "cancelled", "done"]},
            "from_user": who, "to_user": who, "requested_by": who,
            "to_team": {"type": ["object", "null"]}, "created_at": ts, "expires_at": ts, "decided_at": ts}},
        "TransferResult": {"type": "object", "properties": {
            "transfer": {"$ref": "#/components/schemas/Transfer"},
            "conversation": {"oneOf": [conv_ref, {"type": "null"}],
                             "description": "null when the caller can no longer see it"}}},
        "QueueList": {"type": "object", "properties": {"queues": {"type": "array", "items": {
            "type": "object", "properties": {
                "team": {"type": "object"}, "policy": {"enum": ["manual", "round_robin", "least_loaded"]},
                "offer_timeout_seconds": {"type": ["integer", "null"]},
                "conversations": {"type": "array", "items": {"allOf": [conv_ref, {"type": "object", "properties": {
                    "position": {"type": "integer"}, "queued_at": ts,
                    "estimated_wait_seconds": {"type": ["integer", "null"],
                                               "description": "null while the team is closed"},
                    "team_open": {"type": "boolean", "description": "teams with opening hours only: open now"},
                    "opens_at": ts, "opens_at_text": {"type": ["string", "null"]},
                    "offer": {"type": ["object", "null"]}}}]}},
                "agents": {"type": "array", "items": {"type": "object", "properties": {
                    "id": {"type": "integer"}, "name": {"type": "string"}, "availability": {"type": "string"},
                    "active_chats": {"type": "integer"}, "capacity": {"type": "integer"}}}}}}}}},
        "Journey": {"type": "object", "properties": {
            "contact": {"type": "object"},
            "conversations": {"type": "array", "items": {"type": "object", "properties": {
                "id": {"type": "string"}, "status": {"enum": ["open", "closed"]},
                "state": {"enum": ["Bot", "Waiting", "Assigning", "Assigned", "Transferring", "Ended", "Failed"]},
                "channel": {"type": "string"}, "team": {"type": "object"}, "agents": {"type": "array"},
                "created_at": ts, "handed_off_at": ts, "closed_at": ts, "last_activity_at": ts,
                "steps": {"type": "array", "items": {"type": "object", "properties": {
                    "at": ts, "kind": {"type": "string"}, "text": {"type": "string"}, "actor": who,
                    "message_id": {"type": ["integer", "null"],
                                   "description": "The last message at that point (to open it there)"},
                    "data": {"type": "object"}}}}}}}}},
        "TeamRouting": {"type": "object", "properties": {
            "policy": {"enum": ["manual", "round_robin", "least_loaded"]},
            "offer_timeout_seconds": _SECONDS_OR_OFF, "transfer_timeout_seconds": {"type": "integer", "minimum": 5},
            "idle_timeout_seconds": _SECONDS_OR_OFF, "waiting_timeout_seconds": _SECONDS_OR_OFF,
            "closing_message": {"type": "string"}, "queue_message": {"type": "string"}}},
        "TeamList": {"type": "object", "properties": {"teams": {"type": "array", "items": {
            "type": "object", "properties": {"id": {"type": "integer"}, "name": {"type": "string"},
                                             "routing": {"$ref": "#/components/schemas/TeamRouting"}}}}}},
        "Capacity": {"type": "object", "properties": {
            "id": {"type": "integer"}, "capacity": {"type": "integer"},
            "capacity_override": {"type": ["integer", "null"]}}},
        "Visibility": {"type": "object", "properties": {
            "restricted": {"type": "boolean"}, "users": {"type": "array", "items": who}}},
        "ContactPresets": {"type": "object", "properties": {"visible_user_ids": _IDS, "assign_user_ids": _IDS}},
    }
