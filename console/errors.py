"""One mapping from domain errors to HTTP statuses and the `{"error": {"code", "message"}}` body."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException

from console import auth
from models.errors import Conflict, Forbidden, InvalidInput, InvalidState, NotFound, ParleyError, TooLong

log = logging.getLogger(__name__)

STATUS: list[tuple[type[ParleyError], int]] = [
    (TooLong, 413), (InvalidInput, 400), (auth.Unauthorized, 401), (Forbidden, 403), (NotFound, 404),
    (Conflict, 409), (InvalidState, 422),
]


def status_of(exc: ParleyError) -> int:
    for cls, status in STATUS:
        if isinstance(exc, cls):
            return status
    return 400


def install_error_handlers(app: Flask) -> None:
    @app.errorhandler(ParleyError)
    def _parley_error(exc: ParleyError) -> Any:
        return jsonify({"error": {"code": exc.code, "message": exc.message}}), status_of(exc)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Any:
        if request.path.startswith("/api/"):
            code = (exc.name or "error").lower().replace(" ", "_")
            return jsonify({"error": {"code": code, "message": exc.description or exc.name}}), exc.code
        return exc
