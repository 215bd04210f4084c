"""Migration 0012_inboxes on an installation that already has teams, numbers and conversations: one
default inbox per channel in use, owned by the first team, and every conversation placed in one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import text

from models.db import Database
from models.migrate import upgrade

NOW = "2026-01-01 00:00:00.000000"


def _seed(db: Database) -> None:
    with db.engine.begin() as conn:
        conn.execute(text("INSERT INTO teams (id, name, created_at) VALUES (1, 'Support', :t), (2, 'Sales', :t)"),
                     {"t": NOW})
        for cid, kind, name, address, options in [
                (1, "twilio", "Main line", "+15550001111", {"whatsapp": True}),
                (2, "twilio", "SMS only", "+15550002222", {"whatsapp": False}),
                (3, "whatsapp_cloud", "Cloud", "109876543210", {})]:
            conn.execute(text(
                "INSERT INTO channel_configs (id, kind, name, address, enabled, secrets, options, templates, source, "
                "created_at, updated_at) VALUES (:id, :kind, :name, :address, 1, '{}', :options, '[]', 'admin', "
                ":t, :t)"), {"id": cid, "kind": kind, "name": name, "address": address,
                                 "options": json.dumps(options), "t": NOW})
        conn.execute(text("INSERT INTO contacts (id, name, blacklisted, online, created_at) VALUES "
                          "(1, 'Kerry', 0, 0, :t)"), {"t": NOW})
        for cid, channel in [(1, "webchat"), (2, "sms"), (3, "whatsapp"), (4, "whatsapp")]:
            conn.execute(text(
                "INSERT INTO conversations (id, public_id, contact_id, team_id, channel, status, owner, created_at, "
                "last_activity_at, bot_cursor, bot_fallbacks, restricted) VALUES (:id, :pid, 1, 2, :ch, 'closed', "
                "'bot', :t, :t, 0, 0, 0)"), {"id": cid, "pid": f"c_{cid}", "ch": channel, "t": NOW})
        # conversation 4 came in through the Cloud API number
        conn.execute(text("INSERT INTO messages (conversation_id, direction, sender_type, text, private, channel, "
                          "delivery_status, created_at, via_channel_id) VALUES (4, 'in', 'contact', 'hi', 0, "
                          "'whatsapp', 'received', :t, 3)"), {"t": NOW})


@pytest.mark.parametrize("start", ["0011_bot_claims", "0010_active_model_index"])
def test_an_existing_install_gets_one_default_inbox_per_channel(tmp_path: Path, start: str) -> None:
    """From the revision before, and from further back (then SQLite is inside a transaction already)."""
    db = Database(f"sqlite:///{tmp_path / 'old.db'}")
    try:
        upgrade(db.engine, start)
        _seed(db)
        upgrade(db.engine, "0012_inboxes")
        with db.engine.connect() as conn:
            rows = conn.execute(text("SELECT id, name, kind, team_id, channel_config_id, widget_key, is_default "
                                     "FROM inboxes ORDER BY id")).all()
            convs = dict(conn.execute(text("SELECT id, inbox_id FROM conversations")).all())
            teams = dict(conn.execute(text("SELECT id, team_id FROM conversations")).all())
            # nothing is lost on the way (SQLite must not copy-and-drop conversations: that cascades)
            assert conn.execute(text("SELECT count(*) FROM messages")).scalar() == 1
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1  # back on after the rebuild
        by = {(r.kind, r.channel_config_id): r for r in rows}
        assert set(by) == {("webchat", None), ("sms", 1), ("whatsapp", 1), ("sms", 2), ("whatsapp", 3)}
        assert {r.team_id for r in rows} == {1}  # the first team
        assert [(r.kind, r.channel_config_id) for r in rows if r.is_default] == [
            ("webchat", None), ("sms", 1), ("whatsapp", 1)]  # one default per kind
        assert by["webchat", None].widget_key.startswith("wk_")
        assert by["sms", 1].name == "Main line (SMS)" and by["whatsapp", 3].name == "Cloud (WhatsApp)"
        assert convs == {1: by["webchat", None].id, 2: by["sms", 1].id, 3: by["whatsapp", 1].id,
                         4: by["whatsapp", 3].id}
        assert set(teams.values()) == {2}  # conversations keep their team
    finally:
        db.dispose()


def test_a_fresh_database_gets_no_inbox_until_first_use(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'new.db'}")
    try:
        upgrade(db.engine)
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM inboxes")).scalar() == 0
    finally:
        db.dispose()
