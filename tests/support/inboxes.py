"""Inbox helpers: a customer on a given widget (its key, the site it runs on), admins' inbox calls."""

from __future__ import annotations

from typing import Any

from flask import Flask

from console.extensions import socketio
from tests.support.actors import Agent, Customer, event_payload


class WidgetCustomer(Customer):
    """A visitor on the widget of one inbox: its `data-widget-key`, optionally on a given site (Origin)."""

    def __init__(self, app: Flask, widget_key: str | None = None, origin: str | None = None) -> None:
        auth = {"widget_key": widget_key} if widget_key else None
        headers = {"Origin": origin} if origin else None
        self.sock = socketio.test_client(app, namespace="/webchat", auth=auth, headers=headers)
        self.received: list[tuple[str, Any]] = []
        self._drain()
        self.token = self.first("session")["token"]


def refused_widget(app: Flask, widget_key: str | None, origin: str | None = None) -> Any:
    """Connect a widget that should be refused; returns the refusal the widget gets ({code, message})."""
    auth = {"widget_key": widget_key} if widget_key else None
    headers = {"Origin": origin} if origin else None
    sock = socketio.test_client(app, namespace="/webchat", auth=auth, headers=headers)
    assert not sock.is_connected("/webchat")
    return sock


def create_widget(admin: Agent, team_id: int, name: str = "Shop", **options: Any) -> dict[str, Any]:
    r = admin.post("/inboxes", {"kind": "webchat", "name": name, "team_id": team_id, **options})
    assert r.status_code == 201, r.get_json()
    return dict(r.get_json())


def patch(agent: Agent, path: str, body: Any) -> Any:
    return agent.client.patch(f"/api/v1{path}", json=body, headers={"X-CSRF-Token": agent.csrf})


def delete(agent: Agent, path: str) -> Any:
    return agent.client.delete(f"/api/v1{path}", headers={"X-CSRF-Token": agent.csrf})


__all__ = ["WidgetCustomer", "create_widget", "delete", "event_payload", "patch", "refused_widget"]
