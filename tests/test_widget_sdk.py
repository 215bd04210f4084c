"""The widget SDK over the real /webchat handlers and REST API: setUser verified by the inbox's identifier
hash (a wrong or missing hash claims nobody; the right one resumes the contact's conversation on another
browser), setAttributes checked and stored, the page a conversation started on, the admin's secret."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from flask import Flask
from sqlalchemy import select

from models.db import Database
from models.integrations.catalog import conversation_json
from models.schema.contacts import Contact, ContactIdentity
from models.schema.conversations import Conversation
from tests.support.actors import Agent, make_user
from tests.support.inboxes import WidgetCustomer, create_widget


def _sign(secret: str, user_id: str) -> str:
    return hmac.new(secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()


def _identify(browser: WidgetCustomer, user_id: Any, identifier_hash: Any, **user: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"id": user_id, "identifier_hash": identifier_hash}
    if user:
        body["user"] = user
    ack = browser.sock.emit("identify", body, namespace="/webchat", callback=True)
    browser._drain()
    return dict(ack)


def _attributes(browser: WidgetCustomer, attributes: Any) -> dict[str, Any]:
    ack = browser.sock.emit("attributes", {"attributes": attributes}, namespace="/webchat", callback=True)
    return dict(ack)


def _setup(app: Flask, db: Database) -> tuple[Agent, Agent, dict[str, Any], str]:
    make_user(db, "admin@example.com", role="admin")
    make_user(db, "sam@example.com", team="Support")
    admin, sam = Agent(app, "admin@example.com"), Agent(app, "sam@example.com")
    with db.session() as s:
        from models.schema.accounts import Team
        team_id = s.scalar(select(Team.id).where(Team.name == "Support"))
    widget = create_widget(admin, int(team_id or 0), name="Shop")
    secret = admin.get(f"/inboxes/{widget['id']}").get_json()["identity_secret"]
    assert isinstance(secret, str) and len(secret) == 64
    return admin, sam, widget, secret


def _conversation(db: Database, public_id: str) -> Conversation:
    with db.session() as s:
        conv = s.scalar(select(Conversation).where(Conversation.public_id == public_id))
        assert conv is not None
        s.expunge(conv)
        return conv


def test_the_secret_is_shown_to_admins_only_and_never_to_the_widget(app: Flask, db: Database) -> None:
    admin, sam, widget, secret = _setup(app, db)
    assert "identity_secret" not in widget  # not in the create answer's list shape either
    assert all("identity_secret" not in i for i in admin.get("/inboxes").get_json()["inboxes"])
    seen = sam.get(f"/inboxes/{widget['id']}")
    assert seen.status_code == 200 and "identity_secret" not in seen.get_json()
    config = app.test_client().get(f"/webchat/widget-config?key={widget['widget_key']}")
    assert secret not in config.get_data(as_text=True)
    assert sam.post(f"/inboxes/{widget['id']}/identity-secret").status_code == 403
    rotated = admin.post(f"/inboxes/{widget['id']}/identity-secret")
    assert rotated.status_code == 200 and rotated.get_json()["identity_secret"] not in (secret, None)
    # A hash signed with the old secret stops verifying.
    browser = WidgetCustomer(app, widget["widget_key"])
    refused = _identify(browser, "u-1", _sign(secret, "u-1"))
    assert refused["ok"] is False and refused["error"]["code"] == "identity_unverified"
    assert _identify(browser, "u-1", _sign(rotated.get_json()["identity_secret"], "u-1"))["ok"] is True


def test_wrong_hash_is_refused_and_the_right_one_resumes_history_on_a_second_browser(
        app: Flask, db: Database) -> None:
    _admin, _sam, widget, secret = _setup(app, db)
    first = WidgetCustomer(app, widget["widget_key"])
    ok = _identify(first, "user-42", _sign(secret, "user-42"), name="Ada Lovelace", email="ada@example.com")
    assert ok["ok"] is True and ok["conversation_id"] is None
    conv_id = first.say("Where is my order 1234?")["conversation_id"]

    second = WidgetCustomer(app, widget["widget_key"])
    for bad in (_sign(secret, "user-43"), "", None, "0" * 64, _sign("not-the-secret", "user-42")):
        refused = _identify(second, "user-42", bad)
        assert refused["ok"] is False and refused["error"]["code"] == "identity_unverified", bad
        assert "hash" in refused["error"]["message"]
    assert all(not h["messages"] for h in second.events("history"))  # it saw nothing of Ada's

    resumed = _identify(second, "user-42", _sign(secret, "user-42").upper())
    assert resumed == {"ok": True, "conversation_id": conv_id}
    history = second.events("history")[-1]
    assert history["conversation_id"] == conv_id
    assert "Where is my order 1234?" in [m["text"] for m in history["messages"]]
    # It now writes into the same conversation, as the same contact.
    assert second.say("It's me again, from my phone")["conversation_id"] == conv_id
    with db.session() as s:
        contact = s.get(Contact, _conversation(db, conv_id).contact_id)
        assert contact is not None and (contact.name, contact.email) == ("Ada Lovelace", "ada@example.com")
        channels = sorted(i.channel for i in contact.identities)
        assert channels == ["webchat", "webchat", "webchat_user"]


def test_an_unverified_visitor_cannot_claim_a_known_contact(app: Flask, db: Database) -> None:
    _admin, _sam, widget, secret = _setup(app, db)
    owner = WidgetCustomer(app, widget["widget_key"])
    _identify(owner, "user-7", _sign(secret, "user-7"), email="grace@example.com")
    conv_id = owner.say("my secret order")["conversation_id"]

    intruder = WidgetCustomer(app, widget["widget_key"])
    for body in ({"id": "user-7"}, {"id": "user-7", "identifier_hash": _sign(secret, "user-8")}):
        ack = intruder.sock.emit("identify", body, namespace="/webchat", callback=True)
        assert ack["ok"] is False and ack["error"]["code"] == "identity_unverified"
    # Claiming by email is no way in either: a profile is only taken with a verified id.
    signed_self = _identify(intruder, "intruder", _sign(secret, "intruder"), email="grace@example.com")
    assert signed_self["ok"] is True and signed_self["conversation_id"] is None
    own = intruder.say("hello?")["conversation_id"]
    assert own != conv_id
    texts = [m["text"] for h in intruder.events("history") for m in h["messages"]]
    texts += [m["text"] for m in intruder.events("message")]
    assert "my secret order" not in texts
    # Bad input is refused clearly, never a crash.
    bad_bodies: list[Any] = ["x", {"id": ""}, {"id": "u" * 201}, {"id": "u", "user": {"email": "not-an-email"}},
                             {"id": "u", "user": {"admin": True}}]
    for body in bad_bodies:
        ack = intruder.sock.emit("identify", body, namespace="/webchat", callback=True)
        assert ack["ok"] is False and ack["error"]["code"] in ("invalid", "invalid_user_id", "invalid_profile")


def test_an_inbox_without_a_secret_verifies_nobody(app: Flask, db: Database) -> None:
    make_user(db, "admin@example.com", role="admin")
    browser = WidgetCustomer(app)  # keyless: the default webchat inbox, made on first use, has no secret
    browser.say("hi")
    ack = _identify(browser, "u-1", _sign("", "u-1"))
    assert ack["ok"] is False and ack["error"]["code"] == "identity_not_configured"


def test_attributes_are_checked_stored_and_shown_to_agents_as_given(app: Flask, db: Database) -> None:
    _admin, sam, widget, _secret = _setup(app, db)
    browser = WidgetCustomer(app, widget["widget_key"])
    bad_attributes: list[Any] = [{}, [], "plan", {"plan": {"nested": 1}}, {"plan": [1]}, {"1plan": "x"},
                                 {"a b": "x"}, {"note": "x" * 501}, {f"k{i}": i for i in range(51)}]
    for bad in bad_attributes:
        ack = _attributes(browser, bad)
        assert ack["ok"] is False and ack["error"]["code"] == "invalid_attributes", bad
    script = '<img src=x onerror="alert(1)">'
    ok = _attributes(browser, {"plan": "pro", "seats": 3, "vip": True, "note": script, "old": "x"})
    assert ok["ok"] is True
    assert _attributes(browser, {"old": None})["attributes"] == {"plan": "pro", "seats": 3, "vip": True,
                                                                  "note": script}
    conv_id = browser.say({"text": "I need help", "page": {"url": "https://shop.example.com/pricing?a=1",
                                                          "referrer": "https://search.example.net/?q=shop"}}
                          )["conversation_id"]
    about = sam.get(f"/conversations/{conv_id}/about")
    assert about.status_code == 200, about.get_json()
    body = about.get_json()
    assert body["attributes"] == {"plan": "pro", "seats": 3, "vip": True, "note": script}
    assert body["page_url"] == "https://shop.example.com/pricing?a=1"
    assert body["referrer"] == "https://search.example.net/?q=shop"
    assert about.headers["Content-Type"].startswith("application/json")
    # Changed while the conversation is open: the conversation (what the bot reads) follows.
    _attributes(browser, {"plan": "enterprise"})
    conv = _conversation(db, conv_id)
    assert conv.custom_attributes is not None and conv.custom_attributes["plan"] == "enterprise"


def test_the_page_is_stored_with_the_conversation_and_reaches_bots_and_webhooks(app: Flask, db: Database) -> None:
    _admin, _sam, widget, _secret = _setup(app, db)
    browser = WidgetCustomer(app, widget["widget_key"])
    _attributes(browser, {"plan": "pro"})
    conv_id = browser.say({"text": "hello", "page": {"url": "https://shop.example.com/a", "referrer": ""}}
                          )["conversation_id"]
    browser.say({"text": "again", "page": {"url": "https://shop.example.com/b"}})  # the start is kept
    conv = _conversation(db, conv_id)
    assert (conv.page_url, conv.referrer, conv.custom_attributes) == ("https://shop.example.com/a", None,
                                                                      {"plan": "pro"})
    with db.session() as s:
        data = conversation_json(s, s.get(Conversation, conv.id))  # type: ignore[arg-type]
    assert data["page_url"] == "https://shop.example.com/a" and data["custom_attributes"] == {"plan": "pro"}

    other = WidgetCustomer(app, widget["widget_key"])  # a script URL is not a page
    other_id = other.say({"text": "hi", "page": {"url": "javascript:alert(1)", "referrer": 7}})["conversation_id"]
    assert _conversation(db, other_id).page_url is None



def test_attributes_of_another_teams_conversation_are_not_readable(app: Flask, db: Database) -> None:
    _admin, _sam, widget, _secret = _setup(app, db)
    make_user(db, "sally@example.com", team="Sales")
    sally = Agent(app, "sally@example.com")
    browser = WidgetCustomer(app, widget["widget_key"])
    conv_id = browser.say("hello")["conversation_id"]
    assert sally.get(f"/conversations/{conv_id}/about").status_code == 404
    with db.session() as s:
        assert s.scalar(select(ContactIdentity).where(ContactIdentity.channel == "webchat_user")) is None
