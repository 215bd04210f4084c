"""Builders shared by the OpenAPI description's modules (console/openapi*.py)."""

from __future__ import annotations

from typing import Any

ERR = {"$ref": "#/components/responses/Error"}


def op(summary: str, ok: dict[str, Any] | None, *, status: str = "200", errors: tuple[str, ...] = ("401",),
       params: list[dict[str, Any]] | None = None, body: dict[str, Any] | None = None,
       content_type: str = "application/json", description: str | None = None) -> dict[str, Any]:
    """One operation: its success response (`None`: a bare "Done") and the error statuses it may answer."""
    out: dict[str, Any] = {"summary": summary,
                           "responses": {status: ok or {"description": "Done"}, **{e: ERR for e in errors}}}
    if description:
        out["description"] = description
    if params:
        out["parameters"] = params
    if body is not None:
        out["requestBody"] = {"required": True, "content": {content_type: {"schema": body}}}
    return out


def ref(name: str) -> dict[str, Any]:
    """A JSON response with a schema from components."""
    return {"description": "OK", "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}}}


def path_param(name: str, kind: str = "integer", description: str = "") -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": kind}, "description": description}
