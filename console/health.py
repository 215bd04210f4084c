"""`GET /readyz`: may this process be sent traffic? (`/healthz`, in pages.py, only says it is alive.)

A balancer or an orchestrator asks this before routing to a new process and keeps asking: a process
whose database is unreachable or not migrated to head (a deploy in progress), whose Redis is down
(its live pushes would be lost), whose Rasa server (when Rasa is an engine) does not answer, or whose
file storage cannot be written, answers 503 with a JSON body naming each thing that is not ready, so
the operator reading it knows where to look.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from flask import Blueprint, jsonify
from sqlalchemy import text

from console.runtime.channels import runtime
from console.services import Services, services
from models.storage.base import Storage

bp = Blueprint("health", __name__)

CHECK_TIMEOUT_S = 2.0


def _database(svc: Services) -> str | None:
    from alembic.script import ScriptDirectory

    from models.migrate import MIGRATIONS, alembic_config, current_revision

    with svc.db.session() as s:
        s.execute(text("SELECT 1"))
    heads = set(ScriptDirectory.from_config(alembic_config(str(svc.db.engine.url))).get_heads())
    current = current_revision(svc.db.engine)
    if current not in heads:
        return (f"not migrated: at revision {current or 'none'}, code expects {', '.join(sorted(heads))} "
                f"(run `parley db upgrade`; migrations in {MIGRATIONS.name}/)")
    return None


def _redis(svc: Services) -> str | None:
    import redis

    url = svc.settings.redis_url
    assert url is not None
    client = redis.Redis.from_url(url, socket_timeout=CHECK_TIMEOUT_S, socket_connect_timeout=CHECK_TIMEOUT_S)
    try:
        client.ping()
    finally:
        client.close()
    return None


def _rasa(svc: Services) -> str | None:
    for engine in svc.pipeline.engines:
        server = getattr(engine, "server", None)
        if getattr(engine, "name", None) == "rasa" and server is not None:
            server.client().status(timeout=CHECK_TIMEOUT_S)
    return None


def _storage(storage: Storage) -> str | None:
    """Shared file storage takes a write and gives it back (the local folder or the S3 bucket)."""
    key = f"readyz/{secrets.token_hex(6)}"
    storage.put(key, b"ok")
    storage.delete(key)
    return None


def checks(svc: Services) -> dict[str, Callable[[], str | None]]:
    """What this process needs, by name; each returns None when ready, or what is wrong."""
    found: dict[str, Callable[[], str | None]] = {"database": lambda: _database(svc)}
    if svc.settings.redis_url:
        found["redis"] = lambda: _redis(svc)
    if "rasa" in svc.settings.bot_engines:
        found["rasa"] = lambda: _rasa(svc)
    found["storage"] = lambda: _storage(runtime().store.storage)
    return found


@bp.get("/readyz")
def readyz() -> Any:
    results: dict[str, dict[str, Any]] = {}
    for name, check in checks(services()).items():
        try:
            problem = check()
        except Exception as exc:  # whatever the failure, the answer is "not ready, and why"
            problem = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
        results[name] = {"ok": problem is None, **({"error": problem} if problem else {})}
    not_ready = sorted(name for name, result in results.items() if not result["ok"])
    body = {"status": "ready" if not not_ready else "not_ready", "not_ready": not_ready, "checks": results}
    return jsonify(body), 200 if not not_ready else 503
