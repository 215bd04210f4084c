"""Shared fixtures: a migrated database per test (SQLite by default, PostgreSQL with DATABASE_URL),
the real app factory, and helpers that act as a customer and as agents would."""

from __future__ import annotations

import os
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
from models.settings import Settings
from tests.support.databases import PG_URL, fresh_settings
from tests.support.engines import RuleEngine

# SMS/WhatsApp fixtures (fake providers, an app wired to them): tests/channel_fixtures.py
pytest_plugins = ["tests.support.channels", "tests.support.storage", "tests.support.mail"]


# Test apps on PostgreSQL use development defaults (widget origins "*", no public URL), which a real
# PostgreSQL deployment refuses at start (models/production.py); servers started by tests inherit it.
os.environ.setdefault("PARLEY_ALLOW_INSECURE_DEFAULTS", "1")


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
