"""Shared fixtures: a migrated database per test (SQLite by default, PostgreSQL with DATABASE_URL),
the real app factory, and helpers that act as a customer and as agents would."""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import text

from console.app import create_app
from console.runtime.jobs import InlineJobs
from models.db import Database
from models.migrate import upgrade
from models.schema.base import Base
from models.settings import Settings
from tests.support.engines import RuleEngine

# SMS/WhatsApp fixtures (fake providers, an app wired to them): tests/channel_fixtures.py
pytest_plugins = ["tests.support.channels", "tests.support.storage"]


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


@pytest.fixture(scope="session")
def _template_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str | None]:
    """Migrate once per session: a SQLite file to copy, or the PostgreSQL schema to truncate."""
    if PG_URL:
        url = Settings.from_env(env={"DATABASE_URL": PG_URL, "PARLEY_SECRET_KEY": "x"}).database_url
        db = Database(url)
        schema = os.environ["PARLEY_TEST_PG_SCHEMA"]
        with db.engine.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        upgrade(db.engine)
        db.dispose()
        yield None
        db = Database(url)
        with db.engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        db.dispose()
        return
    path = tmp_path_factory.mktemp("template") / "parley.db"
    db = Database(f"sqlite:///{path}")
    upgrade(db.engine)
    db.dispose()
    yield str(path)


@pytest.fixture
def settings(tmp_path: Path, _template_db: str | None) -> Settings:
    return fresh_settings(tmp_path, _template_db)


def fresh_settings(tmp_path: Path, _template_db: str | None) -> Settings:
    """Settings over a freshly migrated, empty database under `tmp_path` (for fixtures of any scope)."""
    env = {"PARLEY_INSTANCE": str(tmp_path / "instance"), "PARLEY_SECRET_KEY": "test-secret",
           "PARLEY_DATA": str(Path(__file__).parent.parent / "data")}
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


@pytest.fixture
def engines() -> list[Any]:
    return [RuleEngine()]


@pytest.fixture
def app(settings: Settings, engines: list[Any]) -> Iterator[Flask]:
    app = create_app(settings, engines=engines, jobs=InlineJobs(), testing=True)
    yield app
    app.extensions["parley"].db.dispose()


@pytest.fixture
def db(app: Flask) -> Database:
    database: Database = app.extensions["parley"].db
    return database


@pytest.fixture
def browsers(request: pytest.FixtureRequest) -> Iterator[Callable[[], Any]]:
    """Browsers made on demand; each leaves a screenshot named after the test, then quits."""
    from tests.support.browser import SHOTS, _browser

    made: list[Any] = []

    def make() -> Any:
        made.append(_browser())
        return made[-1]

    yield make
    for i, b in enumerate(made):
        SHOTS.mkdir(exist_ok=True)
        b.save_screenshot(str(SHOTS / f"{request.node.name}-{i}.png"))
        b.quit()
