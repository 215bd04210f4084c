"""`/healthz` says the process is alive; `/readyz` whether it may take traffic, naming what is not ready."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import text

from models.db import Database
from models.storage.local import LocalStorage


def test_a_ready_process_says_so_and_what_it_checked(app: Flask) -> None:
    r = app.test_client().get("/readyz")
    assert r.status_code == 200, r.json
    assert r.json["status"] == "ready" and r.json["not_ready"] == []
    assert r.json["checks"]["database"] == {"ok": True}
    assert r.json["checks"]["storage"] == {"ok": True}
    assert app.test_client().get("/healthz").json == {"status": "ok"}


def test_a_database_behind_the_code_s_migrations_is_named(app: Flask, db: Database) -> None:
    with db.engine.begin() as conn:
        head = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
        conn.execute(text("UPDATE alembic_version SET version_num = '0007_team_workspace'"))
    try:
        r = app.test_client().get("/readyz")
    finally:
        with db.engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": head})
    assert r.status_code == 503
    assert r.json["status"] == "not_ready" and r.json["not_ready"] == ["database"]
    assert "not migrated" in r.json["checks"]["database"]["error"]
    assert "parley db upgrade" in r.json["checks"]["database"]["error"]


@pytest.fixture
def unreachable(app: Flask, tmp_path: Path) -> Flask:
    """Redis nobody listens on, and file storage whose folder cannot be made (a file is in the way).
    (Only what /readyz reads changes: an app built with a message queue would keep the shared
    Socket.IO object on it for every later test.)"""
    from console.runtime.channels import runtime

    blocked = tmp_path / "not-a-folder"
    blocked.write_text("in the way")
    svc = app.extensions["parley"]
    svc.settings = svc.settings.with_(redis_url="redis://127.0.0.1:9/0")
    runtime(app).store.storage = LocalStorage(blocked / "files")
    return app


def test_unreachable_redis_and_unwritable_storage_are_named(unreachable: Flask) -> None:
    r = unreachable.test_client().get("/readyz")
    assert r.status_code == 503
    assert r.json["not_ready"] == ["redis", "storage"]
    assert r.json["checks"]["database"] == {"ok": True}
    assert "ConnectionError" in r.json["checks"]["redis"]["error"]
