"""The application factory: one Flask app with the console, the REST API and both socket namespaces."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from bot.pipeline import BotPipeline
from bot.types import Engine
from connectors.webchat import VisitorTokens
from console import account_pages, auth, health, hosted, limits, observability, pages, payments, webhooks, widget_inbox
from console.api import (
    assist,
    bot,
    conversation_admin,
    conversations,
    discussions,
    exports,
    files,
    integrations,
    internal_chat,
    knowledge,
    me,
    openapi,
    outreach,
    reports,
    routing,
    supervisor,
    teams,
    users,
    workspace,
)
from console.api import channels as channels_api
from console.api import contacts as contacts_api
from console.api import inboxes as inboxes_api
from console.api import invoices as invoices_api
from console.api import ratings as ratings_api
from console.api import widget_sdk as widget_sdk_api
from console.api.declare import IdConverter
from console.csp import CSP
from console.errors import install_error_handlers
from console.extensions import heard_here, socketio
from console.realtime.listener import RealtimeListener
from console.realtime.revocation import SocketRevocations
from console.realtime.rooms import CONSOLE
from console.runtime import channels, routing_work, webhooks_out
from console.runtime.jobs import Jobs, ThreadJobs
from console.services import Services
from console.widget_i18n import bp as widget_i18n_bp
from models.db import Database
from models.production import check_production_defaults
from models.settings import Settings
from models.telemetry.listener import MetricsListener

log = logging.getLogger(__name__)

# Conversation summaries pushed to a team's consoles at most every 0.1 s, counters every 0.2 s (a change
# after a quiet spell at once): a burst of 100 handoffs to 20 agents sent ~12,000 such frames, and the
# agents' notifications waited behind them (issue 17, bench/routing.py). Tests (inline jobs): at once.
PUSH_PACE_S = 0.1


def build_engines(settings: Settings, db: Database | None = None) -> list[Engine]:
    """The configured engines, answering with the model the database names (bot/model_sync.py)."""
    from bot.engines import build_engines as build
    from bot.model_sync import ModelFollower

    return build(settings, ModelFollower(settings, db or Database(settings.database_url)))


def create_app(settings: Settings | None = None, *, engines: Sequence[Engine] | None = None,
               jobs: Jobs | None = None, testing: bool = False) -> Flask:
    settings = settings or Settings.from_env()
    check_production_defaults(settings)  # PostgreSQL with PARLEY_WIDGET_ORIGINS=* or no public URL: refused
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=settings.secret_key, TESTING=testing, SESSION_COOKIE_HTTPONLY=True,
        # Lax: the cookie rides no cross-site POST or socket; Secure whenever the site is served over https.
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.cookie_secure,
        PERMANENT_SESSION_LIFETIME=timedelta(days=settings.session_days),
        MAX_CONTENT_LENGTH=1 * 1024 * 1024, JSON_SORT_KEYS=False,  # uploads raise it per view (body_limit)
    )
    limits.init_app(app, settings)
    db = Database(settings.database_url)
    jobs = jobs or ThreadJobs()
    pipeline = BotPipeline(db, list(engines) if engines is not None else build_engines(settings, db),
                           lease_s=settings.bot_lease_seconds)
    app.extensions["parley"] = Services(settings=settings, db=db, jobs=jobs, pipeline=pipeline,
                                        visitors=VisitorTokens(settings.secret_key))
    observability.init_app(app)  # first: every request gets its id before any other hook logs
    db.bus.subscribe(MetricsListener())
    # SMS/WhatsApp: outbox worker (woken on OutboundQueued), media links. Subscribes nothing that emits.
    rt = channels.init_app(app, app.extensions["parley"])
    webhooks_out.init_app(app, app.extensions["parley"])  # deliveries written with each commit; their worker
    routing_jobs = routing_work.own_jobs(jobs)
    # The one listener that emits to Socket.IO; then routing, whose work it reports (in that order).
    realtime = RealtimeListener(db, jobs, socketio.emit, routing_jobs=routing_jobs, links=rt.links,
                                pace_s=PUSH_PACE_S if isinstance(jobs, ThreadJobs) else 0.0,
                                heard=None if settings.redis_url else heard_here)
    db.bus.subscribe(realtime)
    revocations = SocketRevocations(lambda sid: socketio.server.disconnect(sid, namespace=CONSOLE, ignore_queue=True),
                                    redis_url=settings.redis_url, channel=settings.socketio_channel)
    db.bus.subscribe(revocations)  # a revoked session or token closes its sockets, in every process
    app.extensions["parley_revocations"] = revocations
    routing_work.install(app, db, routing_jobs, realtime)  # queues, assignment, timers (not started here)

    app.jinja_env.globals["csrf_token"] = auth.csrf_token
    app.url_map.converters["int"] = IdConverter  # an id out of range names no row: 404
    app.register_blueprint(auth.bp)
    app.register_blueprint(conversations.bp)
    app.register_blueprint(openapi.bp)  # /api/v1/openapi.json (generated) and /api/docs
    app.register_blueprint(routing.bp)
    app.register_blueprint(supervisor.bp)  # the supervisors' Queue view; live unread figures
    app.register_blueprint(workspace.bp)  # canned replies, team hours, a conversation's workspace
    pages.register(app)
    app.register_blueprint(health.bp)  # /readyz
    app.register_blueprint(webhooks.bp)
    app.register_blueprint(payments.bp)  # /webhooks/stripe, /pay/<invoice id>
    app.register_blueprint(channels_api.bp)
    app.register_blueprint(contacts_api.bp)  # contacts: find, edit, block, erase; the contacts page
    app.register_blueprint(conversation_admin.bp)  # name, visibility, delete a conversation
    app.register_blueprint(files.bp)
    app.register_blueprint(internal_chat.bp)  # internal chat between users (Converso)
    app.register_blueprint(me.bp)  # password change, personal API tokens
    app.register_blueprint(users.bp)  # user management, the caller's profile
    app.register_blueprint(teams.bp)  # team management
    app.register_blueprint(account_pages.bp)  # /admin/users, /admin/teams, /password/<token>
    app.register_blueprint(reports.bp)  # /api/v1/reports/agents|live|bot
    app.register_blueprint(exports.bp)  # conversation exports and transcripts
    app.register_blueprint(invoices_api.bp)  # invoices and checkouts; void
    app.register_blueprint(outreach.bp)  # New chat (POST /api/v1/conversations), invitations, end and renew
    from console.api import broadcasts, history, prepared_files, tags  # issue 14 (second half)

    app.register_blueprint(broadcasts.bp)
    app.register_blueprint(tags.bp)
    app.register_blueprint(history.bp)
    app.register_blueprint(prepared_files.bp)
    app.register_blueprint(hosted.bp)  # /c/<token>: the customer's personal chat page
    channels_api.register_pages(app)
    inboxes_api.register(app)  # /api/v1/inboxes and the admin's Inboxes page
    app.register_blueprint(widget_inbox.bp)  # what a widget shows, from its inbox
    app.register_blueprint(ratings_api.bp)  # GET /api/v1/conversations/<id>/rating
    app.register_blueprint(widget_sdk_api.bp)  # a conversation's About facts; an inbox's identity secret
    app.register_blueprint(widget_i18n_bp)  # the widget's message catalogues (setLocale)
    contacts_api.register_pages(app)
    if rt.settings.bench_noop:
        app.add_url_rule("/webhooks/noop", "webhooks_noop", webhooks.noop, methods=["POST"])
    bot.init_app(app, app.extensions["parley"])  # bot training admin; Rasa tracker pause/resume
    assist.init_app(app, app.extensions["parley"])  # agent assist drafts
    knowledge.register(app)  # the knowledge base and HTTP actions admin
    integrations.register(app)  # webhook subscriptions, conversation actions, /admin/integrations
    discussions.register(app)  # internal discussions, @mentions; system entries written with each commit
    install_error_handlers(app)

    @app.after_request
    def _headers(response: Any) -> Any:
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        if response.mimetype == "text/html":
            response.headers.setdefault("Content-Security-Policy", CSP)
            response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

    import console.discussion_sockets as _discussions  # noqa: F401  (`discussion_watch` on `/console`)
    import console.sockets  # noqa: F401  (registers the namespace handlers on `socketio`)
    import console.widget_sdk as _widget_sdk  # noqa: F401  (the widget SDK's /webchat events: identify, attributes)
    from console import webchat_feedback  # noqa: F401  (the pre-chat form and rating on `/webchat`)

    socketio.init_app(
        app, async_mode="threading", message_queue=settings.redis_url, channel=settings.socketio_channel,
        cors_allowed_origins=list(settings.widget_origins) if settings.widget_origins != ("*",) else "*",
        max_http_buffer_size=64 * 1024, ping_interval=20, ping_timeout=20,
    )
    if settings.trusted_proxies:  # outermost, so sockets too see the client's address, scheme and host
        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n)  # type: ignore[method-assign]
    return app
