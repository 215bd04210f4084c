"""The outbox: stored before sent, resumed after a restart, never sent twice, safe with several workers."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select, update

from connectors.delivery import DeliveryWorker
from models.db import Database
from models.outbox.claims import claim_due
from models.schema.base import utcnow
from models.schema.channels import OutboxItem
from models.schema.conversations import Message
from models.settings import Settings
from tests.support.actors import Agent, make_user
from tests.support.channels import CUSTOMER, make_channel_app, rt, sms, twilio_post
from tests.support.fakes import FakeTwilio


class DroppedJobs:
    """A process that dies before its background work runs: submissions vanish."""

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        return None

    def shutdown(self, wait: bool = True) -> None:
        return None


def _states(db: Database) -> list[tuple[str, int]]:
    with db.session() as s:
        return [(i.state, i.attempts) for i in s.scalars(select(OutboxItem).order_by(OutboxItem.id))]


def _human_sms_conversation(app: Flask, db: Database) -> tuple[Agent, str]:
    make_user(db, "ada@example.com")
    ada = Agent(app, "ada@example.com")
    twilio_post(app.test_client(), sms("SM" + "0a" * 16, "a person please"))
    convs = [c for view in ("team", "bot") for c in ada.get(f"/conversations?view={view}").get_json()["conversations"]]
    return ada, convs[0]["id"]


def test_a_message_stored_before_a_crash_is_sent_once_after_the_restart(
        settings: Settings, engines: list[Any], channel_env: dict[str, str], fake_twilio: FakeTwilio) -> None:
    dying = make_channel_app(settings, engines, channel_env, jobs=DroppedJobs())
    db = dying.extensions["parley"].db
    ada, conv_id = _human_sms_conversation(dying, db)
    assert ada.post(f"/conversations/{conv_id}/messages", {"text": "stored, then the process died"}).status_code == 201
    assert fake_twilio.sends() == []  # nothing went out: the bot never ran either
    assert _states(db) == [("pending", 0)]
    db.dispose()

    restarted = make_channel_app(settings, engines, channel_env, with_channels=False)
    rt(restarted).worker.run_once()
    rt(restarted).worker.run_once()
    assert [r.first("Body") for r in fake_twilio.sends()] == ["stored, then the process died"]
    assert _states(restarted.extensions["parley"].db) == [("sent", 1)]
    restarted.extensions["parley"].db.dispose()


def _claim_and_die(db: Database) -> None:
    """A worker claims the row and dies; its lease runs out."""
    with db.transaction() as s:
        _token, ids = claim_due(s, limit=10, lease_s=60)
        assert ids
    with db.transaction() as s:
        s.execute(update(OutboxItem).values(lease_until=utcnow() - timedelta(seconds=1),
                                            attempt_started_at=utcnow() - timedelta(seconds=5)))


def _no_jobs(app: Flask) -> None:
    worker = rt(app).worker
    worker._submit = DroppedJobs().submit


def test_crash_after_the_claim_before_the_provider_call_sends_it_once(capp: Flask, cdb: Database,
                                                                      fake_twilio: FakeTwilio) -> None:
    ada, conv_id = _human_sms_conversation(capp, cdb)
    _no_jobs(capp)
    ada.post(f"/conversations/{conv_id}/messages", {"text": "claimed, never sent"})
    _claim_and_die(cdb)
    before = len(fake_twilio.sends())
    rt(capp).worker.run_once()  # lease expired → unconfirmed → Twilio has no such message → sent again
    rt(capp).worker.run_once()
    assert [r.first("Body") for r in fake_twilio.sends()[before:]] == ["claimed, never sent"]
    assert _states(cdb)[-1][0] == "sent"


def test_crash_after_the_provider_took_it_never_sends_it_twice(capp: Flask, cdb: Database,
                                                               fake_twilio: FakeTwilio) -> None:
    ada, conv_id = _human_sms_conversation(capp, cdb)
    _no_jobs(capp)
    msg_id = ada.post(f"/conversations/{conv_id}/messages", {"text": "sent, then the process died"}).get_json()["id"]
    _claim_and_die(cdb)
    # the dead worker had reached Twilio: Twilio has the message, we never recorded its SID
    from connectors.base import OutboundMessage
    from connectors.twilio import TwilioSender
    sender = TwilioSender(account_sid=fake_twilio.account_sid, auth_token=fake_twilio.auth_token,
                          number="+15550001111", api_base=fake_twilio.url)
    sid = sender.send("sms", OutboundMessage(to=CUSTOMER, text="sent, then the process died"))
    before = len(fake_twilio.sends())
    rt(capp).worker.run_once()
    rt(capp).worker.run_once()
    assert len(fake_twilio.sends()) == before  # reconciled, not resent
    with cdb.session() as s:
        msg = s.get(Message, msg_id)
        assert msg is not None and msg.provider_message_id == sid and msg.delivery_status == "sent"


def test_a_read_timeout_is_reconciled_not_resent(capp: Flask, cdb: Database, fake_twilio: FakeTwilio,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    ada, conv_id = _human_sms_conversation(capp, cdb)
    before = len(fake_twilio.sends())
    fake_twilio.hang_next(2.0, then_succeed=True)  # Twilio takes it, its answer comes after our 1 s timeout
    msg_id = ada.post(f"/conversations/{conv_id}/messages", {"text": "slow network"}).get_json()["id"]
    rt(capp).worker.run_once()
    assert "unconfirmed: Twilio did not answer in time" in caplog.text
    assert len(fake_twilio.sends()) == before + 1  # looked up in Twilio's message list, not sent again
    with cdb.session() as s:
        msg = s.get(Message, msg_id)
        assert msg is not None and msg.delivery_status == "sent"
        assert msg.provider_message_id == fake_twilio.messages[-1]["sid"]


def test_a_conversation_s_messages_leave_in_order(capp: Flask, cdb: Database, fake_twilio: FakeTwilio) -> None:
    ada, conv_id = _human_sms_conversation(capp, cdb)
    before = len(fake_twilio.sends())
    fake_twilio.fail_next(500)
    for text in ("one", "two", "three"):
        ada.post(f"/conversations/{conv_id}/messages", {"text": text})
    rt(capp).worker.run_once()
    # "one" failed; "two" and "three" waited behind its retry
    assert [r.first("Body") for r in fake_twilio.sends()[before:]] == ["one", "one", "two", "three"]


def test_several_workers_never_send_one_message_twice(capp: Flask, cdb: Database, fake_twilio: FakeTwilio) -> None:
    ada, _conv = _human_sms_conversation(capp, cdb)
    _no_jobs(capp)
    # 12 customers, one queued reply each (different conversations: no ordering wait between them)
    for i in range(12):
        twilio_post(capp.test_client(), sms(f"SM{i:032d}", "a person please", From=f"+1415555{i:04d}"))
    before = len(fake_twilio.sends())
    convs = ada.get("/conversations?view=team").get_json()["conversations"]
    for c in convs:
        ada.post(f"/conversations/{c['id']}/messages", {"text": f"reply to {c['id']}"})
    queued = sum(1 for state, _ in _states(cdb) if state == "pending")
    base = rt(capp)
    workers = [DeliveryWorker(cdb, base.settings, base.store, base.links, DroppedJobs().submit) for _ in range(4)]
    barrier = threading.Barrier(len(workers))

    def work(w: DeliveryWorker) -> None:
        barrier.wait()
        for _ in range(5):
            w.run_once()

    threads = [threading.Thread(target=work, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    bodies = [r.first("Body") for r in fake_twilio.sends()[before:]]
    assert len(bodies) == queued  # every queued message exactly once (bot replies included)
    replies = [b for b in bodies if b and b.startswith("reply to ")]
    assert len(replies) == len(convs) == len(set(replies))
    assert {s for s, _ in _states(cdb)} == {"sent"}


def test_parley_worker_sends_from_a_separate_process(settings: Settings, engines: list[Any],
                                                     channel_env: dict[str, str], fake_twilio: FakeTwilio) -> None:
    """`parley worker`: what an app process stored (and never sent: it died), another process sends."""
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    app = make_channel_app(settings, engines, channel_env, jobs=DroppedJobs())
    db = app.extensions["parley"].db
    ada, conv_id = _human_sms_conversation(app, db)
    ada.post(f"/conversations/{conv_id}/messages", {"text": "from the worker process"})
    db.dispose()
    env = {**os.environ, **channel_env, "PARLEY_INSTANCE": str(settings.instance_dir),
           "DATABASE_URL": os.environ.get("DATABASE_URL") or settings.database_url, "PARLEY_SECRET_KEY": "test-secret",
           "REDIS_URL": ""}
    settings.instance_dir.mkdir(parents=True, exist_ok=True)
    log = settings.instance_dir / "worker.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "console.cli", "worker"], cwd=Path(__file__).parent.parent,
                                env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(r.first("Body") == "from the worker process"
                                                      for r in fake_twilio.sends()):
            assert proc.poll() is None, log.read_text()
            time.sleep(0.1)
        bodies = [r.first("Body") for r in fake_twilio.sends()]
        assert bodies.count("from the worker process") == 1, log.read_text()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(20)
    assert proc.returncode == 0, log.read_text()
