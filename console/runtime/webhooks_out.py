"""Outgoing webhooks inside the app: deliveries written with every commit that publishes a webhook event
(a commit writer on the app's database), and the worker that sends them (started by the worker role and
by `parley run`, console/runtime/roles.py; woken when deliveries are committed)."""

from __future__ import annotations

from flask import Flask, current_app

from connectors.webhooks_out import WebhookSettings, WebhookWorker
from console.runtime.subscription_sync import SubscriptionSync
from console.services import Services
from models.events import Event, WebhooksQueued
from models.integrations.deliveries import enqueue_deliveries
from models.integrations.subscriptions import use_change_feed

EXTENSION = "parley.webhooks"


class WakeWebhooks:
    def __init__(self, worker: WebhookWorker) -> None:
        self.worker = worker

    def __call__(self, evt: Event) -> None:
        if isinstance(evt, WebhooksQueued):
            self.worker.notify()


def init_app(app: Flask, svc: Services) -> WebhookWorker:
    if enqueue_deliveries not in svc.db.writers:
        svc.db.writers.append(enqueue_deliveries)
    worker = WebhookWorker(svc.db, WebhookSettings.from_settings(svc.settings), svc.jobs.submit)
    svc.db.bus.subscribe(WakeWebhooks(worker))
    sync = SubscriptionSync(svc.settings.redis_url, svc.settings.socketio_channel)
    svc.db.bus.subscribe(sync)  # subscription changes forget the wanted-events memory, in every process
    use_change_feed(sync if svc.settings.redis_url else None)
    app.extensions[EXTENSION] = worker
    return worker


def webhook_worker(app: Flask | None = None) -> WebhookWorker:
    worker: WebhookWorker = (app or current_app).extensions[EXTENSION]
    return worker
