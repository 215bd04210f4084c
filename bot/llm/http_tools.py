"""HTTP actions an admin configures for the agent, e.g. "order lookup by number" against the shop's API.

The model chooses only the *value* of one parameter; the URL, the method (GET: actions read, never
change anything), the headers and the secret are the admin's. The value must fully match the admin's
pattern and is URL-encoded into the path, so a customer cannot steer the request elsewhere. The
secret is read from the environment at call time and is never in a prompt, a tool description or a
tool result.

Every request goes through the outbound guard (connectors/outbound.py): an admin's URL cannot reach
loopback, the cloud metadata address or the private network unless `PARLEY_OUTBOUND_ALLOW` names it,
and no redirect is followed. A secret comes only from a variable with the dedicated prefix
`PARLEY_ACTION_SECRET_`, so an action can never send the app's own secrets (`PARLEY_SECRET_KEY`, with
which logins and visitor tokens are forged, the database URL, provider tokens) anywhere.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.outbound import OutboundFailed, OutboundGuard, OutboundRefused, OutboundTooLarge
from models.errors import InvalidInput
from models.schema.base import utcnow
from models.schema.llm import LlmAction

MAX_RESULT_CHARS = 4000
MAX_VALUE_CHARS = 100
_NAME = re.compile(r"^[a-z][a-z0-9_]{2,59}$")
_PARAM = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
SECRET_PREFIX = "PARLEY_ACTION_SECRET_"
_ENV = re.compile(r"^" + SECRET_PREFIX + r"[A-Z0-9_]{1,79}$")
MAX_BODY_BYTES = 256 * 1024
RESERVED = frozenset({"search_knowledge_base", "handoff_to_human", "FinalAnswer"})


class ActionFailed(Exception):
    """The shop's API did not answer usably (timeout, connection, 5xx): the turn hands off."""


@dataclass(frozen=True)
class HttpAction:
    name: str
    description: str
    url_template: str
    param_name: str
    param_description: str
    param_pattern: str
    secret_env: str | None = None
    secret_header: str = "Authorization"
    timeout_seconds: float = 5.0

    @classmethod
    def of(cls, row: LlmAction) -> HttpAction:
        return cls(row.name, row.description, row.url_template, row.param_name, row.param_description,
                   row.param_pattern, row.secret_env, row.secret_header, row.timeout_seconds)

    def check_value(self, value: str) -> str | None:
        """None if the value may be used; else why not (told to the model, which may retry)."""
        if not isinstance(value, str) or not value or len(value) > MAX_VALUE_CHARS:
            return f"'{self.param_name}' must be a short text."
        if re.fullmatch(self.param_pattern, value) is None:
            return f"'{value}' is not a valid {self.param_name}; ask the customer to check it."
        return None

    def url(self, value: str) -> str:
        return self.url_template.replace("{" + self.param_name + "}", quote(value, safe=""))

    def call(self, value: str, client: httpx.Client | None = None) -> tuple[int, str]:
        """(status, body) for 2xx and 404; raises `ActionFailed` for anything else."""
        headers = {"Accept": "application/json, text/plain;q=0.9"}
        if self.secret_env:
            if not _ENV.match(self.secret_env):  # a row saved before the prefix rule: never sent
                raise ActionFailed(f"{self.name}: its secret must be a {SECRET_PREFIX}* variable")
            secret = os.environ.get(self.secret_env)
            if secret:
                headers[self.secret_header] = secret
        guard = OutboundGuard.from_env()
        try:
            response = guard.get(self.url(value), headers=headers, timeout=self.timeout_seconds,
                                 max_bytes=MAX_BODY_BYTES, client=client, follow=False)
        except OutboundRefused as exc:
            raise ActionFailed(f"{self.name}: refused, {exc}") from exc
        except OutboundTooLarge as exc:
            raise ActionFailed(f"{self.name}: the answer is too large ({exc})") from exc
        except OutboundFailed as exc:
            if isinstance(exc.__cause__, httpx.TimeoutException) or "in time" in str(exc):
                raise ActionFailed(f"{self.name}: no answer within {self.timeout_seconds:g} s") from exc
            raise ActionFailed(f"{self.name}: {exc}") from exc
        if response.status_code == 404 or 200 <= response.status_code < 300:
            return response.status_code, response.text[:MAX_RESULT_CHARS]
        raise ActionFailed(f"{self.name}: the API answered HTTP {response.status_code}")


def enabled_actions(session: Session) -> list[HttpAction]:
    return [HttpAction.of(row) for row in
            session.scalars(select(LlmAction).where(LlmAction.enabled.is_(True)).order_by(LlmAction.name))]


def check_action(body: dict[str, Any]) -> dict[str, Any]:
    """Validate an admin's action definition; raises `InvalidInput` with what is wrong."""
    def text(key: str, limit: int, *, required: bool = True) -> str:
        value = body.get(key)
        if value is None or value == "":
            if required:
                raise InvalidInput(f"'{key}' is required.")
            return ""
        if not isinstance(value, str) or len(value) > limit:
            raise InvalidInput(f"'{key}' must be a text of at most {limit} characters.")
        return value.strip()

    name = text("name", 60)
    if not _NAME.match(name) or name in RESERVED:
        raise InvalidInput("'name' must be snake_case (3-60 characters) and not a built-in tool's name.")
    param = text("param_name", 40)
    if not _PARAM.match(param):
        raise InvalidInput("'param_name' must be snake_case.")
    url = text("url_template", 500)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidInput("'url_template' must be an http(s) URL.")
    if url.count("{" + param + "}") != 1 or re.search(r"\{(?!" + re.escape(param) + r"\})", url):
        raise InvalidInput(f"'url_template' must contain {{{param}}} exactly once and no other placeholder.")
    if "{" in parts.netloc:
        raise InvalidInput("The parameter may not be part of the host name.")
    pattern = text("param_pattern", 200)
    try:
        re.compile(pattern)
    except re.error as exc:
        raise InvalidInput(f"'param_pattern' is not a valid regular expression: {exc}") from exc
    secret_env = text("secret_env", 100, required=False) or None
    if secret_env is not None and not _ENV.match(secret_env):
        raise InvalidInput(f"'secret_env' must name a variable starting with {SECRET_PREFIX} (e.g. "
                           f"{SECRET_PREFIX}SHOP_API): actions never get the app's own settings.")
    timeout = body.get("timeout_seconds", 5.0)
    if not isinstance(timeout, int | float) or isinstance(timeout, bool) or not 0.1 <= float(timeout) <= 30:
        raise InvalidInput("'timeout_seconds' must be a number between 0.1 and 30.")
    enabled = body.get("enabled", True)
    if not isinstance(enabled, bool):
        raise InvalidInput("'enabled' must be true or false.")
    return {"name": name, "description": text("description", 1000), "url_template": url, "param_name": param,
            "param_description": text("param_description", 300, required=False), "param_pattern": pattern,
            "secret_env": secret_env, "secret_header": text("secret_header", 100, required=False) or "Authorization",
            "timeout_seconds": float(timeout), "enabled": enabled}


def do_save_action(session: Session, values: dict[str, Any]) -> LlmAction:
    row = session.scalar(select(LlmAction).where(LlmAction.name == values["name"]))
    if row is None:
        row = LlmAction(created_at=utcnow(), **values)
        session.add(row)
    else:
        for key, value in values.items():
            setattr(row, key, value)
    row.updated_at = utcnow()
    session.flush()
    return row


def action_json(row: LlmAction) -> dict[str, Any]:
    return {"id": row.id, "name": row.name, "description": row.description, "url_template": row.url_template,
            "param_name": row.param_name, "param_description": row.param_description,
            "param_pattern": row.param_pattern, "secret_env": row.secret_env, "secret_header": row.secret_header,
            "secret_set": bool(row.secret_env and _ENV.match(row.secret_env) and os.environ.get(row.secret_env)),
            "timeout_seconds": row.timeout_seconds, "enabled": row.enabled}
