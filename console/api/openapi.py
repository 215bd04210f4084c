"""The OpenAPI 3.1 description of /api/v1, generated from the views' `@api(...)` declarations and their
pydantic models (console/api/schemas/), and the browsable page at /api/docs (Swagger UI, served from
console/static/vendor/swagger-ui/, no CDN).

Paths come from the Flask URL map, so a route cannot exist without being described: a view under
/api/v1 without `@api` makes the description fail loudly (and tests/test_bad_input.py with it).
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, render_template
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema
from werkzeug.routing import Rule

from console.api.declare import MAX_ID, Operation, declared
from console.api.schemas.common import Error

bp = Blueprint("api_docs", __name__)

PREFIX = "/api/v1"

INFO = {
    "title": "Parley API", "version": "1",
    "description": "Conversations, messages and counters of the Parley agent console, and its admin settings. "
                   "Authenticate with the console's session cookie (send X-CSRF-Token on writes) or "
                   "`Authorization: Bearer <token>` (`parley user token --email E`). Every error is "
                   '`{"error": {"code", "message"}}` with the status that says what kind it is.',
}

PATH_PARAMS = {  # what a path parameter is, by its name in the routes
    "public_id": "The conversation's public id (c_…).",
    "attachment_id": "The attachment's id (a_…).",
    "engine": "embedded | rasa",
    "version": "A model version.",
}

STATUS_TEXT = {400: "Bad input", 401: "Not logged in, or no CSRF token", 403: "Not allowed", 404: "Not found",
               409: "Conflict", 413: "Too large", 422: "Not possible in this state",
               429: "Too many requests (PARLEY_RATE_LIMIT_API per token); `Retry-After` says when to try again"}

_PARAM = re.compile(r"<(?:(\w+):)?(\w+)>")


@bp.get(f"{PREFIX}/openapi.json")
def openapi() -> Response:
    return jsonify(spec(current_app))


@bp.get("/api/docs")
def docs() -> str:
    return render_template("api_docs.html")


def spec(app: Flask) -> dict[str, Any]:
    return _spec(app)


@cache
def _spec(app: Flask) -> dict[str, Any]:
    """Built once per app: the URL map does not change after start-up."""
    ops: list[tuple[Rule, str, Operation]] = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if not rule.rule.startswith(PREFIX + "/") or rule.endpoint == "api_docs.openapi":
            continue
        op = declared(app.view_functions[rule.endpoint])
        if op is None:
            raise LookupError(f"{rule.rule} ({rule.endpoint}) has no @api(...) declaration")
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            ops.append((rule, method, op))
    models: set[type[BaseModel]] = {Error}
    for _, _, op in ops:
        models.update(m for m in (op.ok, op.body, op.query, op.form) if m is not None)
    refs, defs = models_json_schema([(m, "validation") for m in sorted(models, key=lambda m: m.__name__)],
                                    ref_template="#/components/schemas/{model}")
    schema_of = {m: refs[(m, "validation")] for m in models}
    paths: dict[str, dict[str, Any]] = {}
    for rule, method, op in ops:
        path, params = _path(rule)
        paths.setdefault(path, {})[method.lower()] = _operation(op, params, schema_of)
    return {
        "openapi": "3.1.0", "info": INFO, "servers": [{"url": PREFIX}],
        "security": [{"bearer": []}, {"cookie": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"},
                                "cookie": {"type": "apiKey", "in": "cookie", "name": "session"}},
            "responses": {"Error": {"description": "Error", "content": {"application/json": {
                "schema": schema_of[Error]}}}},
            "schemas": defs.get("$defs", {}),
        },
    }


def _path(rule: Rule) -> tuple[str, list[dict[str, Any]]]:
    params = []
    for converter, name in _PARAM.findall(rule.rule):
        if converter == "int":
            schema: dict[str, Any] = {"type": "integer", "minimum": 0, "maximum": MAX_ID}
        else:
            schema = {"type": "string", "pattern": "^[^/]+$"}
        params.append({"name": name, "in": "path", "required": True, "schema": schema,
                       "description": PATH_PARAMS.get(name, f"The {name.removesuffix('_id')}'s id.")})
    return _PARAM.sub(lambda m: "{" + m.group(2) + "}", rule.rule.removeprefix(PREFIX)), params


def _operation(op: Operation, params: list[dict[str, Any]], schema_of: dict[Any, dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {"summary": op.summary}
    if op.description:
        out["description"] = op.description
    if op.query is not None:
        params = params + _query_params(op.query, schema_of)
    if params:
        out["parameters"] = params
    if op.body is not None:
        out["requestBody"] = {"required": True, "content": {"application/json": {"schema": schema_of[op.body]}}}
    if op.form is not None:
        out["requestBody"] = {"required": True,
                              "content": {"multipart/form-data": {"schema": schema_of[op.form]}}}
    if op.binary:
        ok: dict[str, Any] = {"description": "The file", "content": {"application/octet-stream": {}}}
    elif op.ok is None:
        ok = {"description": "Done"}
    else:
        ok = {"description": "OK", "content": {"application/json": {"schema": schema_of[op.ok]}}}
    for media in op.media:
        ok.setdefault("content", {})[media] = {}
    errors = {401, 429, *op.errors}  # every /api/v1 call counts against the caller's rate limit
    if op.body is not None or op.query is not None or op.form is not None:
        errors.add(400)
    if params and any(p["in"] == "path" for p in params):
        errors.add(404)
    responses: dict[str, Any] = {str(st): ok for st in sorted({op.status, *op.also})}
    for e in sorted(errors):
        responses[str(e)] = {"$ref": "#/components/responses/Error", "description": STATUS_TEXT.get(e, "Error")}
    out["responses"] = responses
    return out


def _query_params(model: type[BaseModel], schema_of: dict[Any, dict[str, Any]]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    required = set(schema.get("required", []))
    out = []
    for name, prop in schema.get("properties", {}).items():
        prop = dict(prop)
        description = prop.pop("description", None)
        prop.pop("title", None)
        if "anyOf" in prop:  # a query value is a string or absent, never null
            options = [o for o in prop.pop("anyOf") if o != {"type": "null"}]
            prop.update(options[0] if len(options) == 1 else {"anyOf": options})
        if prop.get("default", ...) is None:
            prop.pop("default")
        item: dict[str, Any] = {"name": name, "in": "query", "required": name in required, "schema": prop}
        if description:
            item["description"] = description
        out.append(item)
    return out
