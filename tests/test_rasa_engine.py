"""The `rasa` engine against a real Rasa 3.6 server: conversations, handoffs, pause/resume, failures.

The model is the tiny fixture (tests/fixtures/rasa_tiny) trained once per test process; see
tests/rasa_support.py for why, and for the skip (locally) / failure (CI) when Rasa is missing.
"""

from __future__ import annotations

import http.server
import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask

from bot.pipeline import BOT_ERROR_REPLY
from bot.rasa import store
from bot.rasa.config import RasaSettings
from bot.rasa.engine import RasaEngine
from bot.rasa.server import ExternalRasa, SupervisedRasa, free_port
from bot.types import Decision, HandoffReason, TurnContext
from console.cli import main as parley
from models.db import Database
from models.settings import Settings
from tests.support.actors import Agent, Customer, make_user
from tests.support.rasa import SLOW, shared_model, shared_server

pytestmark = SLOW


@pytest.fixture
def engines(settings: Settings) -> list[Any]:
    return [RasaEngine(settings, shared_server())]


def _tracker(conv_id: str) -> dict[str, Any]:
    return shared_server().client().tracker(conv_id, include_events="NONE")


def test_training_keeps_a_versioned_active_model() -> None:
    model = shared_model()
    settings = model.settings
    assert store.active_version(settings) == model.version
    meta = store.load_meta(settings, model.version)
    assert meta.kind == "full" and meta.n_examples == 24
    assert meta.intents == ("greet", "human_handoff", "order_status", "out_of_scope")
    assert meta.fallback_threshold == 0.4 and meta.rasa_version == "3.6.21"
    assert store.model_path(settings, model.version).is_file()
    # beside the embedded models: <models_dir>/rasa/<version>/
    assert store.model_path(settings, model.version).parent.parent == settings.models_dir / "rasa"
    assert store.history(settings)[0]["version"] == model.version


def test_a_conversation_through_rasa_with_handoff_pause_and_return(app: Flask, db: Database) -> None:
    make_user(db, "ada@example.com")
    ada = Agent(app, "ada@example.com")
    customer = Customer(app)

    conv_id = customer.say("hello")["conversation_id"]
    assert customer.replies("bot")[-1] in ("Hello from the tiny shop!", "Hi again from the tiny shop!")
    messages = ada.get(f"/conversations/{conv_id}/messages").get_json()["messages"]
    assert messages[-1]["bot"]["intent"] == "greet" and messages[-1]["bot"]["decision"] == "answer"
    assert _tracker(conv_id)["paused"] is False

    customer.say("I want to talk to a person")
    assert customer.replies("bot")[-1] == "Passing you to a person."
    conv = ada.get(f"/conversations/{conv_id}").get_json()
    assert conv["owner"] == "human"
    assert conv["handoff"]["reason"] == "customer_asked" and conv["handoff"]["intent"] == "human_handoff"
    assert conv["handoff"]["ranking"][0]["name"] == "human_handoff"
    # Rasa's tracker is paused while a person owns the conversation ...
    assert _tracker(conv_id)["paused"] is True

    n_bot = len(customer.replies("bot"))
    customer.say("where is my order")  # ... and the bot stays silent
    assert len(customer.replies("bot")) == n_bot

    # ... until an agent gives it back: resumed, and Rasa answers the next message.
    assert ada.post(f"/conversations/{conv_id}/return-to-bot").status_code == 200
    assert _tracker(conv_id)["paused"] is False
    customer.say("where is my order")
    assert customer.replies("bot")[-1] == "Track your order under My account."


def test_out_of_scope_and_rephrase_map_to_parley_reasons(settings: Settings) -> None:
    engine = RasaEngine(settings, shared_server())
    conv = f"t-{time.monotonic_ns()}"
    turn = engine.turn("tell me a joke", TurnContext(conversation_id=conv))
    assert turn.decision is Decision.HANDOFF and turn.reason is HandoffReason.OUT_OF_SCOPE
    assert turn.replies == ("I only know about the tiny shop.", "Passing you to a person.")
    assert turn.engine == "rasa" and turn.model_version == shared_model().version
    assert "outside what the bot answers" in turn.summary


def test_a_paused_tracker_is_resumed_rather_than_leaving_the_customer_alone(settings: Settings) -> None:
    """The resume was lost (Rasa was down when the agent gave the conversation back)."""
    engine = RasaEngine(settings, shared_server())
    conv = f"t-{time.monotonic_ns()}"
    engine.pause(conv)
    turn = engine.turn("where is my order", TurnContext(conversation_id=conv))
    assert turn.decision is Decision.ANSWER and turn.replies == ("Track your order under My account.",)
    assert _tracker(conv)["paused"] is False


def test_cli_parse_and_evaluate_with_the_embedded_shapes(tmp_path: Path) -> None:
    model = shared_model()
    server = shared_server()  # advertised in <instance>/rasa/server.json: the CLI uses it
    assert server.status()["state"] == "ready"
    runner = CliRunner()
    env = {"PARLEY_INSTANCE": str(model.settings.instance_dir), "PARLEY_DATA": str(model.data_dir),
           "PARLEY_SECRET_KEY": "x"}
    rasa = runner.invoke(parley, ["bot", "parse", "--engine", "rasa", "agent please"], env=env)
    assert rasa.exit_code == 0, rasa.output
    parsed = json.loads(rasa.stdout)
    embedded = json.loads(runner.invoke(parley, ["bot", "parse", "agent please"],
                                        env={**env, "PARLEY_INSTANCE": str(tmp_path)}).stdout)
    assert set(parsed) == set(embedded)
    assert parsed["engine"] == "rasa" and parsed["decision"] == "handoff" and parsed["reason"] == "customer_asked"

    args = ["bot", "evaluate", "--data", str(model.data_dir / "nlu.yml"), "--json"]
    rasa = runner.invoke(parley, [*args, "--engine", "rasa"], env=env)
    assert rasa.exit_code == 0, rasa.output
    report = json.loads(rasa.stdout)
    embedded = json.loads(runner.invoke(parley, args, env={**env, "PARLEY_INSTANCE": str(tmp_path)}).stdout)
    assert set(report) == set(embedded)
    assert set(report["model"]) >= set(embedded["model"])
    assert report["model"]["version"] == model.version and report["n_examples"] == 24
    assert report["intent_accuracy"] >= 0.9  # its own training data
    assert report["handoff_recall"] >= 0.8


# --- failures: no Rasa needed --------------------------------------------------------------------


def _rasa_at(settings: Settings, url: str, timeout: str = "1") -> RasaEngine:
    rasa = RasaSettings.from_settings(settings.with_(extra={"PARLEY_RASA_URL": url, "PARLEY_RASA_TIMEOUT": timeout}))
    return RasaEngine(settings, ExternalRasa(rasa))


@pytest.fixture
def down_app(settings: Settings) -> Iterator[Flask]:
    from console.app import create_app
    from console.runtime.jobs import InlineJobs

    app = create_app(settings, engines=[_rasa_at(settings, f"http://127.0.0.1:{free_port()}")], jobs=InlineJobs(),
                     testing=True)
    yield app
    app.extensions["parley"].db.dispose()


def test_rasa_down_hands_off_with_bot_error(down_app: Flask) -> None:
    db = down_app.extensions["parley"].db
    make_user(db, "ada@example.com")
    customer = Customer(down_app)
    conv_id = customer.say("hello")["conversation_id"]
    assert customer.replies("bot") == [BOT_ERROR_REPLY]
    conv = Agent(down_app, "ada@example.com").get(f"/conversations/{conv_id}").get_json()
    assert conv["owner"] == "human" and conv["handoff"]["reason"] == "bot_error"
    assert conv["unreplied"] == 1  # the customer's message waits for a person, it is not lost


class _Slow(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        time.sleep(2.0)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"[]")

    def log_message(self, *args: Any) -> None:
        return


def test_slow_rasa_counts_as_down(settings: Settings) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Slow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        engine = _rasa_at(settings, f"http://127.0.0.1:{server.server_address[1]}", timeout="0.3")
        from bot.pipeline import BotPipeline

        pipeline = BotPipeline(Database(settings.database_url), [engine])
        started = time.monotonic()
        turn = pipeline.run_engines("hello", TurnContext(conversation_id="c_slow"))
        assert time.monotonic() - started < 1.5
        assert turn.reason is HandoffReason.BOT_ERROR and turn.replies == (BOT_ERROR_REPLY,)
        pipeline.db.dispose()
    finally:
        server.shutdown()


# --- supervision (last: it restarts the shared server) --------------------------------------------


def test_the_supervisor_restarts_a_crashed_server() -> None:
    server: SupervisedRasa = shared_server()
    before = server.status()
    assert before["state"] == "ready" and before["pid"]
    os.kill(before["pid"], signal.SIGKILL)
    deadline = time.monotonic() + 30
    while server.status()["pid"] == before["pid"] and time.monotonic() < deadline:
        time.sleep(0.2)
    assert server.status()["state"] in ("restarting", "starting", "ready")
    assert server.wait_ready(600)
    after = server.status()
    assert after["state"] == "ready" and after["restarts"] == before["restarts"] + 1
    assert after["pid"] != before["pid"] and after["model_version"] == shared_model().version
    # and it answers again
    assert server.client().parse("hello")["intent"]["name"] == "greet"
