"""Conversation actions: admins define a button; an agent who sees the conversation runs it against a CRM;
the record it returns is bound to the conversation and its run is in the journey; failures are a clear 502."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from console.app import create_app
from console.runtime.jobs import InlineJobs
from models.db import Database
from models.settings import Settings
from tests.support.actors import Agent, Customer, make_user
from tests.support.fakes.hooks import FakeCrm


@pytest.fixture
def app(settings: Settings, engines: list[Any]) -> Iterator[Flask]:
    app = create_app(settings.with_(outbound_allow="127.0.0.1"), engines=engines, jobs=InlineJobs(), testing=True)
    yield app
    app.extensions["parley"].db.dispose()


@pytest.fixture
def crm() -> Iterator[FakeCrm]:
    with FakeCrm() as c:
        yield c


@pytest.fixture
def people(app: Flask, db: Database) -> tuple[Agent, Agent]:
    make_user(db, "root@example.com", role="admin")
    make_user(db, "ada@example.com")
    return Agent(app, "root@example.com"), Agent(app, "ada@example.com")


def define(admin: Agent, crm: FakeCrm, **extra: Any) -> dict[str, Any]:
    body = {"name": "create_ticket", "label": "Create ticket", "url": crm.url + "/tickets",
            "conversation_fields": ["id", "status", "messages"], "contact_fields": ["name", "email"], **extra}
    r = admin.post("/conversation_actions", body)
    assert r.status_code == 201, r.get_json()
    out: dict[str, Any] = r.get_json()
    crm.secret = out["secret"]
    return out


def handed_off_conversation(app: Flask) -> str:
    customer = Customer(app)
    ack = customer.say("I want a person <b>now</b>")
    return str(ack["conversation_id"])


def test_an_agent_runs_an_action_and_the_record_is_bound_to_the_conversation(
        app: Flask, people: tuple[Agent, Agent], crm: FakeCrm) -> None:
    admin, ada = people
    action = define(admin, crm)
    conv_id = handed_off_conversation(app)
    assert [a["label"] for a in ada.get("/conversation_actions").get_json()["actions"]] == ["Create ticket"]
    assert "url" not in ada.get("/conversation_actions").get_json()["actions"][0]  # agents see the button only
    r = ada.post(f"/conversations/{conv_id}/actions/{action['id']}")
    assert r.status_code == 200, r.get_json()
    out = r.get_json()
    assert out["record"]["title"] == "Ticket #1" and out["record"]["url"] == "https://crm.example.com/tickets/1"
    assert [x["external_id"] for x in out["records"]] == ["T-1"]
    sent = crm.sends()[0].json()
    assert sent["conversation"]["id"] == conv_id and set(sent["conversation"]) == {"id", "status", "messages"}
    assert set(sent["contact"]) == {"name", "email"} and sent["agent"]["email"] == "ada@example.com"
    assert sent["conversation"]["messages"][0]["text"] == "I want a person <b>now</b>"  # data, as written
    records = ada.get(f"/conversations/{conv_id}/records").get_json()["records"]
    assert [(x["title"], x["action"]) for x in records] == [("Ticket #1", "Create ticket")]
    contact_id = ada.get(f"/conversations/{conv_id}").get_json()["contact"]["id"]
    steps = ada.get(f"/contacts/{contact_id}/journey").get_json()["conversations"][0]["steps"]
    runs = [s for s in steps if s["kind"] == "conversation.action_run"]
    assert len(runs) == 1 and runs[0]["data"]["ok"] and runs[0]["actor"]["name"] == "Ada"


def test_only_http_links_are_kept_and_the_same_record_is_not_bound_twice(
        app: Flask, people: tuple[Agent, Agent], crm: FakeCrm) -> None:
    admin, ada = people
    action = define(admin, crm)
    conv_id = handed_off_conversation(app)
    crm.answer = {"record": {"id": 42, "title": "Order 42", "url": "javascript:alert(1)"}}
    for _ in range(2):
        r = ada.post(f"/conversations/{conv_id}/actions/{action['id']}")
        assert r.status_code == 200
    assert [(x["external_id"], x["url"]) for x in r.get_json()["records"]] == [("42", None)]


@pytest.mark.parametrize(("setup", "reason"), [
    (lambda crm: crm.fail_next(500), "HTTP 500"),
    (lambda crm: crm.hang_next(3.0, then_succeed=False), "no answer within 0.5 s"),
    (lambda crm: setattr(crm, "answer", {"id": "x"}), "title"),
])
def test_an_action_that_fails_is_a_clear_502(app: Flask, people: tuple[Agent, Agent], crm: FakeCrm,
                                             setup: Any, reason: str) -> None:
    admin, ada = people
    action = define(admin, crm, timeout_seconds=0.5)
    conv_id = handed_off_conversation(app)
    setup(crm)
    r = ada.post(f"/conversations/{conv_id}/actions/{action['id']}")
    assert r.status_code == 502
    error = r.get_json()["error"]
    assert error["code"] == "action_failed" and reason in error["message"] and "Create ticket" in error["message"]
    assert ada.get(f"/conversations/{conv_id}/records").get_json()["records"] == []


def test_a_private_endpoint_is_refused_unless_allowed(settings: Settings, engines: list[Any], crm: FakeCrm) -> None:
    app = create_app(settings, engines=engines, jobs=InlineJobs(), testing=True)
    db = app.extensions["parley"].db
    try:
        make_user(db, "root@example.com", role="admin")
        admin = Agent(app, "root@example.com")
        action = define(admin, crm)
        conv_id = handed_off_conversation(app)
        r = admin.post(f"/conversations/{conv_id}/actions/{action['id']}")
        assert r.status_code == 502 and "refused" in r.get_json()["error"]["message"]
        assert crm.sends() == []
    finally:
        db.dispose()


def test_who_may_define_and_run_actions(app: Flask, people: tuple[Agent, Agent], db: Database, crm: FakeCrm) -> None:
    admin, ada = people
    assert ada.post("/conversation_actions", {"name": "x_y", "label": "X", "url": "https://x.example"}
                    ).status_code == 403
    action = define(admin, crm)
    conv_id = handed_off_conversation(app)
    make_user(db, "bob@example.com", team="Elsewhere")
    bob = Agent(app, "bob@example.com")
    assert bob.post(f"/conversations/{conv_id}/actions/{action['id']}").status_code == 404
    assert ada.post(f"/conversations/c_nope/actions/{action['id']}").status_code == 404
    assert ada.post(f"/conversations/{conv_id}/actions/999").status_code == 404
    r = admin.client.patch(f"/api/v1/conversation_actions/{action['id']}", json={"enabled": False},
                           headers={"X-CSRF-Token": admin.csrf})
    assert r.status_code == 200 and r.get_json()["enabled"] is False and "secret" not in r.get_json()
    assert ada.get("/conversation_actions").get_json()["actions"] == []
    assert ada.post(f"/conversations/{conv_id}/actions/{action['id']}").status_code == 400
    assert crm.sends() == []
    assert admin.client.delete(f"/api/v1/conversation_actions/{action['id']}",
                               headers={"X-CSRF-Token": admin.csrf}).status_code == 204


@pytest.mark.parametrize("body", [
    {"name": "Bad Name", "label": "X", "url": "https://x.example"},
    {"name": "ok_name", "label": "", "url": "https://x.example"},
    {"name": "ok_name", "label": "X", "url": "file:///etc/passwd"},
    {"name": "ok_name", "label": "X", "url": "https://x.example", "conversation_fields": ["secret_key"]},
    {"name": "ok_name", "label": "X", "url": "https://x.example", "contact_fields": "name"},
    {"name": "ok_name", "label": "X", "url": "https://x.example", "timeout_seconds": 300},
    {"name": "ok_name", "label": "X", "url": "https://x.example", "timeout_seconds": True},
    {"name": "ok_name", "label": "X", "url": "https://x.example", "method": "DELETE"},
    {"label": "X"},
])
def test_junk_action_definitions_are_400(people: tuple[Agent, Agent], body: dict[str, Any]) -> None:
    admin, _ = people
    r = admin.post("/conversation_actions", body)
    assert r.status_code == 400, r.get_json()


def test_a_duplicate_name_is_409(people: tuple[Agent, Agent], crm: FakeCrm) -> None:
    admin, _ = people
    define(admin, crm)
    assert admin.post("/conversation_actions", {"name": "create_ticket", "label": "Again", "url": crm.url}
                      ).status_code == 409
