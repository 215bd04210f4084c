"""How an /api/v1 view declares its shapes, once: `@api(...)` names the pydantic models of its request
body, query and success response; the OpenAPI description (console/api/openapi.py) is generated from
them, and `json_body` / `query_args` validate the request against the same models.

Validation runs when the view asks for the body (after its own permission checks), so an anonymous or
unauthorised caller still gets 401/403, never a hint about the body's shape. Every failure is a
`models.errors.InvalidInput`: 400 with `{"error": {"code", "message"}}`, like any other bad input.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import current_app, request
from pydantic import BaseModel, ValidationError
from werkzeug.exceptions import NotFound
from werkzeug.routing import IntegerConverter

from models.errors import InvalidInput

M = TypeVar("M", bound=BaseModel)
F = TypeVar("F", bound=Callable[..., Any])

MAX_ID = 2**31 - 1  # the largest id every database we run on stores: PostgreSQL `integer` (SQLite's is wider)


class IdConverter(IntegerConverter):
    """Flask's `int` converter, bounded to the id columns' range (PostgreSQL `integer`): a larger id names
    no row, so it is a 404 straight away instead of reaching the database, which cannot bind it (a 500).
    NotFound rather than werkzeug's ValidationError, which makes the router answer 405 when the same path
    has a rule for another method."""

    def to_python(self, value: str) -> int:
        number = int(value)
        if number > MAX_ID:
            raise NotFound("No such id.")
        return number


@dataclass(frozen=True)
class Operation:
    """What the OpenAPI description says of one view."""

    summary: str
    ok: type[BaseModel] | None  # None: no body (204), or a file (`binary`)
    status: int
    errors: tuple[int, ...]
    body: type[BaseModel] | None
    query: type[BaseModel] | None
    form: type[BaseModel] | None  # multipart/form-data
    description: str
    binary: bool
    also: tuple[int, ...]  # other success statuses with the same shape
    media: tuple[str, ...] = ()  # other content types a success may have (`format=csv`: text/csv)


def api(summary: str, ok: type[BaseModel] | None = None, *, status: int = 200, errors: tuple[int, ...] = (),
        body: type[BaseModel] | None = None, query: type[BaseModel] | None = None,
        form: type[BaseModel] | None = None, description: str = "", binary: bool = False,
        also: tuple[int, ...] = (), media: tuple[str, ...] = ()) -> Callable[[F], F]:
    """Declare a view's shapes. `errors`: the statuses it may answer besides 401 (every view), 400
    (views with a body or a query) and 404 (views with path parameters), which are added for you."""

    def mark(view: F) -> F:
        view.__api__ = Operation(summary, ok, status, errors, body, query, form,  # type: ignore[attr-defined]
                                 description, binary, also, media)
        return view

    return mark


def declared(view: Callable[..., Any]) -> Operation | None:
    return getattr(view, "__api__", None)


def _check_declared(kind: str, model: type[BaseModel]) -> None:
    """The model a view validates against is the one its description shows (one declaration, not two)."""
    op = declared(current_app.view_functions[request.endpoint]) if request.endpoint else None
    if op is None or getattr(op, kind) is not model:
        raise TypeError(f"{request.endpoint}: validates {kind} with {model.__name__} but does not declare it "
                        "in @api(...)")


def problem(exc: ValidationError) -> str:
    """One readable sentence from pydantic's errors: what is wrong, and where."""
    unknown = [str(e["loc"][-1]) for e in exc.errors() if e["type"] == "extra_forbidden"]
    if unknown:
        return f"Unknown field(s): {', '.join(unknown)}."
    parts = []
    for e in exc.errors()[:3]:
        where = ".".join(str(x) for x in e["loc"])
        parts.append(f"{where}: {e['msg']}" if where else e["msg"])
    return "; ".join(parts) + "."


def validate(model: type[M], data: Any) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidInput(problem(exc)) from None


def json_body(model: type[M]) -> M:
    """The request's JSON body, validated against `model` (the view's declared `body`)."""
    _check_declared("body", model)
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise InvalidInput("The request body must be a JSON object.", code="bad_json")
    return validate(model, data)


def optional_json_body(model: type[M]) -> M:
    """Like `json_body`, for views whose body may be left out altogether (then: the model's defaults)."""
    _check_declared("body", model)
    if not request.get_data(cache=True):
        return validate(model, {})
    return json_body(model)


def query_args(model: type[M]) -> M:
    """The query string, validated against `model` (the view's declared `query`); a repeated name keeps
    its first value, as `request.args.get` did."""
    _check_declared("query", model)
    return validate(model, request.args.to_dict(flat=True))

