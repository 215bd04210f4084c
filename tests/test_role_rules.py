"""The role rules of docs/interfaces.md ("Who may do what"), each attack of issue 12 performed through
the HTTP API: merging away a confidential contact's preset, reading a confidential contact's
details, and taking a colleague's chat through `/assign`."""

from __future__ import annotations

from typing import Any

from flask import Flask

from models.db import Database
from models.schema.contacts import Contact
from tests.support.actors import Agent, Customer, make_user
from tests.support.channels import wa_payload, wa_post, wa_text
from tests.support.routing import agent, assignees, handoff, me


def _put(a: Agent, path: str, body: Any) -> Any:
    return a.client.put(f"/api/v1{path}", json=body, headers={"X-CSRF-Token": a.csrf})


def _contact(a: Agent, conv_id: str) -> int:
    return int(a.get(f"/conversations/{conv_id}").get_json()["contact"]["id"])


def test_merging_never_drops_a_confidentiality_preset(app: Flask, db: Database) -> None:
    admin = agent(app, db, "admin@example.com", role="admin", online=False)
    sup = agent(app, db, "sup@example.com", role="supervisor", online=False)
    ada = agent(app, db, "ada@example.com", online=False)
    bob = agent(app, db, "bob@example.com", online=False)
    vip, vip_first = handoff(app, "a person please")
    vip_contact = _contact(admin, vip_first)
    admin.post(f"/conversations/{vip_first}/close")  # bob saw this earlier conversation
    _, other_conv = handoff(app, "a person please")
    other_contact = _contact(admin, other_conv)
    admin.post(f"/conversations/{other_conv}/close")
    r = _put(admin, f"/contacts/{vip_contact}/presets", {"visible_user_ids": [me(ada), me(sup)]})
    assert r.status_code == 200

    # the attack: an agent who saw one earlier conversation merges the confidential contact away
    r = bob.post(f"/contacts/{other_contact}/merge", {"contact_id": vip_contact})
    assert r.status_code == 404
    # an agent named by the preset may see the contact, but merging is not an agent's act
    r = ada.post(f"/contacts/{other_contact}/merge", {"contact_id": vip_contact})
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "forbidden"

    # a supervisor the preset names merges: the kept contact keeps the preset
    r = sup.post(f"/contacts/{other_contact}/merge", {"contact_id": vip_contact})
    assert r.status_code == 200, r.get_json()
    assert admin.get(f"/contacts/{other_contact}/presets").get_json()["visible_user_ids"] == sorted(
        [me(ada), me(sup)])
    # and the customer's next conversation is as confidential as before
    nxt = vip.say("a person please again")["conversation_id"]
    assert bob.get(f"/conversations/{nxt}").status_code == 404
    assert nxt not in [c["id"] for c in bob.get("/conversations?view=team").get_json()["conversations"]]
    assert ada.get(f"/conversations/{nxt}").status_code == 200


def test_a_merge_restricts_the_kept_contacts_open_conversation(app: Flask, db: Database) -> None:
    admin = agent(app, db, "admin@example.com", role="admin", online=False)
    ada = agent(app, db, "ada@example.com", online=False)
    bob = agent(app, db, "bob@example.com", online=False)
    _, vip_conv = handoff(app)
    vip_contact = _contact(admin, vip_conv)
    admin.post(f"/conversations/{vip_conv}/close")
    _, open_conv = handoff(app)  # the customer writes on, as another contact, in an open conversation
    kept = _contact(admin, open_conv)
    assert _put(admin, f"/contacts/{vip_contact}/presets",
                {"visible_user_ids": [me(ada), me(admin)]}).status_code == 200
    assert admin.post(f"/contacts/{kept}/merge", {"contact_id": vip_contact}).status_code == 200
    assert bob.get(f"/conversations/{open_conv}").status_code == 404
    assert ada.get(f"/conversations/{open_conv}").status_code == 200


def test_two_presets_naming_nobody_in_common_are_not_merged(app: Flask, db: Database) -> None:
    admin = agent(app, db, "admin@example.com", role="admin", online=False)
    ada = agent(app, db, "ada@example.com", online=False)
    contacts = []
    for named in (ada, admin):
        _, conv_id = handoff(app)
        contacts.append(_contact(admin, conv_id))
        admin.post(f"/conversations/{conv_id}/close")
        _put(admin, f"/contacts/{contacts[-1]}/presets", {"visible_user_ids": [me(named), me(admin)]})
    _put(admin, f"/contacts/{contacts[0]}/presets", {"visible_user_ids": [me(ada)]})
    assert admin.post(f"/contacts/{contacts[1]}/merge", {"contact_id": contacts[0]}).status_code == 404
    _put(admin, f"/contacts/{contacts[0]}/presets", {"visible_user_ids": [me(ada), me(admin)]})
    _put(admin, f"/contacts/{contacts[1]}/presets", {"visible_user_ids": [me(admin)]})
    r = admin.post(f"/contacts/{contacts[1]}/merge", {"contact_id": contacts[0]})
    assert r.status_code == 200  # the strictest wins: only the admin
    assert admin.get(f"/contacts/{contacts[1]}/presets").get_json()["visible_user_ids"] == [me(admin)]
    assert ada.get(f"/contacts/{contacts[1]}").status_code == 404


def test_a_confidential_contacts_details_follow_its_conversation(app: Flask, db: Database) -> None:
    admin = agent(app, db, "admin@example.com", role="admin", online=False)
    sup = agent(app, db, "sup@example.com", role="supervisor", online=False)
    ada = agent(app, db, "ada@example.com", online=False)
    _, conv_id = handoff(app, "a person please, I am Kerry Confidential")
    contact_id = _contact(sup, conv_id)
    with db.transaction() as s:  # the customer told us their name; now it is searchable
        contact = s.get(Contact, contact_id)
        assert contact is not None
        contact.name = "Kerry Confidential"
    assert sup.get(f"/contacts/{contact_id}").status_code == 200  # before: an ordinary customer
    assert _put(admin, f"/conversations/{conv_id}/visibility", {"user_ids": [me(ada)]}).status_code == 200

    # the attack: the conversation answers 404, so must everything that tells about its customer
    for outsider in (sup, admin):
        assert outsider.get(f"/conversations/{conv_id}").status_code == 404
        assert outsider.get(f"/contacts/{contact_id}").status_code == 404
        assert outsider.get(f"/contacts/{contact_id}/journey").status_code == 404
        assert outsider.get("/contacts?q=Confidential").get_json()["contacts"] == []
    assert ada.get(f"/contacts/{contact_id}").get_json()["name"] == "Kerry Confidential"
    assert [c["id"] for c in ada.get("/contacts?q=Confidential").get_json()["contacts"]] == [contact_id]
    assert [c["id"] for c in ada.get(f"/contacts/{contact_id}/journey").get_json()["conversations"]] == [conv_id]
    # lifted: an ordinary customer again
    assert _put(admin, f"/conversations/{conv_id}/visibility", {"user_ids": None}).status_code == 200
    assert sup.get(f"/contacts/{contact_id}").status_code == 200


def test_agents_cannot_take_a_colleagues_chat_with_assign(app: Flask, db: Database) -> None:
    sup = agent(app, db, "sup@example.com", role="supervisor", online=False)
    ada = agent(app, db, "ada@example.com", online=False)
    bob = agent(app, db, "bob@example.com", online=False)
    _, conv_id = handoff(app)
    # taking an unassigned chat one can see is fine
    assert bob.post(f"/conversations/{conv_id}/assign", {"user_ids": [me(ada)]}).status_code == 403
    assert ada.post(f"/conversations/{conv_id}/assign", {"user_ids": [me(ada)]}).status_code == 200
    # the attack: bob takes ada's chat, or joins it, or unassigns her
    for wanted in ([me(bob)], [me(ada), me(bob)], []):
        r = bob.post(f"/conversations/{conv_id}/assign", {"user_ids": wanted})
        assert r.status_code == 403 and r.get_json()["error"]["code"] == "forbidden", wanted
        assert assignees(db, conv_id) == [me(ada)]
    # as direct transfer, close and return to the bot refuse him
    assert bob.post(f"/conversations/{conv_id}/transfer", {"to_user_id": me(bob)}).status_code == 403
    assert bob.post(f"/conversations/{conv_id}/close").status_code == 403
    assert bob.post(f"/conversations/{conv_id}/return-to-bot").status_code == 403
    assert assignees(db, conv_id) == [me(ada)]
    # ada may let go of her own chat; a supervisor reassigns at will
    assert ada.post(f"/conversations/{conv_id}/assign", {"user_ids": []}).status_code == 200
    assert sup.post(f"/conversations/{conv_id}/assign", {"user_ids": [me(ada), me(bob)]}).status_code == 200
    assert assignees(db, conv_id) == sorted([me(ada), me(bob)])
    assert bob.post(f"/conversations/{conv_id}/assign", {"user_ids": [me(ada)]}).status_code == 200  # lets go


def test_a_merged_visitors_widget_does_not_open_the_kept_contacts_conversation(capp: Flask, cdb: Database) -> None:
    make_user(cdb, "sup@example.com", role="supervisor")
    sup = Agent(capp, "sup@example.com")
    visitor = Customer(capp)
    web_conv = visitor.say("a person please")["conversation_id"]
    web_contact = _contact(sup, web_conv)
    sup.post(f"/conversations/{web_conv}/close")
    # somebody else, on WhatsApp, tells their account number; the conversation stays open
    wa_post(capp.test_client(), wa_payload(wa_text("wamid.S1", "I want a person, account 4711", name="Kerry")))
    kept = sup.get("/contacts?q=Kerry").get_json()["contacts"][0]["id"]
    assert sup.post(f"/contacts/{kept}/merge", {"contact_id": web_contact}).status_code == 200  # a mistake

    # the attack: the merged visitor's browser reconnects with its token
    again = Customer(capp, token=visitor.token)
    history = again.first("history")
    assert all("4711" not in m["text"] for m in history["messages"]), history
    assert history["messages"] == []
    # what the visitor says from now on, and the bot's webchat answers, are theirs to see
    again.say("hello again")
    assert [m["text"] for m in Customer(capp, token=visitor.token).first("history")["messages"]][:1] == [
        "hello again"]
