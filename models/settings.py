"""Configuration, read once from the environment (and `.env`).

Plain data with no Flask in it, so the CLI, workers, the bot and the web app all read the same
values. Every knob is a `PARLEY_*` variable, plus the conventional `DATABASE_URL` and `REDIS_URL`.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any


def env_float(env: Mapping[str, Any], name: str, default: float, *, minimum: float | None = None,
              above: bool = False, unit: str = "a number") -> float:
    """`env[name]` as a number (`default` when unset or empty), with a clear error naming the variable.
    `minimum`: the smallest value allowed (`above`: the value must be more than it)."""
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be {unit}, got {raw!r}") from exc
    if minimum is not None and (value <= minimum if above else value < minimum):
        raise ValueError(f"{name} must be {'more than' if above else 'at least'} {minimum:g}")
    return value


def env_int(env: Mapping[str, Any], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be a whole number, got {raw!r}") from exc


@dataclass(frozen=True)
class Settings:
    instance_dir: Path
    data_dir: Path
    database_url: str
    redis_url: str | None
    secret_key: str
    bot_engines: tuple[str, ...] = ("embedded",)
    # Below this confidence the bot asks the customer to rephrase ...
    bot_fallback_threshold: float = 0.5
    # ... and below this one it hands off at once (reason `low_confidence`).
    bot_handoff_threshold: float = 0.2
    # How many "please rephrase" turns in a row before handing off (`repeated_fallback`).
    bot_fallback_attempts: int = 1
    max_message_length: int = 4096
    # Origins allowed to open the customer-facing /webchat socket ("*" = any site may embed the widget).
    widget_origins: tuple[str, ...] = ("*",)
    # The Redis pub/sub channel of the Socket.IO message queue (one per deployment sharing a Redis).
    socketio_channel: str = "parley-socketio"
    # Production serving (issue 11): how long a bot claim lasts unrenewed (a dead worker's turns are
    # taken over after at most this), how many proxies in front set X-Forwarded-* (0: trust none),
    # the public URL (https: session cookies are sent only over TLS), and how long SIGTERM waits for
    # work under way before giving it back.
    bot_lease_seconds: float = 15.0
    trusted_proxies: int = 0
    public_url: str | None = None
    shutdown_grace_seconds: float = 20.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def models_dir(self) -> Path:
        return self.instance_dir / "models"

    def with_(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, *, load_dotenv: bool = True) -> Settings:
        if env is None:
            if load_dotenv:
                try:
                    from dotenv import load_dotenv as _load

                    _load(override=False)
                except ImportError:  # pragma: no cover - python-dotenv is a dependency
                    pass
            env = dict(os.environ)
        instance = Path(env.get("PARLEY_INSTANCE") or "instance").resolve()
        data = Path(env.get("PARLEY_DATA") or "data").resolve()
        database_url = env.get("DATABASE_URL") or f"sqlite:///{instance / 'parley.db'}"
        if database_url.startswith("postgres://"):  # Heroku-style alias
            database_url = "postgresql://" + database_url[len("postgres://") :]
        if database_url.startswith("postgresql://"):
            database_url = "postgresql+psycopg://" + database_url[len("postgresql://") :]
        engines = tuple(
            e.strip() for e in (env.get("PARLEY_BOT_ENGINES") or "embedded").split(",") if e.strip()
        )
        origins = tuple(
            o.strip() for o in (env.get("PARLEY_WIDGET_ORIGINS") or "*").split(",") if o.strip()
        )
        return cls(
            instance_dir=instance,
            data_dir=data,
            database_url=database_url,
            redis_url=env.get("REDIS_URL") or None,
            secret_key=env.get("PARLEY_SECRET_KEY") or _instance_secret(instance),
            bot_engines=engines or ("embedded",),
            bot_fallback_threshold=env_float(env, "PARLEY_BOT_FALLBACK_THRESHOLD", 0.5),
            bot_handoff_threshold=env_float(env, "PARLEY_BOT_HANDOFF_THRESHOLD", 0.2),
            bot_fallback_attempts=env_int(env, "PARLEY_BOT_FALLBACK_ATTEMPTS", 1),
            max_message_length=env_int(env, "PARLEY_MAX_MESSAGE_LENGTH", 4096),
            widget_origins=origins,
            socketio_channel=env.get("PARLEY_SOCKETIO_CHANNEL") or "parley-socketio",
            bot_lease_seconds=env_float(env, "PARLEY_BOT_LEASE_SECONDS", 15.0, minimum=0, above=True,
                                        unit="a number of seconds"),
            trusted_proxies=env_int(env, "PARLEY_TRUSTED_PROXIES", 0),
            public_url=(env.get("PARLEY_PUBLIC_URL") or "").strip().rstrip("/") or None,
            shutdown_grace_seconds=env_float(env, "PARLEY_SHUTDOWN_GRACE_SECONDS", 20.0, minimum=0,
                                             unit="a number of seconds"),
        )


def _instance_secret(instance: Path) -> str:
    """A per-installation secret, made once and kept in the instance folder (mode 600)."""
    path = instance / "secret_key"
    if path.exists():
        return path.read_text().strip()
    instance.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    tmp = instance / f".secret_key.{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    try:
        os.link(tmp, path)  # atomic, and fails if another process made one first
    except FileExistsError:
        key = path.read_text().strip()
    finally:
        tmp.unlink()
    return key
