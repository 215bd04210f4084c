"""Production roles with real processes: a customer message that is committed is answered exactly
once whatever happens to the process holding it (`kill -9`, SIGTERM), and `parley web` under
gunicorn serves a webchat customer whose answer comes from a separate `parley worker`."""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import socketio as sio
from sqlalchemy import select

from models.contacts.identities import do_find_or_create_contact
from models.conversations.ingest import do_ingest_inbound
from models.db import Database
from models.schema.conversations import Conversation, Message, SenderType
from models.settings import Settings
from tests.support.fakes.openai_server import FakeOpenAI
from tests.support.roles import ROOT, Role, start_web, start_worker

REDIS_URL = os.environ.get("REDIS_URL")
LEASE_S = 3


@pytest.fixture
def fake_llm() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server  # type: ignore[misc]


@pytest.fixture
def env(settings: Settings, fake_llm: FakeOpenAI) -> dict[str, str]:
    """The LLM stage against a local fake: no model to train, and a turn the test can make hang."""
    settings.instance_dir.mkdir(parents=True, exist_ok=True)
    return {"PARLEY_INSTANCE": str(settings.instance_dir), "PARLEY_SECRET_KEY": "test-secret",
            "PARLEY_DATA": str(ROOT / "data"), "REDIS_URL": "",
            "DATABASE_URL": os.environ.get("DATABASE_URL") or settings.database_url,
            "PARLEY_BOT_ENGINES": "llm", "PARLEY_LLM_MODEL": "openai:fake-gpt",
            "PARLEY_LLM_BASE_URL": fake_llm.base_url, "PARLEY_LLM_API_KEY": "sk-test",
            "PARLEY_LLM_MAX_RETRIES": "0", "PARLEY_LLM_TIMEOUT": "60", "PARLEY_LLM_TURN_TIMEOUT": "90",
            "PARLEY_BOT_LEASE_SECONDS": str(LEASE_S), "PARLEY_SHUTDOWN_GRACE_SECONDS": "1"}


@pytest.fixture
def roles() -> Iterator[list[Role]]:
    started: list[Role] = []
    yield started
    for role in started:
        role.stop()


def _customer_says(settings: Settings, text: str) -> tuple[int, int]:
    """Commit a customer message as a web process would, and wake nobody (that process 'died')."""
    db = Database(settings.database_url)
    try:
        with db.transaction() as s:
            contact = do_find_or_create_contact(s, "webchat", f"v_{uuid.uuid4().hex[:8]}", "Visitor")
            got = do_ingest_inbound(s, contact=contact, channel="webchat", text=text)
            return got.conversation.id, got.message.id
    finally:
        db.dispose()


def _bot_messages(settings: Settings, conversation_id: int) -> list[str]:
    db = Database(settings.database_url)
    try:
        with db.session() as s:
            return list(s.scalars(select(Message.text).where(Message.conversation_id == conversation_id,
                                                             Message.sender_type == SenderType.BOT.value)))
    finally:
        db.dispose()


def _cursor(settings: Settings, conversation_id: int) -> int:
    db = Database(settings.database_url)
    try:
        with db.session() as s:
            return int(s.scalar(select(Conversation.bot_cursor).where(Conversation.id == conversation_id)) or 0)
    finally:
        db.dispose()


def _wait(pred: object, timeout: float, what: str, *logs: Role) -> None:
    deadline = time.monotonic() + timeout
    while not pred():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}\n" + "\n".join(
                f"--- {r.name} ---\n{r.log()[-2500:]}" for r in logs))
        time.sleep(0.1)


def _a_worker_is_mid_turn(env: dict[str, str], settings: Settings, fake_llm: FakeOpenAI, tmp_path: Path,
                          roles: list[Role]) -> tuple[Role, Role, int, int]:
    """Worker 1 claims a customer's message and hangs in the LLM call; worker 2 is up beside it."""
    fake_llm.hang_next(120)
    first = start_worker(env, tmp_path / "worker1.log", concurrency=1)
    roles.append(first)
    conv, msg = _customer_says(settings, "where is my order")
    _wait(lambda: len(fake_llm.chat_requests()) >= 1, 30, "worker 1 to start the turn", first)
    second = start_worker(env, tmp_path / "worker2.log", concurrency=1)
    roles.append(second)
    time.sleep(LEASE_S * 1.5)  # past one lease: worker 1 renews its claim, so worker 2 keeps off
    assert _bot_messages(settings, conv) == []
    assert len(fake_llm.chat_requests()) == 1
    return first, second, conv, msg


def test_a_worker_killed_mid_turn_is_replaced_and_the_customer_answered_once(
        env: dict[str, str], settings: Settings, fake_llm: FakeOpenAI, tmp_path: Path, roles: list[Role]) -> None:
    first, second, conv, msg = _a_worker_is_mid_turn(env, settings, fake_llm, tmp_path, roles)
    first.signal(signal.SIGKILL)
    first.proc.wait(10)
    killed_at = time.monotonic()
    _wait(lambda: _bot_messages(settings, conv), 30, "worker 2 to answer", second)
    print(f"answered {time.monotonic() - killed_at:.1f} s after the kill (lease {LEASE_S} s)")
    time.sleep(2)  # worker 2 sweeps again meanwhile: nothing is answered twice
    assert len(_bot_messages(settings, conv)) == 1
    assert _cursor(settings, conv) == msg
    assert second.stop() == 0, second.log()


def test_sigterm_gives_a_held_turn_back_and_another_worker_answers_it(
        env: dict[str, str], settings: Settings, fake_llm: FakeOpenAI, tmp_path: Path, roles: list[Role]) -> None:
    first, second, conv, msg = _a_worker_is_mid_turn(env, settings, fake_llm, tmp_path, roles)
    assert first.stop() == 0, first.log()  # SIGTERM: stops claiming, the turn outlives the grace: given back
    assert "gave back 1 conversation(s)" in first.log()
    _wait(lambda: _bot_messages(settings, conv), 30, "worker 2 to answer", second)
    time.sleep(2)
    assert len(_bot_messages(settings, conv)) == 1
    assert _cursor(settings, conv) == msg
    assert second.stop() == 0, second.log()


def test_a_message_committed_by_a_process_that_died_before_waking_anyone_is_answered(
        env: dict[str, str], settings: Settings, fake_llm: FakeOpenAI, tmp_path: Path, roles: list[Role]) -> None:
    worker = start_worker(env, tmp_path / "worker.log")
    roles.append(worker)
    conv, msg = _customer_says(settings, "where is my order")  # no wake-up: only the sweep can find it
    _wait(lambda: _bot_messages(settings, conv), 30, "the worker's sweep to answer", worker)
    assert _cursor(settings, conv) == msg


@pytest.mark.skipif(not REDIS_URL, reason="needs REDIS_URL: the worker's answer reaches the web process via Redis")
def test_parley_web_under_gunicorn_with_a_separate_worker_answers_a_webchat_customer(
        env: dict[str, str], tmp_path: Path, roles: list[Role]) -> None:
    env = {**env, "REDIS_URL": REDIS_URL or "", "PARLEY_SOCKETIO_CHANNEL": f"parley-test-{uuid.uuid4().hex}"}
    roles.append(start_worker(env, tmp_path / "worker.log"))
    web = start_web(env, tmp_path / "web.log")
    roles.append(web)
    assert web.url is not None
    ready = requests.get(f"{web.url}/readyz", timeout=10)
    assert ready.status_code == 200, ready.text
    assert ready.headers["Server"].startswith("gunicorn")
    assert set(ready.json()["checks"]) >= {"database", "redis", "storage"}

    replies: list[dict[str, object]] = []
    customer = sio.Client()
    customer.on("message", lambda data: replies.append(data), namespace="/webchat")
    customer.connect(web.url, namespaces=["/webchat"], transports=["polling", "websocket"])
    try:
        ack = customer.call("message", {"text": "where is my order"}, namespace="/webchat", timeout=10)
        assert ack["ok"] is True
        _wait(lambda: any(r.get("sender_type") == "bot" for r in replies), 30, "the bot's answer", *roles)
    finally:
        customer.disconnect()
    assert web.stop() == 0, web.log()
