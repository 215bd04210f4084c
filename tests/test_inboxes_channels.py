"""Inboxes of numbers: an SMS or WhatsApp message lands in the inbox of the number it came in on, and
in that inbox's team queue (signed webhooks through the real app, fake providers on loopback)."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import select

from models.db import Database
from models.schema.accounts import Team
from models.schema.conversations import Conversation
from tests.support.actors import Agent, make_user
from tests.support.channels import ACCOUNT_SID, AUTH_TOKEN, sms, twilio_post, wa_payload, wa_post, wa_text
from tests.support.inboxes import delete, patch

SECOND_NUMBER = "+15550003333"


def _team(db: Database, name: str) -> int:
    with db.session() as s:
        return int(s.scalar(select(Team.id).where(Team.name == name)) or 0)


def _only_conversation_of(db: Database, channel: str) -> Conversation:
    with db.session() as s:
        (conv,) = s.scalars(select(Conversation).where(Conversation.channel == channel))
        s.expunge(conv)
        return conv


def _number_inboxes(admin: Agent) -> dict[tuple[str, str], dict[str, Any]]:
    return {(i["kind"], i["channel"]["kind"]): i for i in admin.get("/inboxes").get_json()["inboxes"]
            if i["kind"] != "webchat"}


def test_each_number_routes_to_its_inbox_team(capp: Flask, cdb: Database) -> None:
    make_user(cdb, "admin@example.com", role="admin")
    make_user(cdb, "sally@example.com", team="Sales")
    make_user(cdb, "walt@example.com", team="WhatsApp desk")
    admin, sally, walt = (Agent(capp, e) for e in ("admin@example.com", "sally@example.com", "walt@example.com"))
    inboxes = _number_inboxes(admin)
    # the configured numbers got their default inboxes: Twilio serves SMS and WhatsApp, the Cloud API WhatsApp
    assert set(inboxes) == {("sms", "twilio"), ("whatsapp", "twilio"), ("whatsapp", "whatsapp_cloud")}
    assert all(i["team"]["name"] == "Support" for i in inboxes.values())
    sales, desk = _team(cdb, "Sales"), _team(cdb, "WhatsApp desk")
    assert patch(admin, f"/inboxes/{inboxes['sms', 'twilio']['id']}", {"team_id": sales}).status_code == 200
    assert patch(admin, f"/inboxes/{inboxes['whatsapp', 'whatsapp_cloud']['id']}",
                 {"team_id": desk}).status_code == 200
    client = capp.test_client()

    assert twilio_post(client, sms("SM" + "1" * 32, "a person please", sender="+14155550101")).status_code == 200
    conv = _only_conversation_of(cdb, "sms")
    assert (conv.team_id, conv.inbox_id) == (sales, inboxes["sms", "twilio"]["id"])
    assert [c["id"] for c in sally.get("/conversations?view=team").get_json()["conversations"]] == [conv.public_id]

    assert wa_post(client, wa_payload(wa_text("wamid.A1", "a person please", sender="14155550102"))).status_code == 200
    wa = _only_conversation_of(cdb, "whatsapp")
    assert (wa.team_id, wa.inbox_id) == (desk, inboxes["whatsapp", "whatsapp_cloud"]["id"])
    listed = walt.get("/conversations?view=team").get_json()["conversations"]
    assert [(c["id"], c["inbox"]["id"]) for c in listed] == [(wa.public_id, wa.inbox_id)]
    assert sally.get("/conversations?view=team").get_json()["conversations"][0]["id"] == conv.public_id

    # WhatsApp through the Twilio number: its own inbox (still the first team's)
    twilio_post(client, sms("SM" + "2" * 32, "hi", sender="whatsapp:+14155550103", From="whatsapp:+14155550103",
                            To="whatsapp:+15550001111"))
    with cdb.session() as s:
        via_twilio = s.scalar(select(Conversation).where(Conversation.inbox_id == inboxes["whatsapp", "twilio"]["id"]))
        assert via_twilio is not None and via_twilio.team_id == _team(cdb, "Support")


def test_a_new_number_gets_inboxes_and_can_be_attached_to_another_team(capp: Flask, cdb: Database) -> None:
    make_user(cdb, "admin@example.com", role="admin")
    make_user(cdb, "sally@example.com", team="Sales")
    admin = Agent(capp, "admin@example.com")
    r = admin.post("/channels", {"kind": "twilio", "number": SECOND_NUMBER, "account_sid": ACCOUNT_SID,
                                 "auth_token": AUTH_TOKEN, "whatsapp": False, "name": "Second line"})
    assert r.status_code == 201, r.get_json()
    config_id = r.get_json()["id"]
    mine = [i for i in admin.get("/inboxes").get_json()["inboxes"] if i["channel_config_id"] == config_id]
    assert [(i["kind"], i["name"], i["is_default"]) for i in mine] == [("sms", "Second line (SMS)", False)]
    # one inbox per number and kind; a number serves only its kinds
    r = admin.post("/inboxes", {"kind": "sms", "name": "x", "team_id": _team(cdb, "Sales"),
                                "channel_config_id": config_id})
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "exists"
    r = admin.post("/inboxes", {"kind": "whatsapp", "name": "x", "team_id": _team(cdb, "Sales"),
                                "channel_config_id": config_id})
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "wrong_channel"
    # detach it, then attach it to Sales
    assert delete(admin, f"/inboxes/{mine[0]['id']}").status_code == 204
    r = admin.post("/inboxes", {"kind": "sms", "name": "Sales line", "team_id": _team(cdb, "Sales"),
                                "channel_config_id": config_id})
    assert r.status_code == 201, r.get_json()
    attached = r.get_json()
    assert attached["channel"]["address"] == SECOND_NUMBER and attached["team"]["name"] == "Sales"
    twilio_post(capp.test_client(), sms("SM" + "4" * 32, "hello", sender="+14155550104", To=SECOND_NUMBER))
    conv = _only_conversation_of(cdb, "sms")
    assert (conv.team_id, conv.inbox_id) == (_team(cdb, "Sales"), attached["id"])


def test_removing_a_number_removes_its_inboxes(capp: Flask, cdb: Database) -> None:
    make_user(cdb, "admin@example.com", role="admin")
    admin = Agent(capp, "admin@example.com")
    twilio_post(capp.test_client(), sms("SM" + "5" * 32, "hi", sender="+14155550105"))
    conv = _only_conversation_of(cdb, "sms")
    twilio = _number_inboxes(admin)["sms", "twilio"]
    assert conv.inbox_id == twilio["id"]
    r = admin.client.delete(f"/api/v1/channels/{twilio['channel_config_id']}", headers={"X-CSRF-Token": admin.csrf})
    assert r.status_code == 204
    assert set(_number_inboxes(admin)) == {("whatsapp", "whatsapp_cloud")}
    assert admin.get("/inboxes").get_json()["inboxes"][-1]["is_default"]  # the Cloud number is WhatsApp's default
    after = _only_conversation_of(cdb, "sms")
    assert after.inbox_id is None and after.team_id == conv.team_id  # the conversation stays with its team
