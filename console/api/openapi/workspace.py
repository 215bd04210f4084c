"""The OpenAPI description of a team's workspace (console/api_workspace.py; merged into console/openapi.py):
canned replies, team opening hours, and a conversation's workspace."""

from __future__ import annotations

from typing import Any

from console.api.openapi.parts import op as _op
from console.api.openapi.parts import path_param as _path
from console.api.openapi.parts import ref as _ref

_REPLY = _path("reply_id", description="The canned reply's id.")


_TEAM = _path("team_id", description="The team's id.")


_CONV = _path("id", "string", "The conversation's public id.")


_CODE = {"type": "string", "pattern": "^[a-z0-9_-]{1,40}$",
         "description": "What the agent types after `/`; unique within the reply's scope (stored lowercase)."}


_BODY = {"type": "string", "maxLength": 4000,
         "description": "Plain text; `{{contact.name}}` and `{{agent.name}}` are filled in when inserted."}


_HOURS_BODY = {"type": "object", "required": ["timezone", "intervals"], "properties": {
    "timezone": {"type": "string", "description": "IANA name, e.g. Europe/Paris"},
    "intervals": {"type": "array", "minItems": 1, "items": {"type": "object", "required": ["start", "end"],
                  "properties": {
                      "day": {"enum": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]},
                      "days": {"type": "array", "items": {"enum": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]},
                               "description": "several days at once, instead of `day`"},
                      "start": {"type": "string", "description": "HH:MM, the team's wall-clock time"},
                      "end": {"type": "string", "description": "HH:MM after `start`, or 24:00"}}}},
    "out_of_hours_message": {"type": "string", "maxLength": 1000,
                             "description": "Sent to a customer queued while the team is closed; "
                                            "`{{next_opening}}` becomes the next opening time."}}}


def paths() -> dict[str, Any]:
    return {
        "/canned_replies": {
            "get": _op("Canned replies: the caller's teams' (every team's for supervisors and admins) and "
                       "the caller's personal ones", _ref("CannedReplyList"), errors=("400", "401", "404"),
                       params=[{"name": "team_id", "in": "query", "schema": {"type": "integer"},
                                "description": "Only this team's (and the caller's personal ones)."},
                               {"name": "q", "in": "query", "schema": {"type": "string"},
                                "description": "Search in the short code and the text."}]),
            "post": _op("Create a canned reply: a team's (supervisors, admins) or, without team_id, a personal one",
                        _ref("CannedReply"), status="201", errors=("400", "401", "403", "404", "409"),
                        body={"type": "object", "required": ["short_code", "body"], "properties": {
                            "short_code": _CODE, "body": _BODY,
                            "team_id": {"type": ["integer", "null"], "description": "null: personal"}}}),
        },
        "/canned_replies/{reply_id}": {
            "patch": _op("Change a canned reply (a team's: supervisors, admins; a personal one: its owner)",
                         _ref("CannedReply"), params=[_REPLY], errors=("400", "401", "403", "404", "409"),
                         body={"type": "object", "properties": {"short_code": _CODE, "body": _BODY}}),
            "delete": _op("Delete a canned reply", {"description": "Deleted"}, status="204", params=[_REPLY],
                          errors=("401", "403", "404")),
        },
        "/teams/{team_id}/hours": {
            "get": _op("A team's opening hours, whether it is open now and when it next opens", _ref("TeamHours"),
                       params=[_TEAM], errors=("401", "404")),
            "put": _op("Set a team's opening hours (supervisors, admins)", _ref("TeamHours"), params=[_TEAM],
                       errors=("400", "401", "403", "404"), body=_HOURS_BODY,
                       description="Outside its hours a team still queues conversations, but the customer gets "
                                   "the out-of-hours message and, on webchat, when the team opens instead of an "
                                   "estimated wait."),
            "delete": _op("Remove a team's opening hours: always open (supervisors, admins)", _ref("TeamHours"),
                          params=[_TEAM], errors=("401", "403", "404")),
        },
        "/conversations/{id}/workspace": {"get": _op(
            "The settings the caller works this conversation with: its team's", _ref("Workspace"),
            params=[_CONV], errors=("401", "404"),
            description="The conversation's team (not the caller's home team): its canned replies filled in for "
                        "this conversation (`text`), plus the caller's personal ones; its routing policy; its "
                        "hours. `on_behalf` is true when the caller is not a member of that team.")},
    }


def schemas() -> dict[str, Any]:
    ts = {"type": ["string", "null"], "format": "date-time"}
    reply = {"type": "object", "properties": {
        "id": {"type": "integer"}, "short_code": {"type": "string"}, "body": {"type": "string"},
        "scope": {"enum": ["team", "personal"]}, "team": {"type": ["object", "null"]},
        "created_by_id": {"type": ["integer", "null"]}, "can_edit": {"type": "boolean"},
        "created_at": ts, "updated_at": ts,
        "text": {"type": "string", "description": "workspace only: the body with its placeholders filled in"}}}
    hours = {"type": "object", "properties": {
        "always_open": {"type": "boolean"}, "timezone": {"type": ["string", "null"]},
        "intervals": {"type": "array", "items": {"type": "object"}},
        "out_of_hours_message": {"type": ["string", "null"]}, "open_now": {"type": "boolean"},
        "next_opening": ts, "next_opening_local": {"type": ["string", "null"]},
        "next_opening_text": {"type": ["string", "null"]}}}
    return {
        "CannedReply": reply,
        "CannedReplyList": {"type": "object", "properties": {"canned_replies": {
            "type": "array", "items": {"$ref": "#/components/schemas/CannedReply"}}}},
        "TeamHours": {"allOf": [{"type": "object", "properties": {"team_id": {"type": "integer"}}}, hours]},
        "Workspace": {"type": "object", "properties": {
            "conversation_id": {"type": "string"}, "team": {"type": "object"},
            "member": {"type": "boolean"}, "on_behalf": {"type": "boolean"},
            "canned_replies": {"type": "array", "items": {"$ref": "#/components/schemas/CannedReply"}},
            "routing": {"$ref": "#/components/schemas/TeamRouting"}, "hours": hours}},
    }
