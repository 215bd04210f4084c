"""The few calls Parley makes to a Rasa server (`rasa run --enable-api`), with timeouts.

Every failure to get an answer — refused, timed out, a 5xx — is `RasaUnavailable`, which the engine
lets through so the pipeline hands the conversation off with `bot_error`. The API token travels as
Rasa expects it, in the `token` query parameter; the REST channel's webhook takes none. httpx logs
every request's URL at INFO, query included, so a filter on its logger masks the token: verbose
logs never carry it.
"""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import quote

import httpx

UNTIL_LISTENING = "AFTER_RESTART"
_TOKEN_PARAM = re.compile(r"([?&]token=)[^&\s\"']+")


def redact_token(text: str) -> str:
    return _TOKEN_PARAM.sub(r"\1[token]", text)


class _RedactToken(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact_token(str(a)) if isinstance(a, httpx.URL | str) else a
                                for a in record.args)
        if isinstance(record.msg, str):
            record.msg = redact_token(record.msg)
        return True


for _name in ("httpx", "httpcore"):
    if not any(isinstance(f, _RedactToken) for f in logging.getLogger(_name).filters):
        logging.getLogger(_name).addFilter(_RedactToken())


class RasaError(RuntimeError):
    """Rasa answered, but not with what was asked (4xx, unexpected JSON)."""


class RasaUnavailable(RasaError):
    """Rasa could not be reached in time, or failed (5xx)."""


class RasaClient:
    def __init__(self, url: str, token: str | None, timeout_s: float) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.timeout_s = timeout_s
        self._http = httpx.Client(base_url=self.url, timeout=httpx.Timeout(timeout_s), trust_env=False)

    def close(self) -> None:
        self._http.close()

    def _params(self, **extra: str) -> dict[str, str]:
        return {**({"token": self.token} if self.token else {}), **extra}

    def _call(self, method: str, path: str, *, json: Any = None, params: dict[str, str] | None = None,
              timeout: float | None = None, headers: dict[str, str] | None = None) -> Any:
        try:
            response = self._http.request(method, path, json=json, params=params,
                                          timeout=timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT,
                                          headers=headers)
        except httpx.TimeoutException as exc:
            raise RasaUnavailable(f"Rasa at {self.url} did not answer {method} {path} within "
                                  f"{timeout or self.timeout_s:g}s") from exc
        except httpx.HTTPError as exc:
            raise RasaUnavailable(f"Rasa at {self.url} is not reachable ({type(exc).__name__}: {exc})") from exc
        if response.status_code >= 500:
            raise RasaUnavailable(f"Rasa {method} {path} failed: HTTP {response.status_code} {response.text[:300]}")
        if response.status_code >= 400:
            raise RasaError(f"Rasa {method} {path}: HTTP {response.status_code} {response.text[:300]}")
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise RasaError(f"Rasa {method} {path} answered something that is not JSON") from exc

    # --- conversations -------------------------------------------------------------------------------

    def send(self, sender: str, text: str, metadata: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """One customer message through Rasa's NLU and dialogue; returns the bot's messages."""
        body: dict[str, Any] = {"sender": sender, "message": text}
        if metadata:
            body["metadata"] = metadata
        answer = self._call("POST", "/webhooks/rest/webhook", json=body)
        if not isinstance(answer, list):
            raise RasaError("the REST webhook did not answer a list of messages")
        return [m for m in answer if isinstance(m, dict)]

    def tracker(self, sender: str, include_events: str = UNTIL_LISTENING) -> dict[str, Any]:
        answer = self._call("GET", f"/conversations/{quote(sender, safe='')}/tracker",
                            params=self._params(include_events=include_events))
        if not isinstance(answer, dict):
            raise RasaError("the tracker endpoint did not answer an object")
        return answer

    def append_events(self, sender: str, events: list[dict[str, Any]], *, timeout: float | None = None) -> None:
        self._call("POST", f"/conversations/{quote(sender, safe='')}/tracker/events", json=events,
                   params=self._params(include_events="NONE"), timeout=timeout)

    # --- model ---------------------------------------------------------------------------------------

    def parse(self, text: str) -> dict[str, Any]:
        answer = self._call("POST", "/model/parse", json={"text": text}, params=self._params())
        if not isinstance(answer, dict):
            raise RasaError("/model/parse did not answer an object")
        return answer

    def status(self, timeout: float | None = None) -> dict[str, Any]:
        answer = self._call("GET", "/status", params=self._params(), timeout=timeout)
        return answer if isinstance(answer, dict) else {}

    def domain(self) -> dict[str, Any]:
        answer = self._call("GET", "/domain", params=self._params(), headers={"Accept": "application/json"})
        return answer if isinstance(answer, dict) else {}

    def replace_model(self, model_file: str, timeout: float = 600.0) -> None:
        """Load another model into the running server (`PUT /model`): no restart, no downtime."""
        self._call("PUT", "/model", json={"model_file": model_file}, params=self._params(), timeout=timeout)

