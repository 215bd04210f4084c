"""Issue 14: a pre-planned session's files to share. Until the invitation goes the customer sees nothing;
when it goes, the files follow the welcome message on the customer's chat page, once, as downloads."""

from __future__ import annotations

import io
from typing import Any

from flask import Flask

from models.db import Database
from tests.support.actors import Agent, make_user
from tests.support.channels import rt
from tests.support.fakes import FakeTwilio
from tests.support.outreach import link_path

CONTRACT = b"Contract between Kim and Parley Ltd.\nSigned: ____\n"


def _upload(agent: Agent, conv_id: str, data: bytes, name: str) -> Any:
    return agent.client.post(f"/api/v1/conversations/{conv_id}/invitation/files",
                             data={"file": (io.BytesIO(data), name)}, content_type="multipart/form-data",
                             headers={"X-CSRF-Token": agent.csrf})


def test_prepared_files_are_shared_when_the_invitation_goes(capp: Flask, cdb: Database,
                                                             fake_twilio: FakeTwilio) -> None:
    make_user(cdb, "ada@example.com")
    ada = Agent(capp, "ada@example.com")
    r = ada.post("/conversations", {"contact": {"name": "Kim", "phone": "+14155550123"}, "channel": "sms",
                                    "text": "Welcome Kim, here is your contract.", "pre_plan": True})
    assert r.status_code == 201, r.get_json()
    conv_id = r.get_json()["id"]
    r = _upload(ada, conv_id, CONTRACT, "contract <1>.txt")
    assert r.status_code == 201, r.get_json()
    files = r.get_json()["files"]
    assert [(f["filename"], f["shared"]) for f in files] == [("contract 1.txt", False)]
    assert _upload(ada, conv_id, b"MZ\x90\x00" + b"\x00" * 100, "tool.exe").status_code in (413, 415, 422, 400)
    assert _upload(ada, conv_id, b"second file", "notes.txt").status_code == 201
    r = ada.client.delete(f"/api/v1/conversations/{conv_id}/invitation/files/{files[0]['id']}x",
                          headers={"X-CSRF-Token": ada.csrf})
    assert r.status_code == 404
    listed = ada.get(f"/conversations/{conv_id}/invitation/files").get_json()["files"]
    r = ada.client.delete(f"/api/v1/conversations/{conv_id}/invitation/files/{listed[1]['id']}",
                          headers={"X-CSRF-Token": ada.csrf})
    assert r.status_code == 204
    assert [f["filename"] for f in ada.get(f"/conversations/{conv_id}/invitation/files").get_json()["files"]] == [
        "contract 1.txt"]
    rt(capp).worker.run_once()
    assert fake_twilio.sends() == []  # nothing reached the customer while prepared

    r = ada.post(f"/conversations/{conv_id}/invite", {})
    assert r.status_code == 200, r.get_json()
    rt(capp).worker.run_once()
    path = link_path(fake_twilio.sends()[-1].first("Body") or "")
    customer = capp.test_client()
    opened = customer.post(f"{path}/session", json={}).get_json()
    texts = [m["text"] for m in opened["messages"]]
    assert texts[0].startswith("Welcome Kim, here is your contract.") and texts[1:] == ["contract 1.txt"]
    assert all("File to share" not in t for t in texts)  # the agent's private note stays private
    shared = opened["messages"][1]["files"]
    assert [f["filename"] for f in shared] == ["contract 1.txt"]
    got = customer.get(shared[0]["url"])
    assert got.status_code == 200 and got.data == CONTRACT
    assert ada.get(f"/conversations/{conv_id}/invitation/files").get_json()["files"][0]["shared"] is True
    # once invited, a file goes in the conversation itself; a resend shares nothing twice
    r = _upload(ada, conv_id, b"late", "late.txt")
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "already_invited"
    assert len([m for m in customer.get(f"{path}/messages").get_json()["messages"] if m["files"]]) == 1
