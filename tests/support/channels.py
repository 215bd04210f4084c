"""Fixtures for the SMS/WhatsApp tests: fake providers on loopback, an app wired to them with one
Twilio and one Cloud API channel, and helpers that sign webhooks the way the providers do."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from connectors.whatsapp_cloud import sign
from console.app import create_app
from console.runtime.channels import ChannelRuntime
from console.runtime.jobs import InlineJobs
from models.channels.config import do_create_channel
from models.db import Database
from models.schema.conversations import Message
from models.settings import Settings
from tests.support.fakes import FakeGraph, FakeTwilio

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2


AUTH_TOKEN = "twilio-auth-token-for-tests"


NUMBER = "+15550001111"


PUBLIC = "https://parley.example.com"


WA_TOKEN = "graph-token-for-tests"


WA_SECRET = "meta-app-secret-for-tests"


WA_VERIFY = "meta-verify-token"


WA_PNID = "109876543210"


CUSTOMER = "+14155550123"


TEMPLATES = [{"name": "order_update", "provider_id": "order_update_v2", "language": "en_US",
              "body": "Hi {{1}}, your order {{2}} has shipped.", "variables": ["name", "order"]}]


@pytest.fixture
def fake_twilio() -> Iterator[FakeTwilio]:
    with FakeTwilio(ACCOUNT_SID, AUTH_TOKEN) as fake:
        yield fake  # type: ignore[misc]


@pytest.fixture
def fake_graph() -> Iterator[FakeGraph]:
    with FakeGraph(WA_TOKEN, WA_PNID) as fake:
        yield fake  # type: ignore[misc]


@pytest.fixture
def channel_env(fake_twilio: FakeTwilio, fake_graph: FakeGraph) -> dict[str, str]:
    return {"PARLEY_PUBLIC_URL": PUBLIC, "PARLEY_TWILIO_API_BASE": fake_twilio.url,
            "PARLEY_WHATSAPP_API_BASE": fake_graph.url, "PARLEY_OUTBOX_BACKOFF": "0",
            "PARLEY_OUTBOX_SETTLE": "0", "PARLEY_PROVIDER_TIMEOUT": "1"}


def make_channel_app(settings: Settings, engines: list[Any], env: dict[str, str], *, with_channels: bool = True,
                     jobs: Any = None) -> Flask:
    app = create_app(settings.with_(extra=env), engines=engines, jobs=jobs or InlineJobs(), testing=True)
    if with_channels:
        db: Database = app.extensions["parley"].db
        with db.transaction() as s:
            do_create_channel(s, None, "twilio", {"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN,
                                                  "number": NUMBER, "name": "Twilio"})
            do_create_channel(s, None, "whatsapp_cloud", {"token": WA_TOKEN, "app_secret": WA_SECRET,
                                                          "verify_token": WA_VERIFY, "phone_number_id": WA_PNID,
                                                          "templates": TEMPLATES})
    return app


@pytest.fixture
def capp(settings: Settings, engines: list[Any], channel_env: dict[str, str]) -> Iterator[Flask]:
    app = make_channel_app(settings, engines, channel_env)
    yield app
    app.extensions["parley"].db.dispose()


@pytest.fixture
def cdb(capp: Flask) -> Database:
    database: Database = capp.extensions["parley"].db
    return database


def rt(app: Flask) -> ChannelRuntime:
    runtime: ChannelRuntime = app.extensions["parley.channels"]
    return runtime


def twilio_signature(url: str, params: dict[str, Any], token: str = AUTH_TOKEN) -> str:
    return str(RequestValidator(token).compute_signature(url, params))


def twilio_post(client: FlaskClient, params: dict[str, Any], *, path: str = "/webhooks/twilio",
                token: str = AUTH_TOKEN, signed_url: str | None = None, signature: str | None = None) -> Any:
    url = signed_url or PUBLIC + path
    sig = signature if signature is not None else twilio_signature(url, params, token)
    headers = {"X-Twilio-Signature": sig} if sig else {}
    return client.post(path, data=params, headers=headers)


def sms(sid: str, body: str, sender: str = CUSTOMER, **extra: Any) -> dict[str, Any]:
    return {"MessageSid": sid, "SmsSid": sid, "AccountSid": ACCOUNT_SID, "From": sender, "To": NUMBER,
            "Body": body, "NumMedia": "0", "NumSegments": "1", "ApiVersion": "2010-04-01", **extra}


def wa_text(wamid: str, body: str, sender: str = CUSTOMER.lstrip("+"), name: str = "Kerry") -> dict[str, Any]:
    return {"contacts": [{"profile": {"name": name}, "wa_id": sender}],
            "messages": [{"from": sender, "id": wamid, "timestamp": "1700000000", "type": "text",
                          "text": {"body": body}}]}


def wa_payload(*values: dict[str, Any]) -> dict[str, Any]:
    return {"object": "whatsapp_business_account", "entry": [{"id": "WABA1", "changes": [
        {"field": "messages", "value": {"messaging_product": "whatsapp",
                                        "metadata": {"display_phone_number": "15550002222", "phone_number_id": WA_PNID},
                                        **v}} for v in values]}]}


def wa_post(client: FlaskClient, payload: dict[str, Any] | bytes, *, secret: str = WA_SECRET,
            signature: str | None = None) -> Any:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    sig = signature if signature is not None else sign(secret, raw)
    headers = {"X-Hub-Signature-256": sig} if sig else {}
    return client.post("/webhooks/whatsapp", data=raw, headers={**headers, "Content-Type": "application/json"})


def messages(db: Database) -> list[Message]:
    with db.session() as s:
        return list(s.scalars(select(Message).order_by(Message.id)))
