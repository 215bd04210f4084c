"""The OpenAPI description of the bot training admin (console/admin_bot.py; merged into console/openapi.py)."""

from __future__ import annotations

from typing import Any

_ERR = {"$ref": "#/components/responses/Error"}


_OBJ = {"type": "object"}


_ADMIN = "Admins only (403 otherwise)."


def _op(summary: str, *, status: str = "200", errors: tuple[str, ...] = ("401", "403"),
        params: list[dict[str, Any]] | None = None, body: dict[str, Any] | None = None,
        description: str = "", schema: dict[str, Any] | None = None) -> dict[str, Any]:
    ok = {"description": "OK", "content": {"application/json": {"schema": schema or _OBJ}}}
    op: dict[str, Any] = {"summary": summary, "description": (description + " " + _ADMIN).strip(),
                          "responses": {status: ok, **{e: _ERR for e in errors}}}
    if params:
        op["parameters"] = params
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    return op


def _path(name: str, kind: str = "string", description: str = "") -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": kind}, "description": description}


def _query(name: str, kind: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": {"type": kind}, "description": description}


_CHANGES = {"type": "object", "required": ["changes"], "properties": {
    "base_hash": {"type": "string", "description": "data_hash from GET /bot/data; 409 if the data changed since."},
    "changes": {"type": "array", "items": {"$ref": "#/components/schemas/BotDataChange"}}}}


_ENGINE = _path("engine", description="embedded | rasa")


def paths() -> dict[str, Any]:
    return {
        "/bot/data": {"get": _op("The training data: intents (examples, answer, where used), responses, problems",
                                 schema={"$ref": "#/components/schemas/BotData"})},
        "/bot/data/check": {"post": _op(
            "What a change would do, nothing written: problems it introduces, problems already there, diff",
            body=_CHANGES, errors=("400", "401", "403"))},
        "/bot/data/changes": {"post": _op(
            "Apply a change: validated, written back to data/ in Rasa format, versioned (who/when/what)",
            status="201", body=_CHANGES, errors=("400", "401", "403", "409", "422"),
            description="422 lists the problems the change would introduce (`error.problems`); nothing is "
                        "written then.")},
        "/bot/data/versions": {"get": _op("Versions of the training data, newest first")},
        "/bot/data/versions/{version_id}": {"get": _op(
            "A version with the unified diff of each file", params=[_path("version_id", "integer")],
            errors=("401", "403", "404"))},
        "/bot/data/versions/{version_id}/restore": {"post": _op(
            "Put the data back as in that version (a new version)", status="201",
            params=[_path("version_id", "integer")], errors=("401", "403", "404", "409", "422"))},
        "/bot/runs": {
            "get": _op("Training and evaluation runs, newest first"),
            "post": _op("Start a training (a candidate model) or an evaluation", status="202",
                        errors=("400", "401", "403"),
                        body={"type": "object", "required": ["kind", "engine"], "properties": {
                            "kind": {"enum": ["train", "evaluate"]}, "engine": {"enum": ["embedded", "rasa"]},
                            "model_version": {"type": "string", "description": "evaluate: which model"},
                            "protocol": {"enum": ["holdout", "cv"]}, "fraction": {"type": "number", "default": 0.2},
                            "folds": {"type": "integer", "default": 5}, "seed": {"type": "integer", "default": 0}}}),
        },
        "/bot/runs/{run_id}": {"get": _op("A run: status, progress, stage, result (metrics) or error",
                                          params=[_path("run_id", "integer")], errors=("401", "403", "404"))},
        "/bot/runs/{run_id}/cancel": {"post": _op("Ask a queued or running run to stop",
                                                  params=[_path("run_id", "integer")], errors=("401", "403", "404"))},
        "/bot/models": {"get": _op("Models of both engines: active, rollback target, versions with their latest "
                                   "evaluations; the Rasa server's state")},
        "/bot/models/{engine}/{version}/activate": {"post": _op(
            "Make a model answer customers (the running bot follows)", params=[_ENGINE, _path("version")],
            errors=("400", "401", "403", "404"))},
        "/bot/models/{engine}/rollback": {"post": _op("Go back to the model active before this one",
                                                      params=[_ENGINE], errors=("400", "401", "403"))},
        "/bot/compare": {"get": _op(
            "Two models side by side: headline metrics, per-intent F1, most confused pairs, per protocol",
            params=[_query("engine", "string", "embedded | rasa"), _query("a", "string", "model version"),
                    _query("b", "string", "model version")], errors=("400", "401", "403"))},
        "/bot/rasa": {"get": _op("The Rasa server: mode, state, pid, model served, restarts, last error, log tail")},
        "/bot/handoffs": {"get": _op(
            "Customer messages that led to a handoff, grouped when similar, most frequent first",
            params=[_query("reason", "string", "a handoff reason"), _query("days", "integer", "look back (30)")])},
        "/bot/handoffs/learn": {"post": _op(
            "Add handoff messages to an intent (existing, or new with its answer): one data version",
            status="201", errors=("400", "401", "403", "404", "409", "422"),
            body={"type": "object", "required": ["message_ids", "intent"], "properties": {
                "message_ids": {"type": "array", "items": {"type": "integer"}}, "intent": {"type": "string"},
                "new_intent": {"type": "boolean"}, "response": {"type": "array", "items": {"type": "string"}},
                "texts": {"type": "array", "items": {"type": "string"},
                          "description": "the examples to add (default: the messages' texts)"}}})},
        "/bot/handoffs/dismiss": {"post": _op(
            "Set handoff messages aside (they leave the list)", errors=("400", "401", "403"),
            body={"type": "object", "required": ["message_ids"],
                  "properties": {"message_ids": {"type": "array", "items": {"type": "integer"}}}})},
    }


def schemas() -> dict[str, Any]:
    return {
        "BotDataChange": {"type": "object", "required": ["op"], "properties": {
            "op": {"enum": ["add_intent", "delete_intent", "set_examples", "add_examples", "remove_examples",
                            "set_response", "delete_response"]},
            "intent": {"type": "string"}, "examples": {"type": "array", "items": {"type": "string"}},
            "response": {"description": "add_intent: answer texts, or set_response: the utter_* name"},
            "texts": {"type": "array", "items": {"type": "string"}}}},
        "BotData": {"type": "object", "properties": {
            "data_hash": {"type": "string"},
            "intents": {"type": "array", "items": {"type": "object", "properties": {
                "name": {"type": "string"}, "examples": {"type": "array", "items": {"type": "string"}},
                "response": {"type": ["string", "null"]},
                "response_texts": {"type": "array", "items": {"type": "string"}},
                "declared": {"type": "boolean"}, "handoff": {"type": "boolean"},
                "used_in": {"type": "array", "items": _OBJ}}}},
            "responses": {"type": "array", "items": _OBJ},
            "problems": {"type": "array", "items": {"type": "string"}},
            "files": {"type": "array", "items": {"type": "string"}},
            "version": {"type": ["object", "null"]}}},
    }
