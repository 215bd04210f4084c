"""Issue 14 (first half): an agent starts a conversation (SMS, WhatsApp, email invite), the customer's
personal link opens the hosted chat page, re-engage, ending a session by the team's rule, renewal."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select, update

from console.extensions import socketio
from models.db import Database
from models.schema.accounts import Team
from models.schema.base import utcnow
from models.schema.channels import Inbox
from models.schema.conversations import Conversation, Message
from models.schema.outreach import Invitation
from models.settings import Settings
from tests.support.actors import Agent, Customer, make_user
from tests.support.channels import CUSTOMER, make_channel_app, rt, wa_payload, wa_post, wa_text
from tests.support.fakes import FakeGraph, FakeTwilio
from tests.support.mail import SmtpServer, body_text
from tests.support.outreach import link_path, mail_link


@pytest.fixture
def oapp(settings: Settings, engines: list[Any], channel_env: dict[str, str], smtp_server: SmtpServer
         ) -> Iterator[Flask]:
    mailing = settings.with_(smtp_url=smtp_server.url, mail_from="Support <support@example.com>")
    app = make_channel_app(mailing, engines, channel_env)
    yield app
    app.extensions["parley"].db.dispose()


@pytest.fixture
def odb(oapp: Flask) -> Database:
    database: Database = oapp.extensions["parley"].db
    return database


@pytest.fixture
def ada(oapp: Flask, odb: Database) -> Agent:
    make_user(odb, "ada@example.com")
    return Agent(oapp, "ada@example.com")


def _email_invite(ada: Agent, smtp: SmtpServer, email: str = "kim@example.com",
                  **extra: Any) -> tuple[dict[str, Any], str]:
    before = len(smtp.messages)
    r = ada.post("/conversations", {"contact": {"name": "Kim", "email": email}, "channel": "email",
                                    "text": "Hello Kim, about your order <b>42</b>", **extra})
    assert r.status_code == 201, r.get_json()
    mail = smtp.wait_for(before + 1)[-1]
    return r.get_json(), mail_link(mail)


def _session(client: Any, path: str) -> Any:
    return client.post(f"{path}/session", json={})


def test_agent_starts_an_sms_conversation(oapp: Flask, odb: Database, ada: Agent, fake_twilio: FakeTwilio) -> None:
    r = ada.post("/conversations", {"contact": {"name": "Kerry", "phone": "+1 415 555 0123"}, "channel": "sms",
                                    "text": "Hi Kerry, your repair is ready."})
    assert r.status_code == 201, r.get_json()
    conv = r.get_json()
    me = ada.get("/me").get_json()
    assert (conv["status"], conv["owner"], conv["phase"], conv["channel"]) == ("open", "human", "assigned", "sms")
    assert [a["id"] for a in conv["assignees"]] == [me["id"]]
    assert conv["team"]["id"] == me["teams"][0]["id"]  # the number's default inbox, owned by the first team
    assert [c["id"] for c in ada.get("/conversations?view=mine").get_json()["conversations"]] == [conv["id"]]
    rt(oapp).worker.run_once()
    sent = fake_twilio.sends()[-1]
    assert (sent.first("To"), sent.first("Body")) == (CUSTOMER, "Hi Kerry, your repair is ready.")
    # the customer answers by SMS and lands in the same conversation
    assert ada.post("/conversations", {"contact_id": conv["contact"]["id"], "channel": "sms", "text": "again"}
                    ).status_code == 409  # one open conversation per customer
    with odb.session() as s:
        inbox = s.scalar(select(Inbox).where(Inbox.kind == "sms", Inbox.is_default.is_(True)))
        assert inbox is not None and s.scalar(select(Conversation.inbox_id)) == inbox.id


def test_started_in_the_team_of_the_chosen_inbox(oapp: Flask, odb: Database, fake_twilio: FakeTwilio) -> None:
    make_user(odb, "sam@example.com", team="Sales")
    sam = Agent(oapp, "sam@example.com")
    with odb.transaction() as s:
        sales = s.scalars(select(Team).where(Team.name == "Sales")).one()
        support = s.scalars(select(Team).where(Team.name != "Sales")).first()
        assert support is not None
        s.execute(update(Inbox).where(Inbox.kind == "sms").values(is_default=False))  # one default per kind
        s.add_all([Inbox(name="Support SMS", kind="sms", team_id=support.id, is_default=True),
                   Inbox(name="Sales SMS", kind="sms", team_id=sales.id)])
    with odb.session() as s:
        sales_inbox = s.scalars(select(Inbox).where(Inbox.name == "Sales SMS")).one().id
    # the default inbox belongs to a team Sam is not in: refused, nothing made
    r = sam.post("/conversations", {"contact": {"name": "Lee", "phone": "+14155550199"}, "channel": "sms",
                                    "text": "hello"})
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "not_in_team"
    r = sam.post("/conversations", {"contact": {"name": "Lee", "phone": "+14155550199"}, "channel": "sms",
                                    "inbox_id": sales_inbox, "text": "hello"})
    assert r.status_code == 201 and r.get_json()["team"]["name"] == "Sales"
    with odb.session() as s:
        assert s.scalar(select(Conversation.inbox_id)) == sales_inbox
    r = sam.post("/conversations", {"contact": {"name": "Max", "email": "max@example.com"}, "channel": "email",
                                    "inbox_id": sales_inbox, "text": "hi"})
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "inbox_kind", r.get_json()


def test_whatsapp_outside_the_window_takes_a_template_only(oapp: Flask, odb: Database, ada: Agent,
                                                            fake_graph: FakeGraph) -> None:
    body: dict[str, Any] = {"contact": {"name": "Kerry", "phone": CUSTOMER}, "channel": "whatsapp"}
    r = ada.post("/conversations", {**body, "text": "Hello!"})
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "window_closed"
    assert "template" in r.get_json()["error"]["message"]
    with odb.session() as s:
        assert s.scalars(select(Conversation)).all() == []  # nothing half-made
    options = ada.get("/outreach/options").get_json()
    assert options["whatsapp"] is True and options["whatsapp_window_open"] is False
    assert [t["name"] for t in options["templates"]] == ["order_update"]
    r = ada.post("/conversations", {**body, "template": {"name": "order_update", "variables": ["Kerry"]}})
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "variables"
    r = ada.post("/conversations", {**body, "template": {"name": "order_update", "variables": ["Kerry", "A-42"]}})
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["last_message"]["text"] == "Hi Kerry, your order A-42 has shipped."
    rt(oapp).worker.run_once()
    sent = fake_graph.sends()[-1].json()
    assert sent["type"] == "template" and sent["template"]["name"] == "order_update_v2"


def test_whatsapp_inside_the_window_takes_text(oapp: Flask, odb: Database, ada: Agent) -> None:
    client = oapp.test_client()
    assert wa_post(client, wa_payload(wa_text("wamid.1", "hello"))).status_code == 200
    with odb.transaction() as s:  # the customer's conversation ended; the window is still open
        s.execute(update(Conversation).values(status="closed"))
        contact_id = s.scalar(select(Conversation.contact_id))
    opts = ada.get(f"/outreach/options?contact_id={contact_id}")
    assert opts.get_json().get("whatsapp_window_open") is True, (opts.status_code, opts.get_json())
    r = ada.post("/conversations", {"contact_id": contact_id, "channel": "whatsapp", "text": "Following up"})
    assert r.status_code == 201, r.get_json()


def test_email_invite_link_joins_and_status_moves(oapp: Flask, odb: Database, ada: Agent,
                                                  smtp_server: SmtpServer) -> None:
    conv, path = _email_invite(ada, smtp_server)
    assert conv["channel"] == "webchat" and conv["customer_status"]["state"] == "never_joined"
    mail = smtp_server.messages[-1]
    assert mail["To"] == "kim@example.com" and "Support" in mail["Subject"]
    assert "Hello Kim, about your order <b>42</b>" in body_text(mail, "plain")
    html = body_text(mail, "html")
    assert "&lt;b&gt;42&lt;/b&gt;" in html and "<b>42</b>" not in html  # the agent's text is escaped
    customer = oapp.test_client()
    page = customer.get(path)
    assert page.status_code == 200 and b"hosted_chat.js" in page.data
    assert ada.get(f"/conversations/{conv['id']}/invitation").get_json()["state"] == "sent"  # a preview joins nobody
    opened = _session(customer, path)
    assert opened.status_code == 200
    data = opened.get_json()
    assert data["conversation_id"] == conv["id"] and data["state"] == "open" and data["team"]
    assert [m["text"] for m in data["messages"]] == ["Hello Kim, about your order <b>42</b>"]
    inv = ada.get(f"/conversations/{conv['id']}/invitation").get_json()
    assert inv["state"] == "joined" and inv["joined_at"]
    # offline: joined but no page open; online while the page's socket is connected; offline after
    assert ada.get(f"/conversations/{conv['id']}").get_json()["customer_status"]["state"] == "offline"
    ada.socket.get_received("/console")
    sock = socketio.test_client(oapp, namespace="/webchat", auth={"token": data["visitor_token"]})
    now = ada.get(f"/conversations/{conv['id']}").get_json()
    assert now["customer_status"]["state"] == "online" and now["contact"]["online"] is True
    assert any(p["name"] == "presence" for p in ada.socket.get_received("/console"))
    # the customer writes from the page; the agent's reply reaches the page's socket live
    r = customer.post(f"{path}/messages", json={"text": "Thanks! <script>x</script>", "client_id": "abcdefgh1"})
    assert r.status_code == 201 and r.get_json()["conversation_id"] == conv["id"]
    again = customer.post(f"{path}/messages", json={"text": "Thanks! <script>x</script>", "client_id": "abcdefgh1"})
    assert again.get_json()["id"] == r.get_json()["id"]  # a resend is stored once
    assert ada.post(f"/conversations/{conv['id']}/messages", {"text": "You're welcome"}).status_code == 201
    live = [p for p in sock.get_received("/webchat") if p["name"] == "message"]
    assert [p["args"][0]["text"] if isinstance(p["args"], list) else p["args"]["text"] for p in live] == [
        "You're welcome"]
    sock.disconnect(namespace="/webchat")
    gone = ada.get(f"/conversations/{conv['id']}").get_json()["customer_status"]
    assert gone["state"] == "offline" and gone["last_seen_at"]
    texts = [m["text"] for m in customer.get(f"{path}/messages").get_json()["messages"]]
    assert texts == ["Hello Kim, about your order <b>42</b>", "Thanks! <script>x</script>", "You're welcome"]


def test_sms_invite_adds_the_link(oapp: Flask, odb: Database, ada: Agent, fake_twilio: FakeTwilio) -> None:
    r = ada.post("/conversations", {"contact": {"name": "Kerry", "phone": CUSTOMER}, "channel": "sms",
                                    "text": "Your quote is ready.", "invite": True})
    assert r.status_code == 201, r.get_json()
    rt(oapp).worker.run_once()
    body = fake_twilio.sends()[-1].first("Body")
    assert body.startswith("Your quote is ready.")
    path = link_path(body)
    customer = oapp.test_client()
    assert _session(customer, path).get_json()["conversation_id"] == r.get_json()["id"]
    assert customer.post(f"{path}/messages", json={"text": "on my way"}).status_code == 201
    # the agent's reply now goes where the customer wrote from: the page
    reply = ada.post(f"/conversations/{r.get_json()['id']}/messages", {"text": "great"})
    assert reply.get_json()["channel"] == "webchat"


def test_pre_plan_then_invite_and_re_engage(oapp: Flask, odb: Database, ada: Agent, smtp_server: SmtpServer) -> None:
    r = ada.post("/conversations", {"contact": {"name": "Kim", "email": "kim@exmaple.com"}, "channel": "email",
                                    "text": "Welcome!", "pre_plan": True})
    assert r.status_code == 201
    conv_id = r.get_json()["id"]
    assert smtp_server.messages == []  # the customer has nothing yet
    assert ada.post(f"/conversations/{conv_id}/messages", {"text": "Prepare the contract", "private": True}
                    ).status_code == 201
    r = ada.post(f"/conversations/{conv_id}/messages", {"text": "Hello?"})  # nothing reaches them yet
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "not_invited_yet"
    r = ada.client.patch(f"/api/v1/conversations/{conv_id}/invitation", json={"welcome": "Welcome, Kim!",
                                                                                "name": "Kim Lee"},
                         headers={"X-CSRF-Token": ada.csrf})
    assert r.status_code == 200 and r.get_json()["state"] == "prepared" and r.get_json()["welcome"] == "Welcome, Kim!"
    # the agent notices the typo in the address and sends it to the right one
    r = ada.post(f"/conversations/{conv_id}/invite", {"email": "kim@example.com"})
    assert r.status_code == 200 and r.get_json()["state"] == "sent" and r.get_json()["address"] == "kim@example.com"
    first = smtp_server.wait_for(1)[-1]
    assert first["To"] == "kim@example.com" and "Hello Kim Lee" in body_text(first)
    old_path, old_expiry = mail_link(first), r.get_json()["expires_at"]
    with odb.transaction() as s:  # a day passes
        s.execute(update(Invitation).values(sent_at=utcnow() - timedelta(days=1),
                                            expires_at=utcnow() + timedelta(days=6)))
    r = ada.post(f"/conversations/{conv_id}/invite", {"email": "kim.lee@example.com"})
    assert r.status_code == 200 and r.get_json()["sends"] == 2
    assert r.get_json()["expires_at"] > old_expiry  # the timer restarted
    second = smtp_server.wait_for(2)[-1]
    assert second["To"] == "kim.lee@example.com"
    new_path = mail_link(second)
    customer = oapp.test_client()
    assert _session(customer, old_path).status_code == 404  # the old link was replaced
    opened = _session(customer, new_path).get_json()
    assert [m["text"] for m in opened["messages"]] == ["Welcome, Kim!"]  # prepared, once; never the note
    r = ada.post(f"/conversations/{conv_id}/invite", {"email": "other@example.com"})
    assert r.status_code == 409 and "already joined" in r.get_json()["error"]["message"]
    assert len(smtp_server.messages) == 2


@pytest.mark.parametrize("rule", ["read_only", "no_access", "write_again"])
def test_end_session_follows_the_team_rule(oapp: Flask, odb: Database, ada: Agent, smtp_server: SmtpServer,
                                           rule: str) -> None:
    make_user(odb, "root@example.com", role="admin")
    admin = Agent(oapp, "root@example.com")
    team_id = ada.get("/me").get_json()["teams"][0]["id"]
    assert ada.client.put(f"/api/v1/teams/{team_id}/outreach", json={"end_behaviour": rule},
                          headers={"X-CSRF-Token": ada.csrf}).status_code == 403
    r = admin.client.put(f"/api/v1/teams/{team_id}/outreach", json={"end_behaviour": rule},
                         headers={"X-CSRF-Token": admin.csrf})
    assert r.status_code == 200 and r.get_json() == {"team_id": team_id, "end_behaviour": rule}
    conv, path = _email_invite(ada, smtp_server)
    customer = oapp.test_client()
    assert _session(customer, path).status_code == 200
    assert customer.post(f"{path}/messages", json={"text": "hello"}).status_code == 201
    assert ada.post(f"/conversations/{conv['id']}/end").get_json()["status"] == "closed"
    if rule == "no_access":
        assert customer.get(path).status_code == 403
        assert customer.get(f"{path}/messages").status_code == 403
        assert customer.post(f"{path}/messages", json={"text": "hi?"}).status_code == 403
    else:
        state = customer.get(f"{path}/messages").get_json()
        assert state["state"] == rule and [m["text"] for m in state["messages"]][-1] == "hello"
        r = customer.post(f"{path}/messages", json={"text": "one more thing"})
        if rule == "read_only":
            assert r.status_code == 422 and r.get_json()["error"]["code"] == "ended"
        else:
            assert r.status_code == 201 and r.get_json()["conversation_id"] != conv["id"]
            with odb.session() as s:
                new = s.scalars(select(Conversation).where(Conversation.public_id == r.get_json()["conversation_id"])
                                ).one()
                assert (new.status, new.team_id) == ("open", team_id)
            after = customer.get(f"{path}/messages").get_json()
            texts = [m["text"] for m in after["messages"]]
            assert after["state"] == "open" and texts.index("hello") < texts.index("one more thing")
            assert after["messages"][-1]["sender_type"] == "bot"  # a new conversation: the bot answers first
            return
    # renew brings it back as it was: open, same assignee, the same link writes again
    r = ada.post(f"/conversations/{conv['id']}/renew")
    assert r.status_code == 200 and r.get_json()["status"] == "open"
    assert [a["id"] for a in r.get_json()["assignees"]] == [ada.get("/me").get_json()["id"]]
    assert customer.post(f"{path}/messages", json={"text": "back"}).status_code == 201
    assert ada.post(f"/conversations/{conv['id']}/renew").status_code == 422


def test_expired_forged_and_foreign_links_are_refused(oapp: Flask, odb: Database, ada: Agent,
                                                      smtp_server: SmtpServer) -> None:
    kim, kim_path = _email_invite(ada, smtp_server, "kim@example.com")
    lee, lee_path = _email_invite(ada, smtp_server, "lee@example.com")
    client = oapp.test_client()
    # each link shows its own customer's conversation, never the other's
    assert _session(client, kim_path).get_json()["conversation_id"] == kim["id"]
    assert _session(client, lee_path).get_json()["conversation_id"] == lee["id"]
    token = kim_path.rsplit("/", 1)[1]
    for bad in (token[:-2] + ("AA" if not token.endswith("AA") else "BB"), "x", "a" * 400,
                "WzEsImFiYyJd.forged", kim["id"]):
        assert client.get(f"/c/{bad}").status_code == 404
        r = _session(client, f"/c/{bad}")
        assert r.status_code == 404 and r.get_json()["error"]["code"] == "bad_link"
    with odb.transaction() as s:
        s.execute(update(Invitation).where(Invitation.address == "kim@example.com")
                  .values(expires_at=utcnow() - timedelta(seconds=1)))
    page = client.get(kim_path)
    assert page.status_code == 410 and b"expired" in page.data
    assert client.post(f"{kim_path}/messages", json={"text": "hi"}).status_code == 410
    with odb.session() as s:
        assert s.scalar(select(Message.text).where(Message.text == "hi")) is None


def test_start_validation_is_4xx(oapp: Flask, ada: Agent, settings: Settings, engines: list[Any]) -> None:
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"contact": {"name": "A", "phone": "12"}, "channel": "sms", "text": "x"}, 400, "bad_phone"),
        ({"contact": {"name": "A", "phone": "not a number"}, "channel": "sms", "text": "x"}, 400, "bad_phone"),
        ({"contact": {"name": "A", "email": "nope"}, "channel": "email", "text": "x"}, 400, "bad_email"),
        ({"contact": {"name": " ", "email": "a@example.com"}, "channel": "email", "text": "x"}, 400, "bad_name"),
        ({"contact": {"name": "A"}, "channel": "sms", "text": "x"}, 400, "no_address"),
        ({"contact": {"name": "A", "email": "a@example.com"}, "channel": "sms", "text": "x"}, 400, "no_address"),
        ({"contact": {"name": "A", "phone": CUSTOMER}, "contact_id": 1, "channel": "sms", "text": "x"}, 400, "contact"),
        ({"contact": {"name": "A", "phone": CUSTOMER}, "channel": "whatsapp", "text": "x", "invite": True}, 400,
         "invite_channel"),
        ({"contact": {"name": "A", "phone": CUSTOMER}, "channel": "sms"}, 400, "empty"),
        ({"contact": {"name": "A", "phone": CUSTOMER}, "channel": "sms", "template": {"name": "order_update"}}, 400,
         "template_not_whatsapp"),
        ({"contact_id": 999999, "channel": "sms", "text": "x"}, 404, "not_found"),
        ({"contact": {"name": "A", "phone": CUSTOMER}, "channel": "fax", "text": "x"}, 400, "invalid"),
    ]
    for body, status, code in cases:
        r = ada.post("/conversations", body)
        assert (r.status_code, r.get_json()["error"]["code"]) == (status, code), body
    assert ada.post("/conversations/c_nope/invite").status_code == 404
    r = ada.post("/conversations", {"contact": {"name": "A", "phone": CUSTOMER}, "channel": "sms", "text": "x"})
    assert ada.post(f"/conversations/{r.get_json()['id']}/invite").status_code == 404  # not an invitation
    # email without an SMTP server: refused before anything is made
    plain = make_channel_app(settings, engines, {}, with_channels=False)
    make_user(plain.extensions["parley"].db, "bo@example.com")
    bo = Agent(plain, "bo@example.com")
    r = bo.post("/conversations", {"contact": {"name": "A", "email": "a@example.com"}, "channel": "email", "text": "x"})
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "no_email"
    plain.extensions["parley"].db.dispose()


def test_refused_mail_withdraws_the_link(oapp: Flask, odb: Database, ada: Agent, smtp_server: SmtpServer) -> None:
    async def refuse(*_args: Any) -> str:
        return "554 5.7.1 Recipient address rejected"

    keep = smtp_server._keep
    keep.handle_DATA = refuse  # type: ignore[method-assign]
    r = ada.post("/conversations", {"contact": {"name": "Kim", "email": "kim@example.com"}, "channel": "email",
                                    "text": "Hello"})
    assert r.status_code == 502 and r.get_json()["error"]["code"] == "mail_failed"
    with odb.session() as s:
        inv = s.scalars(select(Invitation)).one()
        assert inv.sent_at is None and inv.sends == 1
        conv_id = s.scalar(select(Conversation.public_id))
    assert ada.get(f"/conversations/{conv_id}/invitation").get_json()["state"] == "prepared"
    del keep.handle_DATA  # the server takes mail again
    r = ada.post(f"/conversations/{conv_id}/invite")
    assert r.status_code == 200 and r.get_json()["state"] == "sent"
    smtp_server.wait_for(1)
    with odb.session() as s:  # the welcome message was written once
        assert s.scalars(select(Message.text)).all() == ["Hello"]


def test_customer_page_escapes_and_hides_notes(oapp: Flask, ada: Agent, smtp_server: SmtpServer) -> None:
    conv, path = _email_invite(ada, smtp_server)
    ada.post(f"/conversations/{conv['id']}/messages", {"text": "internal: VIP", "private": True})
    client = oapp.test_client()
    texts = [m["text"] for m in _session(client, path).get_json()["messages"]]
    assert "internal: VIP" not in texts
    page = client.get(path).data.decode()
    assert "Content-Security-Policy" in client.get(path).headers and "<script>x" not in page


def test_customer_on_the_widget_does_not_see_a_prepared_session(oapp: Flask, odb: Database, ada: Agent) -> None:
    customer = Customer(oapp)
    customer.say("hello")
    with odb.transaction() as s:
        s.execute(update(Conversation).values(status="closed"))
        contact_id = s.scalar(select(Conversation.contact_id))
        from models.schema.contacts import Contact

        contact = s.get(Contact, contact_id)
        assert contact is not None
        contact.email = "web@example.com"
    r = ada.post("/conversations", {"contact_id": contact_id, "channel": "email", "text": "Secret plan",
                                    "pre_plan": True})
    assert r.status_code == 201, r.get_json()
    assert "Secret plan" not in customer.replies()


def test_sms_re_engage_corrects_the_number_and_is_journeyed(oapp: Flask, odb: Database, ada: Agent,
                                                            fake_twilio: FakeTwilio) -> None:
    wrong, right = "+14155550100", "+14155550111"
    r = ada.post("/conversations", {"contact": {"name": "Kerry", "phone": wrong}, "channel": "sms",
                                    "text": "Your quote is ready.", "invite": True})
    assert r.status_code == 201
    conv = r.get_json()
    rt(oapp).worker.run_once()
    first = fake_twilio.sends()[-1]
    assert first.first("To") == wrong
    r = ada.post(f"/conversations/{conv['id']}/invite", {"email": "x@example.com"})
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "wrong_address"
    assert ada.post(f"/conversations/{conv['id']}/invite", {"phone": "nope"}).status_code == 400
    r = ada.post(f"/conversations/{conv['id']}/invite", {"phone": right})
    assert r.status_code == 200 and (r.get_json()["address"], r.get_json()["sends"]) == (right, 2)
    rt(oapp).worker.run_once()
    second = fake_twilio.sends()[-1]
    assert second.first("To") == right
    client = oapp.test_client()
    assert _session(client, link_path(first.first("Body") or "")).status_code == 404
    assert _session(client, link_path(second.first("Body") or "")).status_code == 200
    journey = ada.get(f"/contacts/{conv['contact']['id']}/journey").get_json()
    kinds = [step["kind"] for step in journey["conversations"][0]["steps"]]
    assert [k for k in kinds if k.startswith("outreach.")] == [
        "outreach.started", "outreach.invited", "outreach.reinvited", "outreach.joined"]
    assert ada.post(f"/conversations/{conv['id']}/invite", {"phone": wrong}).status_code == 409


def test_the_hosted_page_rates_an_ended_chat_once(oapp: Flask, odb: Database, ada: Agent,
                                                  smtp_server: SmtpServer) -> None:
    """The page's state says when the ended chat wants a rating; the link rates it once, with the widget's
    checks; a chat still open, or an inbox that asks nothing, is refused."""
    team_id = ada.get("/me").get_json()["teams"][0]["id"]
    with odb.transaction() as s:
        shop = Inbox(name="Shop chat", kind="webchat", team_id=team_id)
        s.add(shop)
        s.flush()
        shop_id = shop.id
    conv, path = _email_invite(ada, smtp_server, inbox_id=shop_id)
    customer = oapp.test_client()
    page = customer.get(path)  # the widget's renderer first; scripts only from here, a bot's https images too
    html, csp = page.data.decode(), page.headers["Content-Security-Policy"]
    assert html.index("/static/webchat_render.js") < html.index("/static/hosted_chat.js")
    assert csp.split("script-src ")[1].split(";")[0] == "'self'" and "img-src 'self' data: https:;" in csp
    state = _session(customer, path).get_json()
    assert state["rating_wanted"] is False
    r = customer.post(f"{path}/rating", json={"score": 5})
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "rating_off"
    with odb.transaction() as s:
        inbox = s.get(Inbox, shop_id)
        assert inbox is not None
        inbox.options = {**(inbox.options or {}), "rating": True}
    r = customer.post(f"{path}/rating", json={"score": 5})
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "not_closed"
    assert ada.post(f"/conversations/{conv['id']}/end").get_json()["status"] == "closed"
    assert customer.get(f"{path}/messages").get_json()["rating_wanted"] is True
    for bad in (0, 6, "x", 4.5, True):
        r = customer.post(f"{path}/rating", json={"score": bad})
        assert r.status_code == 400 and r.get_json()["error"]["code"] == "bad_score", bad
    assert customer.post(f"{path}/rating", json=[1]).status_code == 400
    r = customer.post(f"{path}/rating", json={"score": 4, "conversation_id": "c_not_this_links"})
    assert r.status_code == 404
    r = customer.post(f"{path}/rating", json={"score": 4, "comment": " Kind <b>help</b> ",
                                              "conversation_id": conv["id"]})
    assert r.status_code == 201 and r.get_json() == {"score": 4, "comment": "Kind <b>help</b>"}
    assert ada.get(f"/conversations/{conv['id']}/rating").get_json()["rating"]["score"] == 4
    assert customer.get(f"{path}/messages").get_json()["rating_wanted"] is False
    again = customer.post(f"{path}/rating", json={"score": 1})
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "already_rated"


def test_the_widget_script_carries_the_shared_renderer(oapp: Flask) -> None:
    """One tag for embedding sites: /widget/widget.js is the renderer the hosted page loads, then the widget."""
    client = oapp.test_client()
    r = client.get("/widget/widget.js")
    body = r.data.decode()
    assert r.status_code == 200 and r.mimetype == "text/javascript" and r.headers["Access-Control-Allow-Origin"] == "*"
    assert body.index("window.ParleyRender = {") < body.index("window.ParleyWidget = api;")
    assert client.get("/widget/widget.js", headers={"If-None-Match": r.headers["ETag"]}).status_code == 304
    page = client.get("/c/x").data.decode()  # a bad link: no script at all
    assert "webchat_render.js" not in page


def _without_url(file: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in file.items() if k != "url"}


def test_the_customer_sends_a_file_from_the_hosted_page(oapp: Flask, odb: Database, ada: Agent,
                                                       smtp_server: SmtpServer) -> None:
    """A file from the link: stored as the customer's message with its file (a link the page may open), the
    agent sees it; a refused type says why; an ended read-only session takes no file either."""
    import io

    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 100
    conv, path = _email_invite(ada, smtp_server)
    customer = oapp.test_client()
    _session(customer, path)

    def upload(data: bytes, name: str) -> Any:
        return customer.post(f"{path}/upload", data={"file": (io.BytesIO(data), name)},
                             content_type="multipart/form-data")

    r = upload(png, "receipt.png")
    assert r.status_code == 201, r.get_json()
    sent = r.get_json()
    assert (sent["sender_type"], sent["text"]) == ("contact", "[file: receipt.png]")
    assert sent["conversation_id"] == conv["id"]
    assert [f["filename"] for f in sent["files"]] == ["receipt.png"]
    assert sent["files"][0]["url"].startswith("/webchat/files/")
    assert customer.get(sent["files"][0]["url"]).data == png
    shown = customer.get(f"{path}/messages").get_json()["messages"][-1]
    assert shown["id"] == sent["id"]
    # each listing signs its links afresh (the signature carries the second it was made): same file, same bytes
    assert [_without_url(f) for f in shown["files"]] == [_without_url(f) for f in sent["files"]]
    assert customer.get(shown["files"][0]["url"]).data == png
    agent_view = ada.get(f"/conversations/{conv['id']}/messages").get_json()
    assert any(m["text"] == "[file: receipt.png]" for m in agent_view["messages"])
    bad = upload(b"<html><script>x</script></html>", "page.html")
    assert bad.status_code == 400 and "not allowed" in bad.get_json()["error"]["message"]
    assert customer.post(f"{path}/upload", data={}).status_code == 400  # no file
    assert ada.post(f"/conversations/{conv['id']}/end").get_json()["status"] == "closed"  # read-only by default
    ended = upload(png, "late.png")
    assert ended.status_code == 422 and ended.get_json()["error"]["code"] == "ended"


def test_a_file_over_the_limit_from_the_hosted_page_is_refused(settings: Settings, engines: list[Any],
                                                               channel_env: dict[str, str],
                                                               smtp_server: SmtpServer) -> None:
    """The hosted page's upload keeps the widget's size limit: a file over it is a 413 `file_too_large`
    (read and refused, or cut off by the body limit before it is read), and nothing of it is stored."""
    import io

    from models.schema.channels import Attachment

    mailing = settings.with_(smtp_url=smtp_server.url, mail_from="Support <support@example.com>")
    app = make_channel_app(mailing, engines, {**channel_env, "PARLEY_MAX_ATTACHMENT_BYTES": "1000"})
    db: Database = app.extensions["parley"].db
    try:
        make_user(db, "ada@example.com")
        _, path = _email_invite(Agent(app, "ada@example.com"), smtp_server)
        customer = app.test_client()
        _session(customer, path)

        def upload(data: bytes, name: str) -> Any:
            return customer.post(f"{path}/upload", data={"file": (io.BytesIO(data), name)},
                                 content_type="multipart/form-data")

        png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 100
        assert upload(png, "small.png").status_code == 201
        for size in (1000, 200_000):  # just over the limit; far over it (the body limit's side)
            big = upload(png + b"\x00" * size, "big.png")
            assert big.status_code == 413, size
            assert big.get_json()["error"]["code"] == "file_too_large"
        texts = [m["text"] for m in customer.get(f"{path}/messages").get_json()["messages"]]
        assert texts.count("[file: small.png]") == 1 and "[file: big.png]" not in texts
        with db.session() as s:
            assert len(list(s.scalars(select(Attachment)))) == 1
    finally:
        db.dispose()
