"""The supervised Rasa server's endpoints.yml: where it keeps conversation trackers and its locks.

With one process on SQLite (`parley run`), trackers live in a SQLite file under the instance folder and
locks in memory, as before. In production (`DATABASE_URL` on PostgreSQL) every Parley process runs its
own Rasa server, so they must share state: trackers go to the same database, in a schema of their own
(`rasa`, chosen through Rasa's `POSTGRESQL_SCHEMA`, so Rasa's `events` table never meets Parley's
tables), and with `REDIS_URL` the lock store is Redis, so two servers never handle one conversation's
messages at once.

With `PARLEY_RASA_ACTION_ENDPOINT` the server also gets `action_endpoint: {url: ...}`, so custom
actions (a rasa-sdk action server the operator runs) answer for actions the domain lists.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from models.settings import Settings

TRACKER_SCHEMA = "rasa"
LOCK_PREFIX = "parley"  # Rasa wants it alphanumeric


def is_postgresql(database_url: str) -> bool:
    return make_url(database_url).get_backend_name() == "postgresql"


def endpoints(settings: Settings, workdir: Path, *, shared: bool = True) -> dict[str, Any]:
    """The content of endpoints.yml (JSON is YAML) for a server started in `workdir`. `shared=False`:
    a throwaway server (evaluations, one-shot commands) keeps its trackers to itself, in `workdir`."""
    config: dict[str, Any]
    if not shared:
        config = {"tracker_store": _tracker_store("sqlite://", workdir)}
    else:
        config = {"tracker_store": _tracker_store(settings.database_url, workdir)}
        if settings.redis_url and is_postgresql(settings.database_url):
            config["lock_store"] = _lock_store(settings.redis_url)
    action_url = settings.resolved().rasa_action_endpoint
    if action_url:
        config["action_endpoint"] = {"url": action_url}
    return config


def environment(settings: Settings, *, shared: bool = True) -> dict[str, str]:
    """What Rasa's process needs in its environment for that tracker store."""
    return {"POSTGRESQL_SCHEMA": TRACKER_SCHEMA} if shared and is_postgresql(settings.database_url) else {}


def prepare(settings: Settings, *, shared: bool = True) -> None:
    """Create the trackers' schema (Rasa refuses to start when it is missing)."""
    if not shared or not is_postgresql(settings.database_url):
        return
    engine = create_engine(settings.database_url)
    try:
        with engine.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{TRACKER_SCHEMA}"'))
    finally:
        engine.dispose()


def _tracker_store(database_url: str, workdir: Path) -> dict[str, Any]:
    if not is_postgresql(database_url):
        return {"type": "SQL", "dialect": "sqlite", "db": str(workdir / "trackers.db")}
    url = make_url(database_url)
    store: dict[str, Any] = {"type": "SQL", "dialect": "postgresql", "host": url.host or "localhost",
                             "port": url.port or 5432, "db": url.database or "postgres"}
    if url.username:
        store["username"] = url.username
    if url.password:
        store["password"] = url.password
    # Connection options (sslmode ...) carry over; a search_path does not: the schema is Rasa's own.
    query = {k: v for k, v in url.query.items() if k != "options"}
    if query:
        store["query"] = query
    return store


def _lock_store(redis_url: str) -> dict[str, Any]:
    parts = urlsplit(redis_url)
    if parts.scheme not in ("redis", "rediss"):
        raise ValueError(f"REDIS_URL must start with redis:// or rediss:// for Rasa's lock store, got {redis_url!r}")
    db = parts.path.strip("/")
    store: dict[str, Any] = {"type": "redis", "url": parts.hostname or "localhost", "port": parts.port or 6379,
                             "db": int(db) if db.isdigit() else 0, "key_prefix": LOCK_PREFIX,
                             "use_ssl": parts.scheme == "rediss"}
    if parts.username:
        store["username"] = unquote(parts.username)
    if parts.password:
        store["password"] = unquote(parts.password)
    return store
