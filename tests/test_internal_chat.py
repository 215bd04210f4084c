"""Internal chat (Converso, issue 14): two agents chat, a third cannot read it nor hear it; notes to
oneself; unread counts and read marks; files sent by their uploader only; admins alone delete a chat; and
nothing of it ever reaches a customer-side list, search, export or webhook."""

from __future__ import annotations

import io
from typing import Any

from flask import Flask
from sqlalchemy import func, select

from models.accounts.admin import do_deactivate_user
from models.db import Database
from models.integrations.catalog import EVENTS, RESERVED
from models.integrations.subscriptions import do_create_subscription
from models.schema.accounts import AuditEvent, User
from models.schema.integrations import WebhookDelivery
from models.schema.internal import InternalChat, InternalFile, InternalMessage
from tests.support.actors import Agent, Customer, event_payload, make_user

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 100
SECRET = "the-launch-code-is-4711"


def _people(app: Flask, db: Database) -> dict[str, Any]:
    ids = {name: make_user(db, f"{name}@example.com", role, team="Support")
           for name, role in (("ada", "agent"), ("bob", "agent"), ("eve", "agent"), ("root", "admin"))}
    return {"ids": ids, **{name: Agent(app, f"{name}@example.com") for name in ids}}


def _delete(agent: Agent, path: str) -> Any:
    return agent.client.delete(f"/api/v1{path}", headers={"X-CSRF-Token": agent.csrf})


def _upload(agent: Agent, data: bytes, name: str) -> Any:
    return agent.client.post("/api/v1/internal_files", headers={"X-CSRF-Token": agent.csrf},
                             data={"file": (io.BytesIO(data), name)}, content_type="multipart/form-data")


def _received(agent: Agent, name: str) -> list[Any]:
    return [event_payload(p) for p in agent.socket.get_received("/console") if p["name"] == name]


def test_two_agents_chat_and_a_third_cannot_read_or_hear_it(app: Flask, db: Database) -> None:
    p = _people(app, db)
    ada, bob, eve, root = p["ada"], p["bob"], p["eve"], p["root"]
    for a in (ada, bob, eve, root):
        a.socket.get_received("/console")  # connected, nothing pending
    r = ada.post("/internal_chats", {"user_id": p["ids"]["bob"]})
    assert r.status_code == 201
    chat = r.get_json()
    assert chat["kind"] == "direct" and chat["other"]["name"] and chat["other"]["id"] == p["ids"]["bob"]
    again = bob.post("/internal_chats", {"user_id": p["ids"]["ada"]})  # one chat per pair, whoever opens it
    assert again.status_code == 200 and again.get_json()["id"] == chat["id"]

    sent = ada.post(f"/internal_chats/{chat['id']}/messages", {"text": SECRET})
    assert sent.status_code == 201 and sent.get_json()["text"] == SECRET
    bob_heard = _received(bob, "internal_message")
    assert [(e["message"]["text"], e["unread"], e["unread_total"]) for e in bob_heard] == [(SECRET, 1, 1)]
    assert bob_heard[0]["chat"]["other"]["id"] == p["ids"]["ada"]
    assert [e["unread"] for e in _received(ada, "internal_message")] == [0]  # one's own message is read
    for third in (eve, root):  # neither another agent nor an admin hears it or reads it
        heard = third.socket.get_received("/console")
        assert SECRET not in repr(heard)
        assert third.get(f"/internal_chats/{chat['id']}/messages").status_code == 404
        assert third.post(f"/internal_chats/{chat['id']}/messages", {"text": "hi"}).status_code == 404
        assert third.post(f"/internal_chats/{chat['id']}/read").status_code == 404
        assert third.get("/internal_chats").get_json() == {"chats": [], "unread_total": 0}

    reply = bob.get(f"/internal_chats/{chat['id']}/messages").get_json()
    assert [m["text"] for m in reply["messages"]] == [SECRET]
    assert reply["messages"][0]["author"]["id"] == p["ids"]["ada"]
    bob.post(f"/internal_chats/{chat['id']}/messages", {"text": "got it"})
    listed = ada.get("/internal_chats").get_json()
    assert listed["unread_total"] == 1
    assert listed["chats"][0]["last_message"]["text"] == "got it" and listed["chats"][0]["unread"] == 1


def test_unread_counts_and_read_marks(app: Flask, db: Database) -> None:
    p = _people(app, db)
    ada, bob = p["ada"], p["bob"]
    chat_id = ada.post("/internal_chats", {"user_id": p["ids"]["bob"]}).get_json()["id"]
    ids = [ada.post(f"/internal_chats/{chat_id}/messages", {"text": f"m{i}"}).get_json()["id"] for i in range(3)]
    assert bob.get("/internal_chats").get_json()["chats"][0]["unread"] == 3
    assert ada.get("/internal_chats").get_json()["chats"][0]["unread"] == 0
    bob.socket.get_received("/console")
    r = bob.post(f"/internal_chats/{chat_id}/read", {"up_to": ids[0]})
    assert r.status_code == 200 and r.get_json() == {"chat_id": chat_id, "read_up_to": ids[0], "unread": 2,
                                                      "unread_total": 2}
    assert [(e["unread"], e["unread_total"]) for e in _received(bob, "internal_unread")] == [(2, 2)]
    assert bob.post(f"/internal_chats/{chat_id}/read", {"up_to": -1}).status_code == 400
    bob.post(f"/internal_chats/{chat_id}/read", {"up_to": ids[0]})  # a mark never moves back
    assert bob.post(f"/internal_chats/{chat_id}/read").get_json()["unread"] == 0
    assert bob.get(f"/internal_chats/{chat_id}/messages").get_json()["read_up_to"] == ids[2]
    assert bob.get("/internal_chats").get_json()["unread_total"] == 0
    ada.post(f"/internal_chats/{chat_id}/messages", {"text": "one more"})
    assert bob.get("/unread?ids=").get_json() == {"unread": {}}  # the conversations' figures only
    assert bob.get("/counters").get_json()["unread"] == 0
    assert bob.get("/internal_chats").get_json()["unread_total"] == 1


def test_notes_to_oneself(app: Flask, db: Database) -> None:
    p = _people(app, db)
    ada = p["ada"]
    r = ada.post("/internal_chats", {"user_id": p["ids"]["ada"]})
    assert r.status_code == 201 and r.get_json()["kind"] == "self"
    chat_id = r.get_json()["id"]
    ada.socket.get_received("/console")
    assert ada.post(f"/internal_chats/{chat_id}/messages", {"text": "call the bank"}).status_code == 201
    assert len(_received(ada, "internal_message")) == 1  # heard once, not twice
    chats = ada.get("/internal_chats").get_json()
    assert chats["unread_total"] == 0 and chats["chats"][0]["other"]["id"] == p["ids"]["ada"]
    assert p["bob"].get(f"/internal_chats/{chat_id}/messages").status_code == 404


def test_paging_back(app: Flask, db: Database) -> None:
    p = _people(app, db)
    ada = p["ada"]
    chat_id = ada.post("/internal_chats", {"user_id": p["ids"]["bob"]}).get_json()["id"]
    for i in range(5):
        ada.post(f"/internal_chats/{chat_id}/messages", {"text": f"n{i}"})
    first = ada.get(f"/internal_chats/{chat_id}/messages?limit=2").get_json()
    assert [m["text"] for m in first["messages"]] == ["n3", "n4"] and first["has_more"] is True
    older = ada.get(f"/internal_chats/{chat_id}/messages?limit=2&before={first['messages'][0]['id']}").get_json()
    assert [m["text"] for m in older["messages"]] == ["n1", "n2"]
    assert ada.get(f"/internal_chats/{chat_id}/messages?before=abc").status_code == 400


def test_bad_input_is_refused_clearly(app: Flask, db: Database) -> None:
    p = _people(app, db)
    ada = p["ada"]
    assert ada.post("/internal_chats", {"user_id": "2"}).status_code == 400
    assert ada.post("/internal_chats", {}).status_code == 400
    assert ada.post("/internal_chats", {"user_id": 99999}).status_code == 404
    chat_id = ada.post("/internal_chats", {"user_id": p["ids"]["bob"]}).get_json()["id"]
    for body in ({}, {"text": "   "}, {"text": 5}, {"text": "x", "extra": 1}):
        r = ada.post(f"/internal_chats/{chat_id}/messages", body)
        assert r.status_code == 400, body
        assert r.get_json()["error"]["message"]
    assert ada.post(f"/internal_chats/{chat_id}/messages", {"text": "x" * 5000}).status_code in (400, 413)
    assert ada.get("/internal_chats/99999999999/messages").status_code == 404
    assert ada.client.get("/api/v1/internal_chats").status_code == 200
    assert app.test_client().get("/api/v1/internal_chats").status_code == 401


def test_a_deactivated_user_cannot_be_written_to(app: Flask, db: Database) -> None:
    p = _people(app, db)
    with db.transaction() as s:
        root = s.get(User, p["ids"]["root"])
        assert root is not None
        do_deactivate_user(s, root, p["ids"]["bob"])
    r = p["ada"].post("/internal_chats", {"user_id": p["ids"]["bob"]})
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "user_inactive"
    people = p["ada"].get("/internal_chats/people").get_json()["users"]
    assert people[0]["id"] == p["ids"]["ada"] and p["ids"]["bob"] not in [u["id"] for u in people]


def test_files_are_sent_by_their_uploader_and_read_by_the_participants(app: Flask, db: Database) -> None:
    p = _people(app, db)
    ada, bob, eve = p["ada"], p["bob"], p["eve"]
    chat_id = ada.post("/internal_chats", {"user_id": p["ids"]["bob"]}).get_json()["id"]
    eve_chat = eve.post("/internal_chats", {"user_id": p["ids"]["ada"]}).get_json()["id"]
    up = _upload(ada, PNG, "plan.png")
    assert up.status_code == 201
    f = up.get_json()
    assert f["content_type"] == "image/png" and f["filename"] == "plan.png"
    assert _upload(ada, b"<html><script>alert(1)</script></html>", "x.html").status_code == 400
    assert bob.get(f"/internal_files/{f['id']}").status_code == 404  # not sent yet: the uploader's only
    refused = eve.post(f"/internal_chats/{eve_chat}/messages", {"attachment_id": f["id"]})
    assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "not_uploader"
    sent = ada.post(f"/internal_chats/{chat_id}/messages", {"attachment_id": f["id"]})
    assert sent.status_code == 201 and [x["id"] for x in sent.get_json()["files"]] == [f["id"]]
    assert ada.post(f"/internal_chats/{chat_id}/messages", {"attachment_id": f["id"]}).status_code == 409
    got = bob.get(f"/internal_files/{f['id']}")
    assert got.status_code == 200 and got.data == PNG and got.headers["X-Content-Type-Options"] == "nosniff"
    assert eve.get(f"/internal_files/{f['id']}").status_code == 404
    assert bob.get(f"/attachments/{f['id']}").status_code == 404  # not a conversation's file
    listed = bob.get(f"/internal_chats/{chat_id}/messages").get_json()["messages"]
    assert listed[0]["files"][0]["url"] == f"/api/v1/internal_files/{f['id']}"


def test_admins_alone_delete_a_chat_and_it_is_audited(app: Flask, db: Database) -> None:
    p = _people(app, db)
    ada, bob, root = p["ada"], p["bob"], p["root"]
    chat_id = ada.post("/internal_chats", {"user_id": p["ids"]["bob"]}).get_json()["id"]
    fid = _upload(ada, PNG, "a.png").get_json()["id"]
    ada.post(f"/internal_chats/{chat_id}/messages", {"text": SECRET, "attachment_id": fid})
    for participant in (ada, bob):
        r = _delete(participant, f"/internal_chats/{chat_id}")
        assert r.status_code == 403 and r.get_json()["error"]["code"] == "forbidden"
    bob.socket.get_received("/console")
    assert _delete(root, f"/internal_chats/{chat_id}").status_code == 204
    assert [e["deleted"] for e in _received(bob, "internal_unread")] == [True]
    assert _delete(root, f"/internal_chats/{chat_id}").status_code == 404
    assert ada.get(f"/internal_chats/{chat_id}/messages").status_code == 404
    assert ada.get(f"/internal_files/{fid}").status_code == 404
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(InternalMessage)) == 0
        assert s.scalar(select(func.count()).select_from(InternalFile)) == 0
        record = s.scalars(select(AuditEvent).where(AuditEvent.kind == "internal_chat.deleted")).one()
        assert record.actor_user_id == p["ids"]["root"] and record.data["messages"] == 1
        assert SECRET not in repr(record.data)


def test_internal_messages_never_reach_customer_lists_search_exports_or_webhooks(app: Flask, db: Database) -> None:
    p = _people(app, db)
    ada, bob, root = p["ada"], p["bob"], p["root"]
    with db.transaction() as s:
        admin = s.get(User, p["ids"]["root"])
        assert admin is not None
        do_create_subscription(s, admin, "https://hooks.example/parley", [e for e in EVENTS if e not in RESERVED])
    chat_id = ada.post("/internal_chats", {"user_id": p["ids"]["bob"]}).get_json()["id"]
    bob.post("/internal_chats", {"user_id": p["ids"]["bob"]})
    ada.post(f"/internal_chats/{chat_id}/messages", {"text": SECRET})
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(WebhookDelivery)) == 0
        assert s.scalar(select(func.count()).select_from(InternalChat)) == 2
    for who in (ada, bob, root):
        for path in ("/conversations", "/conversations?view=mine", f"/conversations?q={SECRET}",
                     "/counters"):
            r = who.get(path)
            assert r.status_code == 200 and SECRET not in r.get_data(as_text=True), path
        assert who.get("/conversations").get_json()["conversations"] == []
    for fmt in ("jsonl", "csv"):
        r = root.get(f"/exports/conversations?format={fmt}")
        assert r.status_code == 200 and SECRET not in r.get_data(as_text=True)
    Customer(app).say("a human please")  # a customer message does make a delivery: the hook works
    with db.session() as s:
        bodies = list(s.scalars(select(WebhookDelivery.body)))
    assert bodies and not any(SECRET in b for b in bodies)
