"""A conversation as a record: naming it (shown, searched), deleting it (admins; gone from lists,
counters, search and files, with an audit record), erasing a contact, restricting from the view."""

from __future__ import annotations

import io
from typing import Any

from flask import Flask
from sqlalchemy import func, select

from models.db import Database
from models.schema.accounts import AuditEvent
from models.schema.channels import Attachment
from models.schema.contacts import BlockedMessage, Contact, ContactIdentity
from models.schema.conversations import Conversation, HandoffPacket, Message
from tests.support.actors import Agent, Customer, event_payload
from tests.support.channels import rt, sms, twilio_post
from tests.support.routing import agent, handoff, me

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 100


def _count(db: Database, model: type) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def _delete(a: Agent, path: str) -> Any:
    return a.client.delete(f"/api/v1{path}", headers={"X-CSRF-Token": a.csrf})


def _patch(a: Agent, path: str, body: Any) -> Any:
    return a.client.patch(f"/api/v1{path}", json=body, headers={"X-CSRF-Token": a.csrf})


def _put(a: Agent, path: str, body: Any) -> Any:
    return a.client.put(f"/api/v1{path}", json=body, headers={"X-CSRF-Token": a.csrf})


def _upload(a: Agent, conv_id: str) -> dict[str, Any]:
    r = a.client.post(f"/api/v1/conversations/{conv_id}/attachments", headers={"X-CSRF-Token": a.csrf},
                      data={"file": (io.BytesIO(PNG), "shot.png")}, content_type="multipart/form-data")
    assert r.status_code == 201, r.get_json()
    return dict(r.get_json()["attachments"][0])


def _ids(a: Agent, query: str = "") -> list[str]:
    return [c["id"] for c in a.get(f"/conversations?view=team&status=open{query}").get_json()["conversations"]]


def test_only_admins_delete_and_the_conversation_is_gone_everywhere(capp: Flask, cdb: Database) -> None:
    ada = agent(capp, cdb, "ada@example.com", online=False)
    sup = agent(capp, cdb, "sup@example.com", role="supervisor", online=False)
    admin = agent(capp, cdb, "admin@example.com", role="admin", online=False)
    customer, conv_id = handoff(capp, "a person please, about invoice zebra-42")
    _, other_id = handoff(capp, "a person please too")
    att = _upload(ada, conv_id)
    assert customer.say("thanks, got the file")["conversation_id"] == conv_id  # unreplied again
    with cdb.session() as s:
        key = s.scalars(select(Attachment.storage_key)).one()
    storage = rt(capp).store
    assert storage.storage.exists(f"attachments/{key}")
    assert ada.client.get(att["url"]).status_code == 200
    assert _ids(ada, "&q=zebra-42") == [conv_id]
    assert ada.counters()["unreplied"] == 2 and ada.counters()["unassigned"] == 2

    assert _patch(ada, f"/conversations/{conv_id}", {"name": "Zebra account of Mr Smith"}).status_code == 200
    assert _delete(ada, f"/conversations/{conv_id}").status_code == 403
    assert _delete(sup, f"/conversations/{conv_id}").status_code == 403
    ada.socket.get_received("/console")
    assert _delete(admin, f"/conversations/{conv_id}").status_code == 204

    assert ada.get(f"/conversations/{conv_id}").status_code == 404
    assert _ids(ada) == [other_id]
    assert _ids(ada, "&q=zebra-42") == []
    counters = ada.counters()
    assert counters["unreplied"] == 1 and counters["unassigned"] == 1
    assert ada.client.get(att["url"]).status_code == 404
    assert not storage.storage.exists(f"attachments/{key}")
    with cdb.session() as s:
        assert s.scalar(select(func.count(Message.id)).join(Conversation)
                        .where(Conversation.public_id == conv_id)) == 0
        assert s.scalar(select(func.count(HandoffPacket.id))) == 1  # the other conversation's only
        (record,) = s.scalars(select(AuditEvent).where(AuditEvent.kind == "conversation.deleted"))
        assert record.actor_user_id == me(admin) and record.data["public_id"] == conv_id
        assert record.conversation_id is not None and record.created_at is not None
        renamed = s.scalars(select(AuditEvent).where(AuditEvent.kind == "conversation.renamed")).one()
        assert renamed.data == {"name": None}  # who renamed it stays, not what it was called
    # live: the agent's list drops it and the counters move without a reload
    heard = [(p["name"], event_payload(p)) for p in ada.socket.get_received("/console")]
    assert ("conversation_removed", {"id": conv_id}) in heard
    pushed = [payload for name, payload in heard if name == "counters"]
    assert pushed and pushed[-1]["unreplied"] == 1 and pushed[-1]["unassigned"] == 1
    assert _delete(admin, f"/conversations/{conv_id}").status_code == 404
    # the customer's next message starts a new conversation
    ack = customer.say("hello?")
    assert ack["ok"] and ack["conversation_id"] not in (conv_id, other_id)


def test_erasing_a_contact_takes_all_that_is_theirs(capp: Flask, cdb: Database) -> None:
    ada = agent(capp, cdb, "ada@example.com", online=False)
    admin = agent(capp, cdb, "admin@example.com", role="admin", online=False)
    customer, first = handoff(capp)
    contact_id = int(ada.get(f"/conversations/{first}").get_json()["contact"]["id"])
    _upload(ada, first)
    ada.post(f"/conversations/{first}/close")
    second = customer.say("a person please again")["conversation_id"]
    ada.post(f"/contacts/{contact_id}/identities", {"channel": "sms", "address": "+14155550199"})
    ada.post(f"/contacts/{contact_id}/block", {"reason": "asked to be forgotten"})
    customer.say("one more")
    _, bystander = handoff(capp, "a person please, I am someone else")
    assert _count(cdb, BlockedMessage) == 1

    assert _delete(ada, f"/contacts/{contact_id}").status_code == 403
    assert _delete(admin, f"/contacts/{contact_id}").status_code == 204
    assert admin.get(f"/contacts/{contact_id}").status_code == 404
    for conv in (first, second):
        assert admin.get(f"/conversations/{conv}").status_code == 404
    assert admin.get(f"/conversations/{bystander}").status_code == 200
    with cdb.session() as s:
        assert s.get(Contact, contact_id) is None
        assert s.scalar(select(func.count(ContactIdentity.id)).where(ContactIdentity.contact_id == contact_id)) == 0
        assert s.scalar(select(func.count(Attachment.id))) == 0
        assert s.scalar(select(func.count(BlockedMessage.id))) == 0
        erased = s.scalars(select(AuditEvent).where(AuditEvent.kind == "contact.erased")).one()
        assert erased.actor_user_id == me(admin)
        assert erased.data == {"contact_id": contact_id, "conversations": 2}
        blocked = s.scalars(select(AuditEvent).where(AuditEvent.kind == "contact.blocked")).one()
        assert blocked.data["reason"] is None and blocked.actor_user_id == me(ada)
    assert _delete(admin, f"/contacts/{contact_id}").status_code == 404
    # the same browser writing again is a stranger now
    twilio_post(capp.test_client(), sms("SM" + "5" * 32, "hi", sender="+14155550199"))
    with cdb.session() as s:
        assert s.scalar(select(func.count(Contact.id))) == 2


def test_naming_a_conversation_shows_it_and_makes_it_searchable(app: Flask, db: Database) -> None:
    ada = agent(app, db, "ada@example.com", online=False)
    other = agent(app, db, "olga@example.com", team="Billing", online=False)
    _, conv_id = handoff(app)
    r = _patch(ada, f"/conversations/{conv_id}", {"name": "  Refund   for order 7 "})
    assert r.status_code == 200 and r.get_json()["name"] == "Refund for order 7"
    listed = ada.get("/conversations?view=team&status=open").get_json()["conversations"]
    assert [c["name"] for c in listed] == ["Refund for order 7"]
    assert _ids(ada, "&q=order%207") == [conv_id]
    assert _ids(ada, "&q=nothing-like-it") == []

    r = _patch(ada, f"/conversations/{conv_id}", {"name": "x" * 201})
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "bad_name"
    assert _patch(ada, f"/conversations/{conv_id}", {"name": 5}).status_code == 400
    assert _patch(ada, f"/conversations/{conv_id}", {}).status_code == 400
    assert _patch(other, f"/conversations/{conv_id}", {"name": "mine"}).status_code == 404
    assert _patch(ada, f"/conversations/{conv_id}", {"name": "x" * 200}).status_code == 200
    assert _patch(ada, f"/conversations/{conv_id}", {"name": None}).get_json()["name"] is None


def test_editing_a_contact_is_checked_and_audited(app: Flask, db: Database) -> None:
    ada = agent(app, db, "ada@example.com", online=False)
    other = agent(app, db, "olga@example.com", team="Billing", online=False)
    _, conv_id = handoff(app)
    contact_id = int(ada.get(f"/conversations/{conv_id}").get_json()["contact"]["id"])
    r = _patch(ada, f"/contacts/{contact_id}", {"name": "Kerry <b>", "email": "kerry@example.com",
                                                "phone": "+1 415 555 0123"})
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert (body["name"], body["email"], body["phone"]) == ("Kerry <b>", "kerry@example.com", "+14155550123")
    for bad in ({"name": ""}, {"name": "x" * 201}, {"email": "not-an-email"}, {"phone": "12"}, {"phone": 5},
                {"name": None}):
        assert _patch(ada, f"/contacts/{contact_id}", bad).status_code == 400, bad
    assert _patch(other, f"/contacts/{contact_id}", {"name": "x"}).status_code == 404
    found = ada.get("/contacts?q=kerry@").get_json()["contacts"]
    assert [c["id"] for c in found] == [contact_id]
    assert [c["id"] for c in ada.get("/contacts?q=555").get_json()["contacts"]] == [contact_id]
    assert ada.get("/contacts?q=k").status_code == 400
    assert [c["id"] for c in ada.get("/contacts").get_json()["contacts"]] == [contact_id]
    assert other.get("/contacts").get_json()["contacts"] == []
    assert _patch(ada, f"/contacts/{contact_id}", {"email": None}).get_json()["email"] is None
    with db.session() as s:
        edits = list(s.scalars(select(AuditEvent).where(AuditEvent.kind == "contact.edited").order_by(AuditEvent.id)))
    assert [e.data["fields"] for e in edits] == [["name", "email", "phone"], ["email"]]
    page = ada.client.get("/contacts")
    assert page.status_code == 200 and b"contacts.js" in page.data


def test_assignees_restrict_from_the_view_and_the_picker_offers_only_the_named(app: Flask, db: Database) -> None:
    ada = agent(app, db, "ada@example.com", online=False)
    bob = agent(app, db, "bob@example.com", online=False)
    cyd = agent(app, db, "cyd@example.com", online=False)
    _, conv_id = handoff(app)
    v = ada.get(f"/conversations/{conv_id}/visibility").get_json()
    assert v == {"restricted": False, "users": [], "may_change": False}
    assert ada.post(f"/conversations/{conv_id}/assign", {"user_ids": [me(ada)]}).status_code == 200
    assert ada.get(f"/conversations/{conv_id}/visibility").get_json()["may_change"] is True
    assert _put(bob, f"/conversations/{conv_id}/visibility", {"user_ids": [me(bob)]}).status_code == 403
    assert _put(ada, f"/conversations/{conv_id}/visibility", {"user_ids": [me(ada), me(bob)]}).status_code == 200
    v = bob.get(f"/conversations/{conv_id}/visibility").get_json()
    assert v["restricted"] is True and sorted(u["id"] for u in v["users"]) == sorted([me(ada), me(bob)])
    assert v["may_change"] is False
    assert cyd.get(f"/conversations/{conv_id}/visibility").status_code == 404
    assert conv_id not in _ids(cyd)
    r = ada.post(f"/conversations/{conv_id}/assign", {"user_ids": [me(ada), me(cyd)]})
    assert r.status_code in (400, 403, 422)


def test_new_endpoints_refuse_junk_with_4xx(app: Flask, db: Database) -> None:
    admin = agent(app, db, "admin@example.com", role="admin", online=False)
    _, conv_id = handoff(app)
    contact_id = int(admin.get(f"/conversations/{conv_id}").get_json()["contact"]["id"])
    for body in ([], "x", {"name": ["a"]}, {"name": {"a": 1}}):
        assert _patch(admin, f"/conversations/{conv_id}", body).status_code == 400, body
    for body in ([], {"reason": ["a"]}, {"reason": {"a": 1}}):
        assert admin.post(f"/contacts/{contact_id}/block", body).status_code == 400, body
    assert _patch(admin, f"/contacts/{contact_id}", {"nickname": "x"}).status_code in (200, 400)
    assert _delete(admin, "/conversations/c_nope").status_code == 404
    assert _delete(admin, "/contacts/99999999999").status_code == 404
    assert admin.get("/contacts/99999/blocked-messages").status_code == 404
    assert Customer(app).say("fine")["ok"]
