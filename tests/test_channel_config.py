"""Channels are configured by admins (API, console page, CLI) or seeded from the environment;
secrets are accepted and used, never shown back or logged."""

from __future__ import annotations

import json
import logging
import os
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask

from console.cli import main
from console.runtime.jobs import InlineJobs
from models.channels.config import channel_json, list_channels
from models.db import Database
from models.settings import Settings
from tests.support.actors import Agent, make_user
from tests.support.channels import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    NUMBER,
    WA_PNID,
    WA_SECRET,
    WA_TOKEN,
    make_channel_app,
    sms,
    twilio_post,
)

SECRETS = (AUTH_TOKEN, WA_TOKEN, WA_SECRET)


def _no_secret_in(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text


def test_admins_add_list_change_and_remove_channels_without_ever_seeing_secrets(
        settings: Settings, engines: list[Any], channel_env: dict[str, str], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    app = make_channel_app(settings, engines, channel_env, with_channels=False)
    db: Database = app.extensions["parley"].db
    make_user(db, "root@example.com", role="admin")
    make_user(db, "ada@example.com")
    admin, ada = Agent(app, "root@example.com"), Agent(app, "ada@example.com")

    r = admin.post("/channels", {"kind": "twilio", "account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN,
                                 "number": "+1 (555) 000-1111"})
    assert r.status_code == 201, r.get_json()
    created = r.get_json()
    assert created["number"] == NUMBER and created["secrets"] == {"auth_token": True}
    r = admin.post("/channels", {"kind": "whatsapp_cloud", "phone_number_id": WA_PNID, "token": WA_TOKEN,
                                 "app_secret": WA_SECRET, "verify_token": "v", "templates": [
                                     {"name": "hello", "provider_id": "hello_world", "body": "Hi {{1}}"}]})
    assert r.status_code == 201
    assert r.get_json()["templates"][0]["variables"] == ["Variable 1"]
    listing = admin.get("/channels")
    assert [c["kind"] for c in listing.get_json()["channels"]] == ["twilio", "whatsapp_cloud"]
    _no_secret_in(listing.get_data(as_text=True))

    # changing the name keeps the secret; a new secret replaces it (and is still not shown)
    r = admin.client.patch(f"/api/v1/channels/{created['id']}", json={"name": "Support line"},
                           headers={"X-CSRF-Token": admin.csrf})
    assert r.status_code == 200 and r.get_json()["name"] == "Support line"
    with db.session() as s:
        assert list_channels(s)[0].secret("auth_token") == AUTH_TOKEN
    r = admin.client.patch(f"/api/v1/channels/{created['id']}", json={"auth_token": "rotated-token-123"},
                           headers={"X-CSRF-Token": admin.csrf})
    assert "rotated-token-123" not in r.get_data(as_text=True)

    # mistakes are clear 4xx
    cases = [({"kind": "fax"}, 400), ({"kind": "twilio", "number": NUMBER}, 400),
             ({"kind": "twilio", "account_sid": "nope", "auth_token": "x", "number": NUMBER}, 400),
             ({"kind": "twilio", "account_sid": ACCOUNT_SID, "auth_token": "x", "number": "+1 555 000 1111"}, 409)]
    for body, status in cases:
        assert admin.post("/channels", body).status_code == status, body

    # agents may not touch channels
    assert ada.get("/channels").status_code == 403
    assert ada.post("/channels", {"kind": "twilio"}).status_code == 403
    assert ada.client.get("/channels").status_code == 403
    page = admin.client.get("/channels")
    assert page.status_code == 200 and b"channels.js" in page.data

    assert admin.client.delete(f"/api/v1/channels/{created['id']}",
                               headers={"X-CSRF-Token": admin.csrf}).status_code == 204
    _no_secret_in(caplog.text)
    db.dispose()


def test_env_variables_seed_the_channels_once(settings: Settings, engines: list[Any],
                                               channel_env: dict[str, str]) -> None:
    env = {**channel_env, "PARLEY_TWILIO_ACCOUNT_SID": ACCOUNT_SID, "PARLEY_TWILIO_AUTH_TOKEN": AUTH_TOKEN,
           "PARLEY_TWILIO_NUMBER": NUMBER, "PARLEY_WHATSAPP_TOKEN": WA_TOKEN, "PARLEY_WHATSAPP_APP_SECRET": WA_SECRET,
           "PARLEY_WHATSAPP_VERIFY_TOKEN": "verify", "PARLEY_WHATSAPP_PHONE_NUMBER_ID": WA_PNID}
    for _ in range(2):  # a restart finds them and changes nothing
        app = make_channel_app(settings, engines, env, with_channels=False)
        db: Database = app.extensions["parley"].db
        with db.session() as s:
            seeded = [channel_json(c) for c in list_channels(s)]
        assert [(c["kind"], c["source"]) for c in seeded] == [("twilio", "env"), ("whatsapp_cloud", "env")]
        assert repr(app.extensions["parley.channels"].settings).count(AUTH_TOKEN) == 0
        db.dispose()
    # and they work: a signed webhook is accepted
    app = make_channel_app(settings, engines, env, with_channels=False)
    assert twilio_post(app.test_client(), sms("SM" + "77" * 16, "hi")).status_code == 200
    app.extensions["parley"].db.dispose()


def test_cli_adds_lists_and_templates_channels(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in {"PARLEY_INSTANCE": str(settings.instance_dir), "DATABASE_URL": settings.database_url,
                       "PARLEY_SECRET_KEY": "test-secret"}.items():
        monkeypatch.setenv(key, value)
    runner = CliRunner()
    r = runner.invoke(main, ["channel", "add", "twilio", "--account-sid", ACCOUNT_SID, "--number", NUMBER],
                      input=AUTH_TOKEN + "\n")
    assert r.exit_code == 0, r.output
    _no_secret_in(r.output)
    r = runner.invoke(main, ["channel", "add", "whatsapp-cloud", "--phone-number-id", WA_PNID, "--token", WA_TOKEN,
                             "--app-secret", WA_SECRET, "--verify-token", "v"])
    assert r.exit_code == 0, r.output
    channel_id = json.loads(r.output.strip().splitlines()[-1])["id"]
    r = runner.invoke(main, ["channel", "template", str(channel_id), "--name", "order_update", "--provider-id",
                             "order_update_v2", "--body", "Order {{1}} shipped", "--variable", "order"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(main, ["channel", "list"])
    assert r.exit_code == 0
    listed = json.loads(r.output)
    assert [c["kind"] for c in listed] == ["twilio", "whatsapp_cloud"]
    assert listed[1]["templates"][0]["variables"] == ["order"]
    _no_secret_in(r.output)
    r = runner.invoke(main, ["channel", "add", "twilio", "--account-sid", "bad", "--auth-token", "x",
                             "--number", NUMBER])
    assert r.exit_code == 1 and "error:" in r.output
    assert os.environ.get("PARLEY_INSTANCE") == str(settings.instance_dir)


def test_webhooks_without_any_channel_configured_are_refused(settings: Settings, engines: list[Any]) -> None:
    app: Flask = make_channel_app(settings, engines, {}, with_channels=False, jobs=InlineJobs())
    assert twilio_post(app.test_client(), sms("SM" + "88" * 16, "hi")).status_code == 403
    app.extensions["parley"].db.dispose()
