"""The rate limits' storage on the webchat hot path: every customer message is counted twice (per
visitor, per address). Counted here, not timed: no thread started per message with the in-process
storage, and an unreachable Redis still counts (in this process's memory) instead of failing."""

from __future__ import annotations

import threading
from typing import Any

from flask import Flask

from console.app import create_app
from console.limits import RateLimited, SweptMemoryStorage
from console.runtime.jobs import InlineJobs
from models.settings import Settings
from tests.support.actors import Customer


def _app(settings: Settings, engines: list[Any], **changes: Any) -> Flask:
    return create_app(settings.with_(**changes), engines=engines, jobs=InlineJobs(), testing=True)


def test_webchat_messages_start_no_thread(settings: Settings, engines: list[Any], monkeypatch: Any) -> None:
    app = _app(settings, engines)
    customer = Customer(app)
    customer.say("hi")
    started: list[threading.Thread] = []
    real_start = threading.Thread.start

    def counted(thread: threading.Thread) -> None:
        started.append(thread)
        real_start(thread)

    monkeypatch.setattr(threading.Thread, "start", counted)
    for n in range(5):
        assert customer.say(f"message {n}")["ok"]
    assert started == []
    app.extensions["parley"].db.dispose()


def test_expired_counts_are_dropped_and_limits_still_hold() -> None:
    storage = SweptMemoryStorage()
    storage.SWEEP_S = 0.0  # every write sweeps
    storage.incr("old", expiry=0)  # expired at once
    storage.incr("new", expiry=60)
    assert "old" not in storage.storage and storage.get("new") == 1


def test_an_unreachable_redis_counts_in_memory(settings: Settings, engines: list[Any]) -> None:
    app = _app(settings, engines, rate_limit_storage="redis://127.0.0.1:1/0", rate_limit_webchat_messages="2/minute")
    with app.test_request_context():
        limits = app.extensions["parley_limits"]
        limits.hit("webchat_msg", "2/minute", "v1")
        limits.hit("webchat_msg", "2/minute", "v1")
        try:
            limits.hit("webchat_msg", "2/minute", "v1")
        except RateLimited as exc:
            assert exc.retry_after >= 1
        else:
            raise AssertionError("the third message in a minute was not refused")
    app.extensions["parley"].db.dispose()
