"""Live updates: presence, and the bot answering from real background threads."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from console.app import create_app
from console.runtime.jobs import ThreadJobs
from models.db import Database
from models.settings import Settings
from tests.support.actors import Agent, Customer, event_payload, make_user
from tests.support.engines import RuleEngine


def test_customer_presence_is_shown_to_agents(app: Flask, db: Database) -> None:
    make_user(db, "ada@example.com")
    ada = Agent(app, "ada@example.com")
    customer = Customer(app)
    conv_id = customer.say("a human please")["conversation_id"]
    assert ada.get(f"/conversations/{conv_id}").get_json()["contact"]["online"] is True
    ada.socket.get_received("/console")
    customer.sock.disconnect(namespace="/webchat")
    presence = [event_payload(p) for p in ada.socket.get_received("/console") if p["name"] == "presence"]
    assert presence and presence[-1]["online"] is False
    assert ada.get(f"/conversations/{conv_id}").get_json()["contact"]["online"] is False


@pytest.fixture
def threaded_app(settings: Settings) -> Iterator[tuple[Flask, ThreadJobs]]:
    jobs = ThreadJobs()
    app = create_app(settings, engines=[RuleEngine()], jobs=jobs, testing=True)
    yield app, jobs
    jobs.shutdown()
    app.extensions["parley"].db.dispose()


def _wait(pred: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_bot_answers_from_a_background_thread_in_order(threaded_app: tuple[Flask, ThreadJobs]) -> None:
    app, _jobs = threaded_app
    customer = Customer(app)
    for text in ("hi", "where is my order", "hello again"):
        assert customer.say(text)["ok"] is True
    _wait(lambda: len(customer.replies("bot")) == 3)
    assert customer.replies("bot") == ["Hello! How can I help?", "Your order ships in 3-5 days.",
                                       "Hello! How can I help?"]
