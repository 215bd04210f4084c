"""Errors a user can cause. The web layer maps each class to an HTTP status; the CLI to a message."""

from __future__ import annotations


class ParleyError(Exception):
    code = "error"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code


class InvalidInput(ParleyError):
    code = "invalid"


class TooLong(InvalidInput):
    code = "too_long"


class NotFound(ParleyError):
    code = "not_found"


class Forbidden(ParleyError):
    code = "forbidden"


class Conflict(ParleyError):
    code = "conflict"


class InvalidState(ParleyError):
    """The change makes no sense in the conversation's current state (e.g. reopen an open one)."""

    code = "invalid_state"
