"""The OpenAPI 3.1 description of /api/v1 (served at /api/v1/openapi.json)."""

from __future__ import annotations

from typing import Any

from console.api.openapi import bot, channels, llm, me, routing, workspace

_ERR = {"$ref": "#/components/responses/Error"}


def _op(summary: str, ok: dict[str, Any], *, body: dict[str, Any] | None = None,
        params: list[dict[str, Any]] | None = None, errors: tuple[str, ...] = ("401",),
        status: str = "200") -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "responses": {status: ok, **{e: _ERR for e in errors}}}
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    if params:
        op["parameters"] = params
    return op


def _json(ref: str) -> dict[str, Any]:
    return {"description": "OK", "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}}}


_ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"},
       "description": "The conversation's public id."}


_CONV_ERR = ("401", "403", "404", "422")


def spec() -> dict[str, Any]:
    conv_change = lambda summary: {"post": _op(summary, _json("Conversation"), params=[_ID], errors=_CONV_ERR)}  # noqa: E731
    return {
        "openapi": "3.1.0",
        "info": {"title": "Parley API", "version": "1",
                 "description": "Conversations, messages and counters of the Parley agent console. "
                                "Authenticate with the console's session cookie (send X-CSRF-Token on writes) "
                                "or `Authorization: Bearer <token>` (`parley user token EMAIL`, or `POST /me/tokens`). "
                                "Requests with a token are limited per token (PARLEY_RATE_LIMIT_API): past it, "
                                "429 with Retry-After."},
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}, {"cookie": []}],
        "paths": {
            "/me": {"get": _op("The caller", _json("Me"))},
            "/counters": {"get": _op("The caller's counters (the dashboard tiles)", _json("Counters"))},
            "/conversations": {"get": _op(
                "List conversations", _json("ConversationList"), errors=("400", "401"),
                params=[
                    {"name": "view", "in": "query", "schema": {"enum": ["team", "mine", "bot"], "default": "team"}},
                    {"name": "status", "in": "query", "schema": {"enum": ["open", "closed"], "default": "open"}},
                    {"name": "q", "in": "query", "schema": {"type": "string"},
                     "description": "Search in the contact's name or email and in message text."},
                ])},
            "/conversations/{id}": {"get": _op("One conversation", _json("Conversation"), params=[_ID],
                                               errors=("401", "404"))},
            "/conversations/{id}/messages": {
                "get": _op("The conversation's messages, oldest first", _json("MessageList"), params=[_ID],
                           errors=("401", "404")),
                "post": _op("Reply to the customer, or add a private note", _json("Message"), params=[_ID],
                            status="201", errors=("400", "401", "404", "413", "422"),
                            body={"type": "object", "required": ["text"],
                                  "properties": {"text": {"type": "string", "maxLength": 4096},
                                                 "private": {"type": "boolean", "default": False},
                                                 "channel": {"enum": ["webchat", "sms", "whatsapp"],
                                                             "description": "Reply channel (default: where the "
                                                                            "customer last wrote from)."}}}),
            },
            "/conversations/{id}/assign": {"post": _op(
                "Set the assignees (replaces them; [] unassigns)", _json("Conversation"), params=[_ID],
                errors=("400", *_CONV_ERR),
                body={"type": "object", "required": ["user_ids"],
                      "properties": {"user_ids": {"type": "array", "items": {"type": "integer"}}}})},
            "/conversations/{id}/close": conv_change("Close the conversation"),
            "/conversations/{id}/reopen": conv_change("Reopen a closed conversation"),
            "/conversations/{id}/return-to-bot": conv_change("Hand the conversation back to the bot"),
            "/conversations/{id}/read": {"post": _op("Mark everything in it as seen by the caller",
                                                     {"description": "Marked"}, params=[_ID], status="204",
                                                     errors=("401", "404"))},
            "/users": {"get": _op("People who can be assigned", _json("UserList"))},
            **channels.paths(),  # SMS/WhatsApp: channels, templates, files, contacts
            **routing.paths(),  # availability, accept, transfers, queues, journey, visibility
            **llm.paths(),  # agent assist drafts, knowledge base and HTTP actions admin
            **bot.paths(),  # bot training admin: data, versions, runs, models, learning from handoffs
            **workspace.paths(),  # canned replies, team hours, a conversation's workspace
            **me.paths(),  # the caller's password and API tokens
        },
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "cookie": {"type": "apiKey", "in": "cookie", "name": "session"},
            },
            "responses": {"Error": {"description": "Error", "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/Error"}}}}},
            "schemas": {**_schemas(), **channels.schemas(), **routing.schemas(),
                        **llm.schemas(), **bot.schemas(), **workspace.schemas(), **me.schemas()},
        },
    }


def _schemas() -> dict[str, Any]:
    ts = {"type": ["string", "null"], "format": "date-time"}
    user = {"type": "object", "properties": {"id": {"type": "integer"}, "name": {"type": "string"},
                                             "email": {"type": "string"}}}
    return {
        "Error": {"type": "object", "required": ["error"], "properties": {"error": {
            "type": "object", "required": ["code", "message"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}}},
        "Me": {"type": "object", "properties": {
            "id": {"type": "integer"}, "email": {"type": "string"}, "name": {"type": "string"},
            "role": {"enum": ["admin", "supervisor", "agent"]}, "availability": {"type": "string"},
            "teams": {"type": "array", "items": {"type": "object"}}}},
        "Counters": {"type": "object", "properties": {k: {"type": "integer"} for k in (
            "unreplied", "my_unreplied", "unassigned", "assigned_to_me", "unread")}},
        "HandoffPacket": {"type": ["object", "null"], "properties": {
            "reason": {"enum": ["customer_asked", "out_of_scope", "low_confidence", "repeated_fallback",
                                "bot_error", "policy"]},
            "intent": {"type": ["string", "null"]}, "confidence": {"type": ["number", "null"]},
            "ranking": {"type": "array"}, "summary": {"type": "string"}, "created_at": ts}},
        "Conversation": {"type": "object", "properties": {
            "id": {"type": "string"}, "status": {"enum": ["open", "closed"]}, "owner": {"enum": ["bot", "human"]},
            "phase": {"enum": ["waiting", "assigning", "assigned", "transferring", "ended", "failed", None]},
            "team": {"type": "object"}, "channel": {"type": "string"}, "contact": {"type": "object"},
            "assignees": {"type": "array", "items": user}, "last_message": {"type": ["object", "null"]},
            "unreplied": {"type": "integer"}, "unread": {"type": "integer"},
            "waiting_since": ts, "last_activity_at": ts, "created_at": ts, "closed_at": ts,
            "handoff": {"$ref": "#/components/schemas/HandoffPacket"}}},
        "ConversationList": {"type": "object", "properties": {"conversations": {
            "type": "array", "items": {"$ref": "#/components/schemas/Conversation"}}}},
        "Message": {"type": "object", "properties": {
            "id": {"type": "integer"}, "conversation_id": {"type": "string"},
            "direction": {"enum": ["in", "out"]}, "sender_type": {"enum": ["contact", "bot", "agent", "system"]},
            "author": {"type": ["object", "null"]}, "text": {"type": "string"}, "private": {"type": "boolean"},
            "channel": {"type": "string"}, "created_at": ts, "delivery_status": {"type": "string"},
            "bot": {"type": ["object", "null"]},
            "error": {"type": ["object", "null"], "description": "Why an SMS/WhatsApp message failed: {code, message}"},
            "attachments": {"type": "array", "items": {"$ref": "#/components/schemas/Attachment"}}}},
        "MessageList": {"type": "object", "properties": {"messages": {
            "type": "array", "items": {"$ref": "#/components/schemas/Message"}}}},
        "UserList": {"type": "object", "properties": {"users": {"type": "array", "items": user}}},
    }
