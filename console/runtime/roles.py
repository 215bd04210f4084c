"""The two roles a Parley process can play, and `parley run`, which plays both.

- web (`parley web`, `console.wsgi:app`): HTTP and Socket.IO. A customer message it commits is handed to
  the workers (a Redis wake-up; their sweep finds it anyway), so the threads that serve browsers never
  wait behind a bot or LLM turn — except that with engines answering in process in milliseconds (the
  embedded engine, `PARLEY_WEB_ANSWERS`, on by default) the message's own transaction answers it, with
  the model loaded here (console/sockets.py, docs/architecture.md).
- worker (`parley worker`): bot turns, outbox deliveries, outgoing webhooks, durable timers and sweeps. What it changes
  reaches browsers through the Socket.IO message queue (Redis), from the same realtime listener the
  web processes use.

Several web and worker processes on several hosts share nothing but the database, Redis and file
storage: every piece of background work is claimed in the database under a lease, so any process may
die at any moment and another takes its work over.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from flask import Flask

from console.runtime.bot_turns import BotTurns, BotWake
from console.runtime.channels import runtime
from console.runtime.routing_work import routing_services
from console.runtime.webhooks_out import webhook_worker
from console.services import Services

log = logging.getLogger(__name__)


def _services(app: Flask) -> Services:
    svc: Services = app.extensions["parley"]
    return svc


def bot_wake(app: Flask) -> BotWake | None:
    settings = _services(app).settings
    if not settings.redis_url:
        return None
    return BotWake(settings.redis_url, f"{settings.socketio_channel}-bot")


def make_web(app: Flask) -> Flask:
    """HTTP and sockets: customer messages go to the workers, or are answered in their own transaction
    (`PARLEY_WEB_ANSWERS` with in-process engines: the model is loaded now, on a thread of its own)."""
    svc = _services(app)
    svc.web_answers = svc.settings.web_answers
    if svc.answers_in_web:
        svc.pipeline.prepare_soon()
    wake = bot_wake(app)
    if wake is None:
        log.warning("web role without REDIS_URL: workers find new customer messages by their sweep "
                    "(about a second), and browsers on other processes hear nothing live")
        _services(app).wake_bot = lambda _conversation_id: None
    else:
        _services(app).wake_bot = wake.publish
    return app


@dataclass
class Background:
    """The worker role's loops inside one process; `stop` is the graceful half of SIGTERM."""

    app: Flask
    bot: BotTurns
    wake: BotWake | None
    _stop: threading.Event

    def start(self) -> None:
        self.bot.start()
        if self.wake is not None:
            self.wake.listen(self.bot.notify, self._stop)
        routing_services(self.app).runner.start()  # durable timers, presence sweep, queue drains
        runtime(self.app).worker.start()  # the SMS/WhatsApp outbox: sends, retries, resumes after a restart
        webhook_worker(self.app).start()  # outgoing webhooks: durable deliveries, retried with back-off
        found = self.bot.sweep()  # what a dead process left: answered now, not at the next poll
        if found:
            log.info("bot: %d conversation(s) with unanswered customer messages taken up", found)

    def stop_claiming(self) -> None:
        """First thing on SIGTERM: take no new bot turns (those under way go on)."""
        self._stop.set()
        self.bot.pipeline.stop()

    def stop_soon(self, grace_s: float) -> threading.Thread:
        """SIGTERM inside gunicorn: stop claiming now and wind down in a thread, while gunicorn drains
        HTTP in parallel (its master kills the worker after its graceful timeout)."""
        self.stop_claiming()
        thread = threading.Thread(target=self.stop, args=(grace_s,), name="parley-shutdown", daemon=True)
        thread.start()
        return thread

    def stop(self, grace_s: float = 20.0) -> list[int]:
        """Finish or give back what is held, then stop the loops. Returns conversations given back."""
        self.stop_claiming()
        released = self.bot.stop(grace_s)
        routing_services(self.app).runner.stop()
        runtime(self.app).worker.stop()
        webhook_worker(self.app).stop()
        log.info("background work stopped (%d bot claim(s) given back)", len(released))
        return released


def make_worker(app: Flask, *, concurrency: int, in_process: bool) -> Background:
    """Bot turns on `concurrency` threads of their own, plus deliveries and timers. `in_process`
    (`parley run`): messages this process commits wake its own bot threads at once."""
    svc = _services(app)
    bot = BotTurns(svc.pipeline, concurrency=concurrency)
    wake = bot_wake(app)
    if in_process:
        svc.wake_bot = bot.notify
        svc.resume_bot = bot.resume  # a message's transaction takes the bot's claim (console/services.py)
        wake = None  # nobody else publishes to a `parley run`
    return Background(app, bot, wake, threading.Event())
