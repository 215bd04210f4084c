"""Rasa's rich responses and metadata: buttons become quick replies (widget chips, WhatsApp interactive
buttons, a numbered SMS list), images go along, an answer maps back to the button's payload, every turn
carries the metadata, and `PARLEY_RASA_ACTION_ENDPOINT` reaches the supervised server's endpoints.yml.

Most tests use a scripted stand-in that answers like the Rasa engine does (`BotTurn.rich`) and test the
mapping from Rasa's tracker on its JSON; the last one runs the real Rasa server (slow, shared per process).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from bot.metadata import answered_payload
from bot.rasa.config import RasaSettings
from bot.rasa.engine import RasaEngine, RasaOutcome, RasaReply, outcome_from_tracker, rasa_verdict, reply_from_event
from bot.rasa.server import SupervisedRasa
from bot.types import BotTurn, Decision, IntentScore, TurnContext
from connectors.base import OutboundMessage
from connectors.whatsapp_cloud import GraphClient
from console.app import create_app
from console.runtime.jobs import InlineJobs
from models.conversations.rich import Button, Rich, choice_payload, numbered, rich_from_json
from models.db import Database
from models.schema.conversations import Message
from models.settings import Settings
from tests.support.actors import Agent, Customer, make_user
from tests.support.browser import WIDGET, _wait, _widget_messages, _widget_say, needs_browser
from tests.support.channels import CUSTOMER, sms, twilio_post, wa_payload, wa_post, wa_text
from tests.support.fakes import FakeGraph, FakeTwilio
from tests.support.live import start_server
from tests.support.rasa import SLOW, shared_server

IMAGE = "https://shop.example.com/parcel.png"
CHOICES = (Button("Track my order", "/order_status"), Button("Talk to a person", "/human_handoff"))


class MenuEngine:
    """Answers "menu" with two buttons and an image; records what it was given (text and metadata)."""

    name = "menu"

    def __init__(self) -> None:
        self.seen: list[tuple[str, dict[str, Any]]] = []

    def turn(self, text: str, context: TurnContext) -> BotTurn:
        self.seen.append((text, dict(context.metadata)))
        if text == "menu":
            return BotTurn(Decision.ANSWER, ("Here is what I can do:",), "menu", 0.9, (IntentScore("menu", 0.9),),
                           engine=self.name, rich=(Rich(CHOICES, IMAGE),))
        return BotTurn(Decision.ANSWER, (f"You chose {text}",), "chosen", 0.9, engine=self.name)


@pytest.fixture
def engines() -> list[Any]:
    return [MenuEngine()]


def _engine(app: Flask) -> MenuEngine:
    engine = app.extensions["parley"].pipeline.engines[0]
    assert isinstance(engine, MenuEngine)
    return engine


# --- Rasa's JSON → replies -------------------------------------------------------------------------


def test_a_rasa_bot_event_keeps_its_buttons_and_image() -> None:
    event = {"event": "bot", "text": "Pick one", "metadata": {"utter_action": "utter_menu"},
             "data": {"buttons": [{"title": "Track my order", "payload": "/order_status"},
                                  {"title": "  Talk   to a person ", "payload": "/human_handoff"},
                                  {"title": "No payload"}, {"payload": "/no_title"}, "junk"],
                      "image": IMAGE, "custom": {"x": 1}}}
    reply = reply_from_event(event)
    assert reply is not None and reply.text == "Pick one" and reply.response == "utter_menu"
    assert reply.rich.buttons == (CHOICES[0], Button("Talk to a person", "/human_handoff"),
                                  Button("No payload", "No payload"))
    assert reply.rich.image == IMAGE
    # an image alone is a reply; a script URL is not an image; nothing visible is no reply
    only_image = reply_from_event({"event": "bot", "data": {"image": IMAGE}})
    assert only_image is not None and only_image.text == "" and only_image.rich == Rich(image=IMAGE)
    scripted = reply_from_event({"event": "bot", "text": "x", "data": {"image": "javascript:alert(1)"}})
    assert scripted is not None and scripted.rich == Rich()
    assert reply_from_event({"event": "bot", "text": "", "data": {"custom": {"a": 1}}}) is None


def test_the_tracker_outcome_and_the_engine_turn_carry_rich_replies() -> None:
    tracker = {"events": [
        {"event": "user", "text": "where is my order", "parse_data": {
            "intent": {"name": "order_status", "confidence": 0.93},
            "intent_ranking": [{"name": "order_status", "confidence": 0.93}]}},
        {"event": "action", "name": "utter_order_status"},
        {"event": "bot", "text": "Track it here.", "metadata": {"utter_action": "utter_order_status"},
         "data": {"buttons": [{"title": "Talk to a person", "payload": "/human_handoff"}], "image": IMAGE}},
        {"event": "bot", "data": {"image": IMAGE}},
    ]}
    outcome = outcome_from_tracker(tracker, "where is my order")
    assert [r.text for r in outcome.replies] == ["Track it here.", ""]
    assert outcome.replies[0].rich == Rich((Button("Talk to a person", "/human_handoff"),), IMAGE)
    engine = RasaEngine(Settings.from_env(env={"PARLEY_SECRET_KEY": "x"}, load_dotenv=False), server=None)  # type: ignore[arg-type]
    from bot.policy import Thresholds

    t = Thresholds(fallback=0.4, handoff=0.2, fallback_attempts=1)
    answer = engine._reply_items(outcome, rasa_verdict(outcome, 0, t), {})
    assert answer[0].rich.buttons and answer[0].rich.image == IMAGE
    # handing off: a person takes over, so buttons that would talk to the bot are dropped (images stay)
    handoff = RasaOutcome("x", "out_of_scope", (IntentScore("out_of_scope", 0.9),), ("utter_out_of_scope",),
                          (RasaReply("Only shop questions.", "utter_out_of_scope", Rich(CHOICES, IMAGE)),))
    kept = engine._reply_items(handoff, rasa_verdict(handoff, 0, t), {"utter_handoff": ("A person is coming.",)})
    assert [r.text for r in kept] == ["Only shop questions.", "A person is coming."]
    assert kept[0].rich == Rich(image=IMAGE) and kept[1].rich == Rich()


def test_an_answer_names_a_button_by_number_or_title() -> None:
    assert choice_payload("2", CHOICES) == "/human_handoff"
    assert choice_payload("  track MY   order ", CHOICES) == "/order_status"
    assert choice_payload("3", CHOICES) is None and choice_payload("0", CHOICES) is None
    assert choice_payload("something else", CHOICES) is None
    stored = Rich(CHOICES).to_json()
    assert rich_from_json(stored) == Rich(CHOICES) and rich_from_json("junk") == Rich()
    # the bot's last turn (system notices in between do not end it); an earlier turn does not count
    assert answered_payload("1", [("system", None), ("bot", None), ("bot", stored)]) == "/order_status"
    assert answered_payload("1", [("bot", None), ("contact", None), ("bot", stored)]) is None


# --- channel rendering -----------------------------------------------------------------------------


def _graph() -> GraphClient:
    return GraphClient(token="t", phone_number_id="123")


def test_whatsapp_renders_buttons_a_list_or_numbered_text() -> None:
    few = OutboundMessage(to="+14155550123", text="Pick one", media_urls=(IMAGE,), media_types=("image/png",),
                          buttons=CHOICES)
    body = _graph().body_for(few)
    assert body["type"] == "interactive"
    assert body["interactive"] == {
        "type": "button", "body": {"text": "Pick one"},
        "header": {"type": "image", "image": {"link": IMAGE}},
        "action": {"buttons": [{"type": "reply", "reply": {"id": "/order_status", "title": "Track my order"}},
                               {"type": "reply", "reply": {"id": "/human_handoff", "title": "Talk to a person"}}]}}
    # four buttons (or a title over 20 characters): a list, up to 10 rows of 24 characters
    four = tuple(Button(f"Option {i}", f"/opt{i}") for i in range(1, 5))
    listed = _graph().body_for(OutboundMessage(to="+1", text="Pick", buttons=four))["interactive"]
    assert listed["type"] == "list" and listed["action"]["button"] == "Choose"
    assert [r["title"] for r in listed["action"]["sections"][0]["rows"]] == [b.title for b in four]
    long_title = (Button("Twenty-two characters!", "/x"),)
    assert _graph().body_for(OutboundMessage(to="+1", text="Pick", buttons=long_title))["interactive"]["type"] == "list"
    # beyond a list: numbered text, as on SMS
    many = tuple(Button(f"Option {i}", f"/opt{i}") for i in range(1, 12))
    text = _graph().body_for(OutboundMessage(to="+1", text="Pick", buttons=many))
    assert text["type"] == "text" and text["text"]["body"].startswith("Pick\n\n1. Option 1\n2. Option 2")
    # an empty text still gets a body (the Cloud API requires one)
    empty = _graph().body_for(OutboundMessage(to="+1", text="", buttons=CHOICES))
    assert empty["interactive"]["body"]["text"] == "Choose one:"


def test_sms_renders_buttons_as_a_numbered_list() -> None:
    assert numbered("Pick one", CHOICES) == "Pick one\n\n1. Track my order\n2. Talk to a person\n\nReply with a number."
    assert numbered("Pick one", ()) == "Pick one"


# --- the widget --------------------------------------------------------------------------------------


def test_quick_replies_reach_the_widget_and_a_chip_sends_the_payload(app: Flask, db: Database) -> None:
    customer = Customer(app)
    conv_id = customer.say("menu")["conversation_id"]
    (reply,) = [m for m in customer.events("message") if m["sender_type"] == "bot"]
    assert reply["text"] == "Here is what I can do:"
    assert reply["rich"] == {"buttons": [{"title": "Track my order", "payload": "/order_status"},
                                         {"title": "Talk to a person", "payload": "/human_handoff"}],
                             "image": IMAGE}
    # the metadata the bot got with the turn: channel, conversation, contact (no address, nobody else)
    text, metadata = _engine(app).seen[-1]
    assert text == "menu"
    assert metadata["channel"] == "webchat" and metadata["conversation_id"] == conv_id
    assert set(metadata["contact"]) == {"id", "name"} and metadata["contact"]["name"].startswith("Visitor ")

    # a chip sends its title; the bot is given the payload; the visitor's message reads as the title
    customer.say("Track my order")
    assert _engine(app).seen[-1][0] == "/order_status"
    assert customer.replies("bot")[-1] == "You chose /order_status"
    # after the visitor answered, the buttons no longer apply: "1" is just text
    customer.say("1")
    assert _engine(app).seen[-1][0] == "1"

    # history (a reload) brings the buttons back; the console shows them on the bot message
    again = Customer(app, customer.token)
    history = again.first("history")["messages"]
    assert history[1]["rich"]["buttons"][1]["title"] == "Talk to a person"
    assert "rich" not in history[0] and history[2]["text"] == "Track my order"
    make_user(db, "ada@example.com", role="supervisor")
    messages = Agent(app, "ada@example.com").get(f"/conversations/{conv_id}/messages").get_json()["messages"]
    bot = [m for m in messages if m["sender_type"] == "bot"]
    assert bot[0]["rich"]["image"] == IMAGE and bot[1]["rich"] is None


def test_a_number_picks_a_button_too(app: Flask) -> None:
    customer = Customer(app)
    customer.say("menu")
    customer.say("2")
    assert _engine(app).seen[-1][0] == "/human_handoff"


# --- WhatsApp and SMS through the local provider fakes -----------------------------------------------


def test_rasa_buttons_reach_whatsapp_as_interactive_buttons(capp: Flask, cdb: Database,
                                                            fake_graph: FakeGraph) -> None:
    client = capp.test_client()
    assert wa_post(client, wa_payload(wa_text("wamid.M1", "menu"))).status_code == 200
    (sent,) = fake_graph.sent
    assert sent["type"] == "interactive" and sent["to"] == CUSTOMER.lstrip("+")
    assert sent["interactive"]["type"] == "button"
    assert sent["interactive"]["body"] == {"text": "Here is what I can do:"}
    assert sent["interactive"]["header"] == {"type": "image", "image": {"link": IMAGE}}
    assert [b["reply"]["title"] for b in sent["interactive"]["action"]["buttons"]] == [
        "Track my order", "Talk to a person"]
    assert _engine(capp).seen[-1][1]["channel"] == "whatsapp"
    # the customer taps a button: the reply's title is stored, the bot gets the payload
    tap = {"from": CUSTOMER.lstrip("+"), "id": "wamid.M2", "timestamp": "1700000001", "type": "interactive",
           "interactive": {"type": "button_reply", "button_reply": {"id": "/human_handoff",
                                                                    "title": "Talk to a person"}}}
    assert wa_post(client, wa_payload({"messages": [tap]})).status_code == 200
    assert _engine(capp).seen[-1][0] == "/human_handoff"
    with cdb.session() as s:
        texts = [m.text for m in s.scalars(select(Message).order_by(Message.id))]
    assert texts[:3] == ["menu", "Here is what I can do:", "Talk to a person"]


def test_rasa_buttons_reach_sms_as_a_numbered_list(capp: Flask, fake_twilio: FakeTwilio) -> None:
    client = capp.test_client()
    assert twilio_post(client, sms("SM" + "1" * 32, "menu")).status_code == 200
    (sent,) = fake_twilio.sends()
    assert sent.first("Body") == ("Here is what I can do:\n\n1. Track my order\n2. Talk to a person\n\n"
                                  "Reply with a number.")
    assert sent.first("MediaUrl") == IMAGE
    assert twilio_post(client, sms("SM" + "2" * 32, "1")).status_code == 200
    assert _engine(capp).seen[-1][0] == "/order_status"


# --- the action server ------------------------------------------------------------------------------


def test_the_action_endpoint_goes_into_the_generated_endpoints_file(settings: Settings, tmp_path: Path) -> None:
    url = "http://127.0.0.1:5055/webhook"
    server = SupervisedRasa(settings.with_(extra={"PARLEY_RASA_ACTION_ENDPOINT": url}), RasaSettings())
    server._dir.mkdir(parents=True, exist_ok=True)  # start() makes it before writing
    server._write_config_files()
    written = json.loads((server._dir / "endpoints.yml").read_text())
    assert written["action_endpoint"] == {"url": url}
    assert "tracker_store" in written
    plain = SupervisedRasa(settings, RasaSettings())
    plain._dir.mkdir(parents=True, exist_ok=True)
    plain._write_config_files()
    assert "action_endpoint" not in json.loads((plain._dir / "endpoints.yml").read_text())
    assert RasaSettings.from_settings(settings.with_(extra={"PARLEY_RASA_ACTION_ENDPOINT": url})).action_endpoint == url
    with pytest.raises(ValueError):
        Settings.from_env(env={"PARLEY_SECRET_KEY": "x", "PARLEY_RASA_ACTION_ENDPOINT": "not a url"},
                          load_dotenv=False)


# --- the real Rasa server -----------------------------------------------------------------------------


@SLOW
def test_real_rasa_buttons_reach_the_widget_with_the_turns_metadata(settings: Settings) -> None:
    """The fixture's `utter_order_status` has two buttons and an image (tests/fixtures/rasa_tiny)."""
    server = shared_server()
    app = create_app(settings, engines=[RasaEngine(settings, server)], jobs=InlineJobs(), testing=True)
    try:
        customer = Customer(app)
        conv_id = customer.say("where is my order")["conversation_id"]
        reply = [m for m in customer.events("message") if m["sender_type"] == "bot"][-1]
        assert reply["text"] == "Track your order under My account."
        assert reply["rich"] == {"buttons": [{"title": "Talk to a person", "payload": "/human_handoff"},
                                             {"title": "Say hello", "payload": "/greet"}],
                                 "image": "https://shop.example.com/parcel.png"}
        user = _last_user_event(server, conv_id)
        assert user["metadata"]["channel"] == "webchat" and user["metadata"]["conversation_id"] == conv_id
        assert user["metadata"]["contact"]["name"].startswith("Visitor ")
        # the visitor taps "Say hello": Rasa gets the payload and answers the greeting
        customer.say("Say hello")
        assert _last_user_event(server, conv_id)["text"] == "/greet"
        assert customer.replies("bot")[-1] in ("Hello from the tiny shop!", "Hi again from the tiny shop!")
    finally:
        app.extensions["parley"].db.dispose()


def _last_user_event(server: Any, conv_id: str) -> dict[str, Any]:
    events = server.client().tracker(conv_id, include_events="ALL")["events"]
    return dict([e for e in events if e.get("event") == "user"][-1])


@SLOW
@needs_browser
def test_real_rasa_quick_replies_in_the_widget_in_a_browser(tmp_path: Path, browsers: Callable[[], Any]) -> None:
    """A real `parley run` on the shared test Rasa server (PARLEY_RASA_URL): the chips show under the bot's
    message with its image, a click sends the title, Rasa answers the payload, and the chips go."""
    rasa = shared_server().client()
    env = {"PARLEY_INSTANCE": str(tmp_path / "instance"), "DATABASE_URL": f"sqlite:///{tmp_path / 'parley.db'}",
           "REDIS_URL": "", "PARLEY_SECRET_KEY": "browser-test", "PARLEY_BOT_ENGINES": "rasa",
           "PARLEY_RASA_URL": rasa.url, "PARLEY_RASA_TOKEN": rasa.token or ""}
    live = start_server(env, tmp_path / "server.log")
    try:
        customer = browsers()
        customer.get(live.url + "/widget/demo")
        _wait(customer, lambda: customer.execute_script(WIDGET))
        customer.execute_script("window.ParleyWidget.root.querySelector('[data-testid=parley-launcher]').click()")
        _widget_say(customer, "where is my order")
        chips = "return Array.from(window.ParleyWidget.root.querySelectorAll('[data-testid=parley-quick-reply]'))"
        _wait(customer, lambda: customer.execute_script(chips + ".length"), timeout=30)
        assert customer.execute_script(chips + ".map(c => c.textContent)") == ["Talk to a person", "Say hello"]
        image = customer.execute_script(
            "return window.ParleyWidget.root.querySelector('[data-testid=parley-image]').getAttribute('src')")
        assert image == "https://shop.example.com/parcel.png"
        customer.execute_script(chips + "[1].click()")
        _wait(customer, lambda: len(_widget_messages(customer, "bot")) == 2, timeout=30)
        assert _widget_messages(customer, "contact")[-1].startswith("Say hello")
        assert "tiny shop" in _widget_messages(customer, "bot")[-1]
        assert customer.execute_script(chips + ".length") == 0
    finally:
        live.stop()
