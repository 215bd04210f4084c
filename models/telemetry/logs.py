"""Structured logs: one JSON object per line (`PARLEY_LOG_FORMAT=json`) or text for people, both carrying
the request id and the public id of the conversation being handled.

The ids travel in context variables, set by the web edge for a request (`request_id`) and wherever a
conversation is handled (API views, socket handlers, bot turns): code that logs needs no extra argument,
and a thread or job started for other work starts without them.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import IO, Any

request_id: ContextVar[str | None] = ContextVar("parley_request_id", default=None)
conversation_id: ContextVar[str | None] = ContextVar("parley_conversation", default=None)

# Attributes every LogRecord has; anything else was passed in `extra=` and is kept as a field.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}
NOISY = ("alembic", "werkzeug", "engineio", "socketio", "httpx")


@contextmanager
def conversation(public_id: str | None) -> Iterator[None]:
    """Log lines inside carry this conversation's public id."""
    token = conversation_id.set(public_id)
    try:
        yield
    finally:
        conversation_id.reset(token)


class ContextFilter(logging.Filter):
    """Puts the ids on every record, so the text format and the JSON format both can show them."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        record.conversation = conversation_id.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname, "logger": record.name, "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None), "conversation": getattr(record, "conversation", None),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in out:
                out[key] = value
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s%(ids)s")

    def format(self, record: logging.LogRecord) -> str:
        ids = [f"{k}={v}" for k in ("request_id", "conversation") if (v := getattr(record, k, None))]
        record.ids = f" [{' '.join(ids)}]" if ids else ""
        return super().format(record)


def configure(log_format: str = "text", level: str = "INFO", *, verbose: bool = False,
              stream: IO[str] | None = None) -> None:
    """The root logger writes to `stream` (stderr) in the chosen format; a second call replaces the first."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "parley", False)]:
        root.removeHandler(old)
    handler: logging.Handler = logging.StreamHandler(stream)
    setattr(handler, "parley", True)  # noqa: B010  (how a later call finds the handler it replaces)
    handler.addFilter(ContextFilter())
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else level)
    if not verbose:
        # httpx logs every request's URL at INFO: noise, and Rasa's API token rides in the query string.
        for noisy in NOISY:
            logging.getLogger(noisy).setLevel(logging.WARNING)
