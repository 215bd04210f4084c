"""The migration history builds exactly the schema the models declare (no drift, no create_all)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from models.db import Database
from models.migrate import alembic_config, current_revision
from models.schema import metadata
from models.settings import Settings


def test_one_head() -> None:
    heads = ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads()
    assert len(heads) == 1, heads


def test_migrated_schema_matches_the_models(settings: Settings) -> None:
    db = Database(settings.database_url)  # migrated by the session fixture
    try:
        assert current_revision(db.engine) == ScriptDirectory.from_config(
            alembic_config("sqlite://")).get_current_head()
        with db.engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(ctx, metadata)
        assert diff == []
    finally:
        db.dispose()
