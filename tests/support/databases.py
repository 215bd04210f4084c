"""Test databases: a PostgreSQL schema of this session's own, and freshly migrated settings for any fixture."""

from __future__ import annotations

import os
import secrets
import shutil
from pathlib import Path

from sqlalchemy import text

from models.db import Database
from models.schema.base import Base
from models.settings import Settings


def _own_schema(url: str | None) -> str | None:
    """Each test session works in a schema of its own (search_path), so concurrent runs on one PostgreSQL
    database (two CI jobs, a developer and CI) never truncate each other's tables. Subprocesses started by
    tests inherit it through DATABASE_URL."""
    if not url or not url.startswith(("postgresql", "postgres://")):
        return url
    if os.environ.get("PARLEY_TEST_PG_SCHEMA"):  # this module can be imported twice (pytest, tests.conftest)
        return url
    schema = f"test_{os.getpid()}_{secrets.token_hex(3)}"
    isolated = f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"
    os.environ["DATABASE_URL"] = isolated
    os.environ["PARLEY_TEST_PG_SCHEMA"] = schema
    return isolated


PG_URL = _own_schema(os.environ.get("DATABASE_URL"))


def fresh_settings(tmp_path: Path, _template_db: str | None) -> Settings:
    """Settings over a freshly migrated, empty database under `tmp_path` (for fixtures of any scope)."""
    env = {"PARLEY_INSTANCE": str(tmp_path / "instance"), "PARLEY_SECRET_KEY": "test-secret",
           "PARLEY_DATA": str(Path(__file__).resolve().parents[2] / "data")}
    if PG_URL:
        env["DATABASE_URL"] = PG_URL
        s = Settings.from_env(env=env, load_dotenv=False)
        db = Database(s.database_url)
        tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
        with db.engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        db.dispose()
        return s
    (tmp_path / "instance").mkdir()
    assert _template_db is not None
    shutil.copy(_template_db, tmp_path / "instance" / "parley.db")
    return Settings.from_env(env=env, load_dotenv=False)
