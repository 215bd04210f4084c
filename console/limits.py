"""Rate limits and abuse controls, one storage for HTTP views and socket handlers.

Flask-Limiter holds the storage (Redis when `REDIS_URL` or `PARLEY_RATE_LIMIT_STORAGE` is set, so every
process counts together; memory otherwise) and enforces the API's per-token limit on every request
that carries a Bearer token.
Views and socket handlers that limit by something else (a visitor, an account, an address) call `hit`,
which uses the same storage through the `limits` strategy, and raise `RateLimited` (429 + Retry-After).
Login has a growing back-off instead of a flat limit (`LoginGuard`).

Keys are prefixed with the deployment's Socket.IO channel: deployments sharing one Redis do not share
counters. Webhooks are not limited by address (providers retry from shared IPs); their bodies are
capped by size (`body_limit`, and the app's MAX_CONTENT_LENGTH).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from functools import lru_cache, wraps
from typing import Any, TypeVar

from flask import Flask, current_app, jsonify, render_template, request
from flask_limiter import Limiter
from limits import parse_many
from limits.storage import MemoryStorage
from limits.strategies import FixedWindowRateLimiter
from redis.exceptions import RedisError

from models.accounts.sessions import hash_secret
from models.errors import ParleyError
from models.settings import Settings

F = TypeVar("F", bound=Callable[..., Any])
log = logging.getLogger(__name__)


class RateLimited(ParleyError):
    code = "rate_limited"

    def __init__(self, retry_after: float, what: str = "Too many attempts") -> None:
        self.retry_after = max(1, math.ceil(retry_after))
        super().__init__(f"{what}; try again in {self.retry_after} seconds.")


def _bearer_key() -> str:
    header = request.headers.get("Authorization", "")
    return "token:" + hash_secret(header[len("Bearer "):].strip())[:32]


def _not_bearer() -> bool:
    return not request.headers.get("Authorization", "").startswith("Bearer ")


def client_address() -> str:
    """The caller's address (`PARLEY_TRUSTED_PROXIES` makes it the one the proxy saw)."""
    return request.remote_addr or "unknown"


class Limits:
    def __init__(self, app: Flask, settings: Settings) -> None:
        self.settings = settings
        self.prefix = f"{settings.socketio_channel}:rl"
        self.limiter = Limiter(
            _bearer_key, app=app, storage_uri=_storage_uri(settings), key_prefix=self.prefix,
            application_limits=[settings.rate_limit_api], application_limits_exempt_when=_not_bearer,
            headers_enabled=True, strategy="fixed-window", in_memory_fallback_enabled=True,
        )
        self.login = LoginGuard(self)

        self._fallback = SweptMemoryStorage()

    @property
    def storage(self) -> Any:
        """The shared storage; this process's memory while Redis cannot be reached (limits keep
        working per process rather than failing every login and message)."""
        storage = self.limiter.storage
        try:
            if storage.check():
                return storage
        except RedisError:
            pass
        log.warning("rate-limit storage unreachable; counting in this process's memory meanwhile")
        return self._fallback

    def hit(self, name: str, limit: str, key: str, what: str = "Too many requests") -> None:
        """Count one `name` event for `key` against `limit` ("30/minute;300/hour"); refuse past it.

        Every webchat message comes here twice: the shared storage is used without asking it first
        whether it is up (a Redis round trip more each time), and this process's memory only when it
        fails."""
        items = _parsed(limit)
        try:
            self._hit(FixedWindowRateLimiter(self.limiter.storage), items, name, key, what)
        except RedisError:
            log.warning("rate-limit storage unreachable; counting in this process's memory meanwhile")
            self._hit(FixedWindowRateLimiter(self._fallback), items, name, key, what)

    def _hit(self, window: FixedWindowRateLimiter, items: list[Any], name: str, key: str, what: str) -> None:
        for item in items:
            if not window.hit(item, self.prefix, name, key):
                reset = window.get_window_stats(item, self.prefix, name, key).reset_time
                raise RateLimited(reset - time.time(), what)


class LoginGuard:
    """Failed logins per account and per address. Past the free failures each further failure locks
    that account (or address) for twice as long as the last, up to a cap; while locked even the right
    password is refused. A success clears the account's failures. Failures are forgotten an hour after
    the first one of a run."""

    WINDOW = 3600

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        s = limits.settings
        self.rules = (("acct", s.login_free_failures), ("addr", s.login_free_failures_per_address))

    def _keys(self, email: str, address: str) -> list[tuple[str, int]]:
        who = {"acct": hash_secret((email or "").strip().lower())[:32], "addr": address}
        return [(f"{self.limits.prefix}:login:{kind}:{who[kind]}", free) for kind, free in self.rules]

    def check(self, email: str, address: str) -> None:
        storage = self.limits.storage
        waits = [storage.get_expiry(key + ":lock") - time.time()
                 for key, _ in self._keys(email, address) if storage.get(key + ":lock") > 0]
        if waits:
            # Redis reports whole seconds left, rounded down: add one so Retry-After is never too early.
            slack = 0 if isinstance(storage, MemoryStorage) else 1
            raise RateLimited(max(waits) + slack, "Too many failed logins")

    def failed(self, email: str, address: str) -> None:
        storage, s = self.limits.storage, self.limits.settings
        for key, free in self._keys(email, address):
            failures = storage.incr(key, self.WINDOW)
            if failures >= free:
                delay = min(s.login_backoff_max_seconds, s.login_backoff_seconds * 2 ** (failures - free))
                storage.clear(key + ":lock")
                storage.incr(key + ":lock", max(1, math.ceil(delay)))

    def succeeded(self, email: str, address: str) -> None:
        key = self._keys(email, address)[0][0]
        self.limits.storage.clear(key)
        self.limits.storage.clear(key + ":lock")


@lru_cache(maxsize=64)
def _parsed(limit: str) -> list[Any]:
    return list(parse_many(limit))


class SweptMemoryStorage(MemoryStorage):
    """`memory://` without a thread per burst: the library's storage starts a timer thread to drop
    expired keys whenever its last one has finished (10 ms later) — in practice one thread per webchat
    message. Expired keys are already ignored as they are read; here they are also dropped, at most
    once a second, by whoever writes."""

    STORAGE_SCHEME = ["parley-memory"]
    SWEEP_S = 1.0

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options: str) -> None:
        super().__init__(uri, wrap_exceptions, **options)
        self._next_sweep = 0.0

    def _MemoryStorage__schedule_expiry(self) -> None:  # replaces the library's private timer start
        now = time.monotonic()
        if now >= self._next_sweep:
            self._next_sweep = now + self.SWEEP_S
            self._MemoryStorage__expire_events()  # type: ignore[attr-defined]


def _storage_uri(settings: Settings) -> str:
    uri = settings.limits_storage_uri
    return "parley-memory://" if uri == "memory://" else uri


def limits() -> Limits:
    found: Limits = current_app.extensions["parley_limits"]
    return found


def body_limit(size: Callable[[], int]) -> Callable[[F], F]:
    """Set a view's request body cap before anything reads the body (reading `request.form` first
    would apply the app-wide 1 MiB cap: the cause of webchat uploads cut at 1 MiB)."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            request.max_content_length = size()
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def init_app(app: Flask, settings: Settings) -> Limits:
    found = app.extensions["parley_limits"] = Limits(app, settings)

    @app.errorhandler(RateLimited)
    def _rate_limited(exc: RateLimited) -> Any:
        if request.path == "/login":
            body: Any = render_template("login.html", error=exc.message, email=request.form.get("email", ""))
        else:
            body = jsonify({"error": {"code": exc.code, "message": exc.message}})
        return body, 429, {"Retry-After": str(exc.retry_after)}

    return found
