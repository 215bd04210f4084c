"""Integrations under /api/v1: webhook subscriptions and their delivery log, conversation actions (admins
define them, agents run them on conversations they can see), and the admin page /admin/integrations."""

from __future__ import annotations

import json
import logging
import secrets
from typing import Any

from flask import Blueprint, Flask, Response, jsonify, render_template
from sqlalchemy import select

from connectors.webhooks_out import WebhookSettings, post_signed
from console.api.declare import api, json_body, query_args
from console.api.schemas import integrations as si
from console.auth import api_user, current_user, login_required
from console.services import services
from models.audit import audit
from models.conversations.access import access_conversation
from models.errors import Forbidden, InvalidInput
from models.integrations.actions import (
    RecordRefused,
    access_action,
    action_json,
    check_action,
    do_bind_record,
    do_delete_action,
    do_save_action,
    parse_record,
    record_json,
    records_json,
    request_body,
)
from models.integrations.catalog import EVENTS, RESERVED
from models.integrations.deliveries import deliveries_json, do_retry_delivery
from models.integrations.subscriptions import (
    access_subscription,
    check_events,
    check_url,
    do_create_subscription,
    do_delete_subscription,
    do_update_subscription,
    subscription_json,
)
from models.schema.accounts import Role, User
from models.schema.integrations import ConversationAction, WebhookSubscription

log = logging.getLogger(__name__)

bp = Blueprint("integrations", __name__, url_prefix="/api/v1")


def _admin() -> User:
    user = api_user()
    if user.role != Role.ADMIN.value:
        raise Forbidden("Only admins manage integrations.")
    return user


# --- webhooks --------------------------------------------------------------------------------------

@bp.get("/webhook_events")
@api("The events a webhook subscription can ask for (the body's schema: WebhookPayload)", si.WebhookEventList,
     errors=(403,))
def webhook_events() -> Response:
    _admin()
    return jsonify({"events": [{"name": n, "description": d, "reserved": n in RESERVED} for n, d in EVENTS.items()],
                    "payload": None})


@bp.get("/webhook_subscriptions")
@api("Webhook subscriptions (admins); secrets are never shown again", si.SubscriptionList, errors=(403,))
def list_subscriptions() -> Response:
    _admin()
    with services().db.session() as s:
        subs = s.scalars(select(WebhookSubscription).order_by(WebhookSubscription.id))
        return jsonify({"subscriptions": [subscription_json(x) for x in subs]})


@bp.post("/webhook_subscriptions")
@api("Subscribe a URL to events (admins); the answer carries the signing secret, shown this once",
     si.SubscriptionCreated, status=201, body=si.SubscriptionIn, errors=(403,))
def create_subscription() -> tuple[Response, int]:
    user = _admin()
    body = json_body(si.SubscriptionIn)
    url, events = check_url(body.url), check_events(body.events)
    with services().db.transaction() as s:
        sub = do_create_subscription(s, user, url, events, body.description.strip())
        out = subscription_json(sub, with_secret=True)
    return jsonify(out), 201


@bp.patch("/webhook_subscriptions/<int:subscription_id>")
@api("Change a subscription: URL, events, description; `active` pauses or resumes it (admins)", si.Subscription,
     body=si.SubscriptionPatch, errors=(403,))
def update_subscription(subscription_id: int) -> Response:
    user = _admin()
    body = json_body(si.SubscriptionPatch)
    url = check_url(body.url) if body.url is not None else None
    events = check_events(body.events) if body.events is not None else None
    with services().db.transaction() as s:
        sub = access_subscription(s, subscription_id, lock=True)
        do_update_subscription(s, user, sub, url=url, events=events,
                               description=body.description.strip() if body.description is not None else None,
                               active=body.active)
        out = subscription_json(sub)
    if body.active:
        services().jobs.submit(_wake_webhooks)
    return jsonify(out)


def _wake_webhooks() -> None:
    """Resumed: what waited goes out now, not at the next poll."""
    from console.runtime.webhooks_out import webhook_worker

    webhook_worker().notify()


@bp.delete("/webhook_subscriptions/<int:subscription_id>")
@api("Delete a subscription and its delivery log (admins)", status=204, errors=(403,))
def delete_subscription(subscription_id: int) -> tuple[str, int]:
    user = _admin()
    with services().db.transaction() as s:
        do_delete_subscription(s, user, access_subscription(s, subscription_id, lock=True))
    return "", 204


@bp.get("/webhook_subscriptions/<int:subscription_id>/deliveries")
@api("The delivery log, newest first: each delivery's state and every attempt's status and answer (admins)",
     si.DeliveryList, query=si.DeliveryQuery, errors=(403,))
def list_deliveries(subscription_id: int) -> Response:
    _admin()
    q = query_args(si.DeliveryQuery)
    with services().db.session() as s:
        access_subscription(s, subscription_id)
        return jsonify({"deliveries": deliveries_json(s, subscription_id, limit=q.limit, state=q.state)})


@bp.post("/webhook_subscriptions/<int:subscription_id>/deliveries/<delivery_id>/retry")
@api("Send a failed delivery again, with the same delivery id (admins)", si.DeliveryList, errors=(403, 422))
def retry_delivery(subscription_id: int, delivery_id: str) -> Response:
    user = _admin()
    with services().db.transaction() as s:
        access_subscription(s, subscription_id)
        do_retry_delivery(s, user, subscription_id, delivery_id[:60])
    with services().db.session() as s:
        return jsonify({"deliveries": deliveries_json(s, subscription_id, public_id=delivery_id[:60])})


# --- conversation actions ----------------------------------------------------------------------------

@bp.get("/conversation_actions")
@api("Conversation actions: every user sees the enabled ones' buttons; admins see all, with their settings",
     si.ActionList)
def list_actions() -> Response:
    user = api_user()
    admin = user.role == Role.ADMIN.value
    with services().db.session() as s:
        rows = s.scalars(select(ConversationAction).order_by(ConversationAction.label, ConversationAction.id))
        return jsonify({"actions": [action_json(r, admin=admin) for r in rows if admin or r.enabled]})


@bp.post("/conversation_actions")
@api("Define a conversation action (admins); the answer carries its signing secret, shown this once",
     si.ActionCreated, status=201, body=si.ActionIn, errors=(403, 409))
def create_action() -> tuple[Response, int]:
    user = _admin()
    values = check_action(json_body(si.ActionIn).model_dump(exclude_none=True))
    with services().db.transaction() as s:
        out = action_json(do_save_action(s, user, values), with_secret=True)
    return jsonify(out), 201


@bp.patch("/conversation_actions/<int:action_id>")
@api("Change a conversation action (admins)", si.Action, body=si.ActionPatch, errors=(403, 409))
def update_action(action_id: int) -> Response:
    user = _admin()
    values = check_action(json_body(si.ActionPatch).model_dump(exclude_none=True), partial=True)
    with services().db.transaction() as s:
        return jsonify(action_json(do_save_action(s, user, values, access_action(s, action_id))))


@bp.delete("/conversation_actions/<int:action_id>")
@api("Delete a conversation action (admins); records it bound stay", status=204, errors=(403,))
def delete_action(action_id: int) -> tuple[str, int]:
    user = _admin()
    with services().db.transaction() as s:
        do_delete_action(s, user, access_action(s, action_id))
    return "", 204


@bp.get("/conversations/<public_id>/records")
@api("Records bound to a conversation by its actions", si.RecordList)
def conversation_records(public_id: str) -> Response:
    user = api_user()
    with services().db.session() as s:
        return jsonify({"records": records_json(s, access_conversation(s, user, public_id))})


def _failed(message: str) -> tuple[Response, int]:
    return jsonify({"error": {"code": "action_failed", "message": message}}), 502


@bp.post("/conversations/<public_id>/actions/<int:action_id>")
@api("Run a conversation action (anyone who can see the conversation); a record it returns is bound to the "
     "conversation. 502: the endpoint failed, with the reason", si.ActionRun, errors=(502,))
def run_action(public_id: str, action_id: int) -> Any:
    user = api_user()
    svc = services()
    run_id = "run_" + secrets.token_urlsafe(12)
    with svc.db.session() as s:
        conv = access_conversation(s, user, public_id)
        action = access_action(s, action_id)
        if not action.enabled:
            raise InvalidInput("This action is turned off.", code="disabled")
        body = json.dumps(request_body(s, action, conv, user, run_id), ensure_ascii=False).encode()
        url, secret, timeout, name = action.url, action.secret, action.timeout_seconds, action.label
    outcome = post_signed(WebhookSettings.from_settings(svc.settings).guard(), url, secret, body, timeout=timeout,
                          delivery_id=run_id)
    error, record = None, None
    if outcome.status_code is None:
        error = f"{name}: {outcome.error}"
    elif not outcome.ok:
        error = f"{name}: the endpoint answered HTTP {outcome.status_code}"
    else:
        try:
            record = parse_record(json.loads(outcome.response)) if outcome.response.strip() else None
        except ValueError:
            record = None  # a 2xx that is not JSON: done, nothing to bind
        except RecordRefused as exc:
            error = f"{name}: {exc}"
    with svc.db.transaction() as s:
        conv = access_conversation(s, user, public_id, lock=True)
        action = access_action(s, action_id)
        bound = do_bind_record(s, user, conv, action, record) if record and not error else None
        audit(s, "conversation.action_run", actor=user, conversation=conv, action_id=action_id, action=name,
              run_id=run_id, status_code=outcome.status_code, ok=error is None, error=error,
              record=record if bound is not None else None)
        out = {"status_code": outcome.status_code, "record": record_json(bound, name) if bound else None,
               "records": records_json(s, conv)} if error is None else None
    if error is not None:
        log.info("conversation action %s failed: %s", action_id, error)
        return _failed(error)
    return jsonify(out)


# --- the admin page -----------------------------------------------------------------------------------

@login_required
def integrations_page() -> Any:
    user = current_user()
    if user is None or user.role != Role.ADMIN.value:
        raise Forbidden("Only admins manage integrations.")
    return render_template("admin_integrations.html", user=user, events=EVENTS, reserved=RESERVED)


def register(app: Flask) -> None:
    app.register_blueprint(bp)
    app.add_url_rule("/admin/integrations", "integrations_page", integrations_page)
