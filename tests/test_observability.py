"""What operators see: `GET /metrics` (what it counts, who may read it), request ids, JSON logs."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from bot.llm.config import LlmConfig
from bot.llm.setup import build_llm_engine
from bot.types import Decision, TurnContext
from console.app import create_app
from console.runtime.jobs import InlineJobs
from models.db import Database
from models.settings import Settings
from models.telemetry import logs
from tests.support.actors import Agent, Customer, make_user
from tests.support.channels import rt, sms, twilio_post
from tests.support.fakes import FakeTwilio
from tests.support.fakes.openai_server import FakeOpenAI

ROOT = Path(__file__).resolve().parents[1]
PUBLIC = "203.0.113.7"  # TEST-NET-3: a public address as far as the rule is concerned


def _samples(app: Flask, **kwargs: Any) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    r = app.test_client().get("/metrics", **kwargs)
    assert r.status_code == 200, r.data
    assert r.content_type.startswith("text/plain; version=0.0.4")
    out = {}
    for family in text_string_to_metric_families(r.get_data(as_text=True)):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def _value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_count_a_webchat_message_a_bot_reply_and_a_handoff(app: Flask) -> None:
    before = _samples(app)
    customer = Customer(app)
    during = _samples(app)
    assert _value(during, "parley_open_sockets", namespace="/webchat") == \
        _value(before, "parley_open_sockets", namespace="/webchat") + 1
    customer.say("hi")
    customer.say("I want a person")
    after = _samples(app)

    def grew(name: str, **labels: str) -> float:
        return _value(after, name, **labels) - _value(before, name, **labels)

    assert grew("parley_messages_total", direction="in", channel="webchat", sender="contact") == 2
    assert grew("parley_messages_total", direction="out", channel="webchat", sender="bot") == 2
    assert grew("parley_handoffs_total", reason="customer_asked") == 1
    assert grew("parley_bot_turn_seconds_count", engine="rules") == 2
    # read from the database at the scrape: the conversation now waits in its team's queue
    waiting = {dict(labels)["team"]: v for (name, labels), v in after.items() if name == "parley_queue_length"}
    assert sum(waiting.values()) == 1
    assert _value(after, "parley_database_up") == 1
    assert _value(after, "parley_bot_turns_pending") == 0  # every message answered
    customer.sock.disconnect(namespace="/webchat")
    assert _value(_samples(app), "parley_open_sockets", namespace="/webchat") == \
        _value(before, "parley_open_sockets", namespace="/webchat")


def test_metrics_without_a_token_answer_loopback_and_private_addresses_only(app: Flask) -> None:
    client = app.test_client()
    for address in ("127.0.0.1", "10.1.2.3", "192.168.0.9", "::1"):
        assert client.get("/metrics", environ_base={"REMOTE_ADDR": address}).status_code == 200, address
    r = client.get("/metrics", environ_base={"REMOTE_ADDR": PUBLIC})
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "forbidden"
    # behind a proxy on a private address, the client it forwards for counts
    r = client.get("/metrics", environ_base={"REMOTE_ADDR": "10.0.0.2"}, headers={"X-Forwarded-For": PUBLIC})
    assert r.status_code == 403
    assert client.get("/metrics", headers={"X-Forwarded-For": "nonsense"}).status_code == 403


def test_metrics_count_sms_sends_retries_and_refusals(capp: Flask, cdb: Database, fake_twilio: FakeTwilio) -> None:
    make_user(cdb, "ada@example.com")
    ada = Agent(capp, "ada@example.com")
    twilio_post(capp.test_client(), sms("SM" + "0b" * 16, "a person please"))
    [conv] = ada.get("/conversations?view=team").get_json()["conversations"]
    before = _samples(capp)
    fake_twilio.fail_next(500)  # Twilio is down once: retried (backoff 0 here), then sent
    ada.post(f"/conversations/{conv['id']}/messages", {"text": "one"})
    rt(capp).worker.run_once()
    fake_twilio.fail_next(400)  # refused: given up, the agent sees it failed
    ada.post(f"/conversations/{conv['id']}/messages", {"text": "two"})
    rt(capp).worker.run_once()
    after = _samples(capp)

    def grew(name: str, **labels: str) -> float:
        return _value(after, name, **labels) - _value(before, name, **labels)

    assert grew("parley_outbox_attempts_total", channel="sms", outcome="retry") == 1
    assert grew("parley_outbox_attempts_total", channel="sms", outcome="sent") == 1
    assert grew("parley_outbox_attempts_total", channel="sms", outcome="refused") == 1
    assert grew("parley_outbox_failures_total", channel="sms") == 1
    assert _value(after, "parley_outbox_failed", channel="sms") == 1  # read from the outbox itself
    assert _value(after, "parley_outbox_backlog", channel="sms", state="pending") == 0
    assert grew("parley_messages_total", direction="out", channel="sms", sender="agent") == 2


def test_metrics_count_the_tokens_the_llm_provider_reports(settings: Settings) -> None:
    labels = {"model": "openai:fake-gpt", "purpose": "bot"}

    def tokens(kind: str) -> float:
        return REGISTRY.get_sample_value("parley_llm_tokens_total", {**labels, "kind": kind}) or 0.0

    before = tokens("input"), tokens("output")
    db = Database(settings.database_url)
    try:
        with FakeOpenAI() as server:
            config = LlmConfig(model="openai:fake-gpt", base_url=server.base_url, api_key="sk-test", max_retries=0)
            engine = build_llm_engine(settings, config, db=db)
            assert engine is not None
            turn = engine.turn("How much does shipping cost?", TurnContext(conversation_id="c_x"))
    finally:
        db.dispose()
    assert turn.decision is Decision.ANSWER
    assert tokens("output") - before[1] == 50  # what the fake provider reported for its two answers
    assert tokens("input") > before[0]


class StalledJobs:
    """Background work that never runs: a bot worker that has fallen behind."""

    def submit(self, fn: Any, *args: Any) -> None:
        return None

    def shutdown(self, wait: bool = True) -> None:
        return None


def test_metrics_show_bot_turns_waiting_for_a_worker(settings: Settings, engines: list[Any]) -> None:
    app = create_app(settings, engines=engines, jobs=StalledJobs(), testing=True)
    try:
        assert _value(_samples(app), "parley_bot_turns_pending") == 0
        customer = Customer(app)
        customer.say("hi")
        customer.say("anyone there?")
        samples = _samples(app)
        assert _value(samples, "parley_bot_turns_pending") == 1  # one conversation owed an answer
        assert _value(samples, "parley_bot_turns_oldest_age_seconds") >= 0
        assert customer.replies("bot") == []
    finally:
        app.extensions["parley"].db.dispose()


@pytest.fixture()
def token_app(settings: Settings, engines: list[Any]) -> Iterator[Flask]:
    app = create_app(settings.with_(metrics_token="scrape-me-123"), engines=engines, jobs=InlineJobs(), testing=True)
    yield app
    app.extensions["parley"].db.dispose()


def test_metrics_with_a_token_require_it_from_everywhere(token_app: Flask) -> None:
    client = token_app.test_client()
    r = client.get("/metrics")  # even from loopback
    assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Bearer")
    assert r.get_json()["error"]["code"] == "unauthorized"
    for bad in ("Bearer wrong", "Basic c2NyYXBlLW1lLTEyMw==", "Bearer", "scrape-me-123", "Bearer scrape-me-1234"):
        assert client.get("/metrics", headers={"Authorization": bad}).status_code == 401, bad
    r = client.get("/metrics", headers={"Authorization": "Bearer scrape-me-123"}, environ_base={"REMOTE_ADDR": PUBLIC})
    assert r.status_code == 200 and b"parley_messages_total" in r.data


@pytest.fixture()
def json_logs() -> Iterator[Any]:
    """Logging as `PARLEY_LOG_FORMAT=json` sets it up; yields a reader of the lines written since last read."""
    root = logging.getLogger()
    level = root.level
    stream = io.StringIO()
    logs.configure("json", "INFO", stream=stream)

    def lines() -> list[dict[str, Any]]:
        text = stream.getvalue()
        stream.seek(0)
        stream.truncate()
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    yield lines
    for handler in [h for h in root.handlers if getattr(h, "parley", False)]:
        root.removeHandler(handler)
    root.setLevel(level)


def test_json_log_lines_carry_the_request_id_and_the_conversation(app: Flask, db: Database, json_logs: Any) -> None:
    make_user(db, "ada@example.com")
    ada = Agent(app, "ada@example.com")
    customer = Customer(app)
    conv_id = customer.say("I want a person")["conversation_id"]
    json_logs()  # everything so far parsed as JSON
    r = ada.client.get(f"/api/v1/conversations/{conv_id}?secret=1", headers={"X-Request-ID": "req-abc-123"})
    assert r.status_code == 200 and r.headers["X-Request-ID"] == "req-abc-123"
    access = [line for line in json_logs() if line["logger"] == "parley.access"]
    assert len(access) == 1
    assert access[0]["request_id"] == "req-abc-123" and access[0]["conversation"] == conv_id
    assert access[0]["method"] == "GET" and access[0]["status"] == 200
    assert access[0]["path"] == f"/api/v1/conversations/{conv_id}"  # no query string: it may hold secrets
    assert isinstance(access[0]["duration_ms"], float) and access[0]["level"] == "INFO"

    # an id that is not an id is replaced by a fresh one, and every request gets one
    r = ada.client.get("/api/v1/counters", headers={"X-Request-ID": "x" * 300 + " <script>"})
    given = r.headers["X-Request-ID"]
    assert given and given != "x" * 300
    [line] = [line for line in json_logs() if line["logger"] == "parley.access"]
    assert line["request_id"] == given and line["conversation"] is None


def test_bot_turn_and_socket_logs_carry_the_conversation(app: Flask, json_logs: Any) -> None:
    customer = Customer(app)
    conv_id = customer.say("hi")["conversation_id"]
    customer.say("please explode")  # the test engine fails: the pipeline logs it, inside the turn
    lines = json_logs()
    received = [line for line in lines if line["message"].startswith("webchat message")]
    assert len(received) == 2 and {line["conversation"] for line in received} == {conv_id}
    [failure] = [line for line in lines if line["message"] == "bot engine rules failed"]
    assert failure["conversation"] == conv_id and failure["level"] == "ERROR"
    assert "engine broke" in failure["exception"]


def test_sms_webhook_logs_carry_the_conversation(capp: Flask, cdb: Database, json_logs: Any) -> None:
    make_user(cdb, "ada@example.com")
    ada = Agent(capp, "ada@example.com")
    json_logs()
    r = twilio_post(capp.test_client(), sms("SM" + "0c" * 16, "hello"))
    assert r.status_code == 200
    [conv] = ada.get("/conversations?view=bot").get_json()["conversations"]
    lines = json_logs()
    [received] = [line for line in lines if line["message"].startswith("sms message")]
    [access] = [line for line in lines if line["logger"] == "parley.access" and line["path"] == "/webhooks/twilio"]
    assert received["conversation"] == conv["id"] and received["request_id"] == r.headers["X-Request-ID"]
    assert access["request_id"] == r.headers["X-Request-ID"] and access["status"] == 200


def test_text_logs_are_the_default_and_name_the_ids() -> None:
    stream = io.StringIO()
    logs.configure("text", "INFO", stream=stream)
    try:
        with logs.conversation("c_demo"):
            logging.getLogger("parley.test").info("hello")
        err = stream.getvalue()
    finally:
        for handler in [h for h in logging.getLogger().handlers if getattr(h, "parley", False)]:
            logging.getLogger().removeHandler(handler)
    assert "INFO parley.test: hello [conversation=c_demo]" in err
    with pytest.raises(json.JSONDecodeError):
        json.loads(err.splitlines()[-1])


_COUNT = (
    "from models.telemetry.metrics import HANDOFFS, SOCKETS\n"
    "HANDOFFS.labels('customer_asked').inc()\nSOCKETS.labels('/console').inc()\n"
)
_SCRAPE = "import sys\nfrom models.telemetry.metrics import scrape\nsys.stdout.write(scrape().decode())\n"


def test_metrics_add_up_across_processes_in_multiprocess_mode(tmp_path: Path) -> None:
    """As under gunicorn: each worker process writes its samples, any one of them answers the scrape."""
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    for _ in range(2):
        subprocess.run([sys.executable, "-c", _COUNT], cwd=ROOT, env=env, check=True, timeout=60)
    text = subprocess.run([sys.executable, "-c", _SCRAPE], cwd=ROOT, env=env, check=True, timeout=60,
                          capture_output=True, text=True).stdout
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for f in text_string_to_metric_families(text) for s in f.samples}
    assert samples[("parley_handoffs_total", (("reason", "customer_asked"),))] == 2
