"""One customer, every channel: link an identity, merge contacts, pick the reply channel."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import func, select

from models.db import Database
from models.schema.contacts import Contact
from models.schema.conversations import Conversation
from tests.support.actors import Agent, Customer, make_user
from tests.support.channels import CUSTOMER, sms, twilio_post, wa_payload, wa_post, wa_text
from tests.support.fakes import FakeGraph, FakeTwilio


def _contact_id(agent: Agent, conv_id: str) -> int:
    return int(agent.get(f"/conversations/{conv_id}").get_json()["contact"]["id"])


def test_a_webchat_conversation_continues_on_sms_and_whatsapp(capp: Flask, cdb: Database, fake_twilio: FakeTwilio,
                                                               fake_graph: FakeGraph) -> None:
    make_user(cdb, "ada@example.com")
    ada = Agent(capp, "ada@example.com")
    customer = Customer(capp)
    conv_id = customer.say("a person please")["conversation_id"]
    contact_id = _contact_id(ada, conv_id)

    # not linked yet: SMS is not a choice
    options = ada.get(f"/conversations/{conv_id}/reply-options").get_json()
    assert options["default_channel"] == "webchat"
    sms_option = next(o for o in options["channels"] if o["channel"] == "sms")
    assert sms_option == {"channel": "sms", "available": False, "reason": "no_address", "address": None}
    r = ada.post(f"/conversations/{conv_id}/messages", {"text": "by sms?", "channel": "sms"})
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "no_address"

    # the agent links the customer's number, then follows up on SMS
    assert ada.post(f"/contacts/{contact_id}/identities", {"channel": "sms", "address": "+1 415 555 0123"}
                    ).status_code == 201
    r = ada.post(f"/conversations/{conv_id}/messages", {"text": "We shipped it 📦", "channel": "sms"})
    assert r.status_code == 201 and r.get_json()["channel"] == "sms"
    assert fake_twilio.sends()[-1].first("To") == CUSTOMER
    assert fake_twilio.sends()[-1].first("Body") == "We shipped it 📦"
    assert customer.replies("agent") == []  # an SMS reply does not appear in the widget

    # the customer answers by SMS: same contact, same conversation; replies now default to SMS
    twilio_post(capp.test_client(), sms("SM" + "ab" * 16, "thanks!"))
    with cdb.session() as s:
        assert s.scalar(select(func.count(Contact.id))) == 1
        assert s.scalar(select(func.count(Conversation.id))) == 1
    options = ada.get(f"/conversations/{conv_id}/reply-options").get_json()
    assert options["default_channel"] == "sms"
    msgs = ada.get(f"/conversations/{conv_id}/messages").get_json()["messages"]
    assert [m["channel"] for m in msgs if m["sender_type"] in ("contact", "agent")] == [
        "webchat", "sms", "sms"]
    # and back on webchat when the agent chooses it
    r = ada.post(f"/conversations/{conv_id}/messages", {"text": "also here", "channel": "webchat"})
    assert r.status_code == 201 and customer.replies("agent") == ["also here"]

    # WhatsApp: linked, but never written on → the window is closed, only templates
    ada.post(f"/contacts/{contact_id}/identities", {"channel": "whatsapp", "address": CUSTOMER})
    wa = next(o for o in ada.get(f"/conversations/{conv_id}/reply-options").get_json()["channels"]
              if o["channel"] == "whatsapp")
    assert wa["available"] and wa["window"]["open"] is False
    r = ada.post(f"/conversations/{conv_id}/messages", {"text": "hi on wa", "channel": "whatsapp"})
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "window_closed"
    r = ada.post(f"/conversations/{conv_id}/template", {"name": "order_update", "variables": ["Kerry", "#7"]})
    assert r.status_code == 201 and fake_graph.sent[-1]["type"] == "template"
    assert ada.post(f"/conversations/{conv_id}/messages", {"text": "x", "channel": "fax"}).status_code == 400


def test_supervisors_merge_two_contacts_that_are_one_person(capp: Flask, cdb: Database) -> None:
    make_user(cdb, "ada@example.com", role="supervisor")
    ada = Agent(capp, "ada@example.com")
    web_conv = Customer(capp).say("a person please")["conversation_id"]
    web_contact = _contact_id(ada, web_conv)
    ada.post(f"/conversations/{web_conv}/close")
    wa_post(capp.test_client(), wa_payload(wa_text("wamid.M1", "I want a person", name="Kerry")))
    found = ada.get("/contacts?q=Kerry").get_json()["contacts"]
    assert [c["name"] for c in found] == ["Kerry"]
    wa_contact = found[0]["id"]
    assert ada.get("/contacts?q=4155550").get_json()["contacts"][0]["id"] == wa_contact

    r = ada.post(f"/contacts/{wa_contact}/merge", {"contact_id": web_contact})
    assert r.status_code == 200, r.get_json()
    merged = r.get_json()
    assert sorted(i["channel"] for i in merged["identities"]) == ["webchat", "whatsapp"]
    assert len(merged["conversations"]) == 2
    assert ada.get(f"/contacts/{web_contact}").status_code == 404
    with cdb.session() as s:
        assert s.scalar(select(func.count(Contact.id))) == 1

    # the webchat visitor's next message lands with the same contact
    assert ada.post(f"/contacts/{wa_contact}/merge", {"contact_id": wa_contact}).status_code == 400
    assert ada.post(f"/contacts/{wa_contact}/merge", {"contact_id": "x"}).status_code == 400
    assert ada.post(f"/contacts/{wa_contact}/identities", {"channel": "whatsapp", "address": CUSTOMER}
                    ).status_code == 409
    assert ada.post(f"/contacts/{wa_contact}/identities", {"channel": "sms", "address": "12"}).status_code == 400


def test_merging_two_contacts_with_open_conversations_is_refused(capp: Flask, cdb: Database) -> None:
    make_user(cdb, "ada@example.com", role="supervisor")
    ada = Agent(capp, "ada@example.com")
    a = _contact_id(ada, Customer(capp).say("a person please")["conversation_id"])
    b = _contact_id(ada, Customer(capp).say("a person please")["conversation_id"])
    r = ada.post(f"/contacts/{a}/merge", {"contact_id": b})
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "both_open"


def test_contacts_out_of_reach_look_unknown(capp: Flask, cdb: Database) -> None:
    make_user(cdb, "ada@example.com")
    make_user(cdb, "bob@example.com", team="Elsewhere")
    ada, bob = Agent(capp, "ada@example.com"), Agent(capp, "bob@example.com")
    contact = _contact_id(ada, Customer(capp).say("a person please")["conversation_id"])
    assert bob.get(f"/contacts/{contact}").status_code == 404
    assert bob.post(f"/contacts/{contact}/identities", {"channel": "sms", "address": CUSTOMER}).status_code == 404
