"""The pre-chat form and the end-of-chat rating (issue 15), and the rating in the agents report (issue 16):
a webchat inbox may ask a visitor's name and email before the first message, and a 1-5 rating with an
optional comment once the chat is closed; the agent's report row counts and averages the ratings."""

from __future__ import annotations

import io
from typing import Any

from flask import Flask
from sqlalchemy import select

from console.app import create_app
from console.runtime.jobs import InlineJobs
from models.db import Database
from models.schema.accounts import Team
from models.schema.contacts import Contact
from models.schema.conversations import Conversation
from models.settings import Settings
from tests.support.actors import Agent, make_user
from tests.support.fakes.hooks import WebhookReceiver
from tests.support.inboxes import WidgetCustomer, create_widget, patch

FORM = {"name": "required", "email": "optional"}


def _support(db: Database) -> int:
    with db.session() as s:
        team_id = s.scalar(select(Team.id).where(Team.name == "Support"))
        assert team_id is not None
        return int(team_id)


def _setup(app: Flask, db: Database, **options: Any) -> tuple[Agent, Agent, int, dict[str, Any]]:
    make_user(db, "admin@example.com", role="admin", team="Support")
    sam_id = make_user(db, "sam@example.com", team="Support")
    admin, sam = Agent(app, "admin@example.com"), Agent(app, "sam@example.com")
    widget = create_widget(admin, _support(db), **options)
    return admin, sam, sam_id, widget


def _prechat(customer: WidgetCustomer, body: Any) -> dict[str, Any]:
    return dict(customer.sock.emit("prechat", body, namespace="/webchat", callback=True))


def _rate(customer: WidgetCustomer, body: Any) -> dict[str, Any]:
    return dict(customer.sock.emit("rate", body, namespace="/webchat", callback=True))


def _handled_by(agent: Agent, user_id: int, conv_id: str) -> None:
    """The agent takes the chat, answers and closes it."""
    assert agent.post(f"/conversations/{conv_id}/assign", {"user_ids": [user_id]}).status_code == 200
    assert agent.post(f"/conversations/{conv_id}/messages", {"text": "Sorted, bye!"}).status_code == 201
    assert agent.post(f"/conversations/{conv_id}/close").status_code == 200


def test_admins_turn_the_form_and_the_rating_on_and_the_widget_is_told(app: Flask, db: Database) -> None:
    admin, _sam, _sam_id, widget = _setup(app, db, prechat_form=FORM, rating=True)
    assert (widget["prechat_form"], widget["rating"]) == (FORM, True)
    config = app.test_client().get(f"/webchat/widget-config?key={widget['widget_key']}").get_json()
    assert (config["prechat_form"], config["rating"]) == (FORM, True)

    r = patch(admin, f"/inboxes/{widget['id']}", {"prechat_form": {"name": "maybe"}})
    assert r.status_code == 400 and "name" in r.get_json()["error"]["message"]
    r = patch(admin, f"/inboxes/{widget['id']}", {"rating": "yes"})
    assert r.status_code == 400
    r = patch(admin, f"/inboxes/{widget['id']}", {"prechat_form": None, "rating": False})
    assert r.status_code == 200 and (r.get_json()["prechat_form"], r.get_json()["rating"]) == (None, False)
    config = app.test_client().get(f"/webchat/widget-config?key={widget['widget_key']}").get_json()
    assert "prechat_form" not in config and "rating" not in config  # off: the widget asks nothing
    # A form with every field off is no form.
    r = patch(admin, f"/inboxes/{widget['id']}", {"prechat_form": {"name": "off", "email": "off"}})
    assert r.status_code == 200 and r.get_json()["prechat_form"] is None


def test_a_required_form_comes_before_the_first_message(app: Flask, db: Database) -> None:
    _admin, sam, _sam_id, widget = _setup(app, db, prechat_form={"name": "required", "email": "required"})
    customer = WidgetCustomer(app, widget["widget_key"])
    ack = customer.say("hello?")
    assert ack["ok"] is False and ack["error"]["code"] == "prechat_required"
    assert ack["error"]["message"] == ("Please fill in the form before you start the chat: your name and "
                                       "your email.")
    with db.session() as s:
        assert s.scalar(select(Conversation.id)) is None  # nothing was started

    bad = _prechat(customer, {"name": "Ann Lee", "email": "ann@nowhere"})
    assert bad == {"ok": False, "error": {"code": "bad_email", "message": "That is not an email address."}}
    missing = _prechat(customer, {"email": "ann@example.com"})
    assert missing["error"] == {"code": "missing_name", "message": "Please enter your name."}
    long_name = _prechat(customer, {"name": "x" * 201, "email": "ann@example.com"})
    assert long_name["error"]["code"] == "bad_name" and "200" in long_name["error"]["message"]
    assert _prechat(customer, "Ann")["error"]["code"] == "invalid"

    # nor does a file start the chat before the form
    png = io.BytesIO(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    r = app.test_client().post("/webchat/upload", data={"token": customer.token, "widget_key": widget["widget_key"],
                                                        "file": (png, "a.png")})
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "prechat_required"

    ok = _prechat(customer, {"name": "  Ann Lee ", "email": "ann@example.com"})
    assert ok == {"ok": True, "name": "Ann Lee", "email": "ann@example.com"}
    conv_id = customer.say("I want to talk to a person")["conversation_id"]
    conv = sam.get(f"/conversations/{conv_id}").get_json()
    assert conv["contact"]["name"] == "Ann Lee"
    with db.session() as s:
        contact = s.scalar(select(Contact).join(Conversation).where(Conversation.public_id == conv_id))
        assert contact is not None and contact.email == "ann@example.com"


def test_an_optional_form_does_not_block_and_without_a_form_the_event_is_refused(app: Flask, db: Database) -> None:
    _admin, _sam, _sam_id, widget = _setup(app, db, prechat_form={"name": "optional", "email": "off"})
    customer = WidgetCustomer(app, widget["widget_key"])
    assert customer.say("hi there")["ok"] is True
    refused = _prechat(customer, {"name": "Bo", "email": "bo@example.com"})
    assert refused["error"] == {"code": "invalid", "message": "This form does not ask for your email."}
    plain = WidgetCustomer(app)  # the default inbox: no form
    assert _prechat(plain, {"name": "Bo"})["error"]["code"] == "no_prechat_form"


def test_typing_another_contacts_email_claims_nothing(app: Flask, db: Database) -> None:
    _admin, _sam, _sam_id, widget = _setup(app, db, prechat_form={"name": "optional", "email": "required"})
    with db.transaction() as s:
        vip = Contact(name="Victoria VIP", email="vip@example.com")
        s.add(vip)
        s.flush()
        vip_id = vip.id
    customer = WidgetCustomer(app, widget["widget_key"])
    assert _prechat(customer, {"email": "vip@example.com"})["ok"] is True
    conv_id = customer.say("show me my orders")["conversation_id"]
    with db.session() as s:
        conv = s.scalar(select(Conversation).where(Conversation.public_id == conv_id))
        assert conv is not None and conv.contact_id != vip_id
        mine = s.get(Contact, conv.contact_id)
        assert mine is not None and mine.email == "vip@example.com" and mine.name.startswith("Visitor ")
        vip_row = s.get(Contact, vip_id)
        assert vip_row is not None and (vip_row.name, vip_row.email) == ("Victoria VIP", "vip@example.com")


def test_a_closed_chat_is_rated_once_from_1_to_5(app: Flask, db: Database) -> None:
    _admin, sam, sam_id, widget = _setup(app, db, rating=True)
    customer = WidgetCustomer(app, widget["widget_key"])
    conv_id = customer.say("I want to talk to a person")["conversation_id"]
    early = _rate(customer, {"conversation_id": conv_id, "score": 5})
    assert early["error"] == {"code": "not_closed", "message": "You can rate the chat once it has ended."}

    _handled_by(sam, sam_id, conv_id)
    assert customer.events("ended") == [{"conversation_id": conv_id, "rating": True}]
    for score in (0, 6, "x", "4", 4.5, True, None):
        bad = _rate(customer, {"conversation_id": conv_id, "score": score})
        assert bad["error"] == {"code": "bad_score", "message": "The rating is a whole number from 1 to 5."}, score
    too_long = _rate(customer, {"conversation_id": conv_id, "score": 4, "comment": "y" * 1001})
    assert too_long["error"]["code"] == "bad_comment" and "1000" in too_long["error"]["message"]
    stranger = WidgetCustomer(app, widget["widget_key"])
    assert _rate(stranger, {"conversation_id": conv_id, "score": 1})["error"]["code"] == "not_found"
    assert sam.get(f"/conversations/{conv_id}/rating").get_json() == {"rating": None}

    ok = _rate(customer, {"conversation_id": conv_id, "score": 4, "comment": " Quick <b>help</b> "})
    assert ok == {"ok": True, "score": 4, "comment": "Quick <b>help</b>"}
    again = _rate(customer, {"conversation_id": conv_id, "score": 1})
    assert again["error"] == {"code": "already_rated", "message": "You have already rated this chat. Thank you!"}
    rating = sam.get(f"/conversations/{conv_id}/rating").get_json()["rating"]
    assert (rating["score"], rating["comment"], rating["agent_id"]) == (4, "Quick <b>help</b>", sam_id)
    assert rating["created_at"]
    make_user(db, "sally@example.com", team="Sales")
    assert Agent(app, "sally@example.com").get(f"/conversations/{conv_id}/rating").status_code == 404


def test_an_inbox_without_rating_says_so_and_refuses_one(app: Flask, db: Database) -> None:
    _admin, sam, sam_id, widget = _setup(app, db)
    customer = WidgetCustomer(app, widget["widget_key"])
    conv_id = customer.say("I want to talk to a person")["conversation_id"]
    _handled_by(sam, sam_id, conv_id)
    assert customer.events("ended") == [{"conversation_id": conv_id, "rating": False}]
    assert _rate(customer, {"conversation_id": conv_id, "score": 5})["error"]["code"] == "rating_off"


def test_ratings_count_in_the_agents_report(app: Flask, db: Database) -> None:
    _admin, sam, sam_id, widget = _setup(app, db, rating=True)
    ada_id = make_user(db, "ada@example.com", team="Support")
    ada = Agent(app, "ada@example.com")
    make_user(db, "idle@example.com", team="Support")
    for agent, agent_id, score in ((sam, sam_id, 4), (sam, sam_id, 5), (ada, ada_id, 2), (sam, sam_id, None)):
        customer = WidgetCustomer(app, widget["widget_key"])
        conv_id = customer.say("I want to talk to a person")["conversation_id"]
        _handled_by(agent, agent_id, conv_id)
        if score is not None:
            assert _rate(customer, {"conversation_id": conv_id, "score": score})["ok"] is True
    admin = Agent(app, "admin@example.com")
    report = admin.get("/reports/agents").get_json()
    rows = {r["label"]: r for r in report["rows"]}
    assert (rows["Sam"]["ratings"], rows["Sam"]["rating_avg"]) == (2, 4.5)
    assert (rows["Ada"]["ratings"], rows["Ada"]["rating_avg"]) == (1, 2.0)
    assert (rows["Idle"]["ratings"], rows["Idle"]["rating_avg"]) == (0, None)
    assert report["totals"]["ratings"] == 3
    assert "assigned when they closed" in report["definitions"]["ratings"]
    mine = sam.get("/reports/agents").get_json()["rows"]  # an agent sees their own row
    assert [(r["ratings"], r["rating_avg"]) for r in mine] == [(2, 4.5)]
    by_team = admin.get("/reports/agents?group_by=team").get_json()["rows"]
    assert [(r["ratings"], r["rating_avg"]) for r in by_team] == [(3, 3.67)]


def test_a_rating_goes_out_as_the_conversation_rated_webhook(settings: Settings, engines: list[Any]) -> None:
    app = create_app(settings.with_(outbound_allow="127.0.0.1", webhook_backoff=0.0), engines=engines,
                     jobs=InlineJobs(), testing=True)
    try:
        db: Database = app.extensions["parley"].db
        admin, sam, sam_id, widget = _setup(app, db, rating=True)
        receiver = WebhookReceiver()
        with receiver:
            r = admin.post("/webhook_subscriptions", {"url": receiver.url + "/hook", "events": ["conversation.rated"]})
            assert r.status_code == 201, r.get_json()
            receiver.secret = r.get_json()["secret"]
            customer = WidgetCustomer(app, widget["widget_key"])
            conv_id = customer.say("I want to talk to a person")["conversation_id"]
            _handled_by(sam, sam_id, conv_id)
            assert _rate(customer, {"conversation_id": conv_id, "score": 3, "comment": "ok <3"})["ok"] is True
            assert receiver.events() == ["conversation.rated"]
            body = next(iter(receiver.stored.values()))
            assert body["data"]["conversation"]["id"] == conv_id
            rating = body["data"]["rating"]
            assert (rating["score"], rating["comment"], rating["agent_id"]) == (3, "ok <3", sam_id)
    finally:
        app.extensions["parley"].db.dispose()


def test_a_chat_the_system_completes_is_rated_too_and_credited_to_its_assignee(app: Flask, db: Database) -> None:
    """The routing timers close with no actor (models/routing/timer_handlers.py): the same `ended` follows."""
    from models.conversations.status import do_close

    _admin, sam, sam_id, widget = _setup(app, db, rating=True)
    customer = WidgetCustomer(app, widget["widget_key"])
    conv_id = customer.say("I want to talk to a person")["conversation_id"]
    assert sam.post(f"/conversations/{conv_id}/assign", {"user_ids": [sam_id]}).status_code == 200
    with db.transaction() as s:
        conv = s.scalar(select(Conversation).where(Conversation.public_id == conv_id))
        assert conv is not None
        do_close(s, None, conv)
    assert customer.events("ended") == [{"conversation_id": conv_id, "rating": True}]
    assert _rate(customer, {"conversation_id": conv_id, "score": 2})["ok"] is True
    assert sam.get(f"/conversations/{conv_id}/rating").get_json()["rating"]["agent_id"] == sam_id


def test_the_table_itself_refuses_a_score_outside_1_to_5_and_a_second_rating(app: Flask, db: Database) -> None:
    import pytest
    from sqlalchemy.exc import IntegrityError

    from models.schema.feedback import ConversationRating

    _admin, _sam, _sam_id, widget = _setup(app, db)
    conv_id = WidgetCustomer(app, widget["widget_key"]).say("hello")["conversation_id"]
    with db.session() as s:
        conv_pk = s.scalar(select(Conversation.id).where(Conversation.public_id == conv_id))
    for bad in (ConversationRating(conversation_id=conv_pk, score=6),
                ConversationRating(conversation_id=conv_pk, score=3, comment="z" * 1001)):
        with pytest.raises(IntegrityError), db.transaction() as s:
            s.add(bad)
            s.flush()
    with db.transaction() as s:
        s.add(ConversationRating(conversation_id=conv_pk, score=5))
    with pytest.raises(IntegrityError), db.transaction() as s:
        s.add(ConversationRating(conversation_id=conv_pk, score=1))
        s.flush()
