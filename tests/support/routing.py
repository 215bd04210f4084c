"""Helpers for the routing tests: agents going online, handoffs, notifications, the timer runner."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask import Flask
from sqlalchemy import select

from console.runtime.routing_work import routing_services
from console.runtime.timer_runner import TimerRunner
from models.db import Database
from models.schema.accounts import AuditEvent, Team, User
from models.schema.base import utcnow
from models.schema.conversations import Assignment, Conversation
from tests.support.actors import Agent, Customer, event_payload, make_user


def agent(app: Flask, db: Database, email: str, *, team: str | None = None, role: str = "agent",
          online: bool = True) -> Agent:
    make_user(db, email, role=role, team=team)
    a = Agent(app, email)
    a.socket.get_received("/console")  # connected from now on: it hears every notification
    if online:
        assert a.post("/me/availability", {"status": "online"}).status_code == 200
    return a


def me(a: Agent) -> int:
    return int(a.get("/me").get_json()["id"])


def handoff(app: Flask, text: str = "a person please") -> tuple[Customer, str]:
    customer = Customer(app)
    ack = customer.say(text)
    assert ack["ok"], ack
    return customer, str(ack["conversation_id"])


def console_events(a: Agent, name: str) -> list[Any]:
    return [event_payload(p) for p in a.socket.get_received("/console") if p["name"] == name]


def notifications(a: Agent, kind: str | None = None) -> list[dict[str, Any]]:
    return [n for n in console_events(a, "notification") if kind is None or n["kind"] == kind]


def runner(app: Flask) -> TimerRunner:
    return routing_services(app).runner


def later(seconds: float) -> datetime:
    return utcnow() + timedelta(seconds=seconds)


def conv(db: Database, public_id: str) -> Conversation:
    with db.session() as s:
        c = s.scalar(select(Conversation).where(Conversation.public_id == public_id))
        assert c is not None
        return c


def assignees(db: Database, public_id: str) -> list[int]:
    with db.session() as s:
        return list(s.scalars(select(Assignment.user_id).join(Conversation)
                              .where(Conversation.public_id == public_id).order_by(Assignment.user_id)))


def team_id(db: Database, name: str) -> int:
    with db.session() as s:
        tid = s.scalar(select(Team.id).where(Team.name == name))
        assert tid is not None
        return int(tid)


def user_id(db: Database, email: str) -> int:
    with db.session() as s:
        uid = s.scalar(select(User.id).where(User.email == email))
        assert uid is not None
        return int(uid)


def audit_kinds(db: Database, public_id: str) -> list[str]:
    c = conv(db, public_id)
    with db.session() as s:
        return list(s.scalars(select(AuditEvent.kind).where(AuditEvent.conversation_id == c.id)
                              .order_by(AuditEvent.id)))


def set_routing(admin: Agent, team: int, **settings: Any) -> None:
    r = admin.client.patch(f"/api/v1/teams/{team}/routing", json=settings, headers={"X-CSRF-Token": admin.csrf})
    assert r.status_code == 200, r.get_json()
