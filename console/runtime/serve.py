"""`parley run`: everything in one process on embedded defaults, ready for a first-time user."""

from __future__ import annotations

import logging

import click

from console.app import build_engines, create_app
from console.extensions import socketio
from console.runtime.channels import runtime
from console.runtime.routing_work import routing_services
from console.services import Services
from models.accounts.users import do_bootstrap
from models.db import Database
from models.migrate import upgrade
from models.settings import Settings

log = logging.getLogger(__name__)


def prepare(settings: Settings) -> None:
    """Migrate and make the first admin (printed once: this is the only time the password is shown)."""
    database = Database(settings.database_url)
    try:
        upgrade(database.engine)
        with database.transaction() as s:
            first = do_bootstrap(s)
    finally:
        database.dispose()
    if first is not None:
        click.secho("\n  First start: a demo admin was created.", fg="green", bold=True)
        click.echo(f"    email:    {first.email}\n    password: {first.password}\n"
                   "  Keep it; it will not be shown again (`parley user create` makes more users).\n")


def resume_pending(svc: Services) -> None:
    """Answer customer messages that arrived before a crash or restart and were never handled."""
    pending = svc.pipeline.pending_conversation_ids()
    if pending:
        log.info("resuming the bot on %d conversation(s) left unanswered", len(pending))
    for conversation_id in pending:
        svc.process_conversation(conversation_id)


def serve(settings: Settings, *, host: str, port: int) -> None:
    prepare(settings)
    app = create_app(settings, engines=build_engines(settings))
    resume_pending(app.extensions["parley"])
    routing_services(app).runner.start()  # durable timers, presence sweep, queue drains
    runtime(app).worker.start()  # the SMS/WhatsApp outbox: sends, retries, resumes after a restart
    base = f"http://{host}:{port}"
    click.echo(f"  Console:     {base}/\n  Widget demo: {base}/widget/demo\n"
               f"  API:         {base}/api/v1/openapi.json\n")
    socketio.run(app, host=host, port=port, allow_unsafe_werkzeug=True, use_reloader=False,
                 log_output=False)
