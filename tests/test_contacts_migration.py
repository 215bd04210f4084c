"""Migration 0016: a blacklisted contact becomes blocked (and back on downgrade); nothing else is blocked."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from sqlalchemy import create_engine, text

from models.migrate import alembic_config, upgrade


def test_blacklisted_contacts_become_blocked_and_back(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    engine = create_engine(url)
    try:
        upgrade(engine, "0012_inboxes")
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO contacts (id, name, blacklisted, online, created_at) VALUES "
                              "(1, 'Spammer', 1, 0, '2026-01-01 00:00:00'), (2, 'Kerry', 0, 0, '2026-01-01 00:00:00')"))
        upgrade(engine, "0016_contacts_admin")
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT id, blocked_at IS NOT NULL, blocked_by, blocked_reason FROM contacts "
                                     "ORDER BY id")).all()
        assert [tuple(r) for r in rows] == [(1, 1, None, None), (2, 0, None, None)]
        with engine.begin() as conn:
            cfg = alembic_config(url)
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0012_inboxes")
        with engine.connect() as conn:
            assert [tuple(r) for r in conn.execute(text("SELECT id, blacklisted FROM contacts ORDER BY id"))] == [
                (1, 1), (2, 0)]
    finally:
        engine.dispose()
