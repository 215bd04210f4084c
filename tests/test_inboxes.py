"""Inboxes: where a conversation lands. A widget key or a number decides the inbox, and the inbox's
team gets the conversation; admins manage inboxes over REST; the Team inbox filters by inbox."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from models.db import Database
from models.schema.accounts import AuditEvent, Team
from models.schema.channels import Inbox
from models.schema.conversations import Conversation
from tests.support.actors import Agent, Customer, make_user
from tests.support.inboxes import WidgetCustomer, create_widget, delete, patch, refused_widget


def _team(db: Database, name: str) -> int:
    with db.session() as s:
        team_id = s.scalar(select(Team.id).where(Team.name == name))
        assert team_id is not None
        return int(team_id)


def _conversation(db: Database, public_id: str) -> Conversation:
    with db.session() as s:
        conv = s.scalar(select(Conversation).where(Conversation.public_id == public_id))
        assert conv is not None
        s.expunge(conv)
        return conv


def _people(db: Database, app: Flask) -> tuple[Agent, Agent, Agent]:
    """An admin (team Support, the first team), a Support agent and a Sales agent."""
    make_user(db, "admin@example.com", role="admin")
    make_user(db, "sam@example.com", team="Support")
    make_user(db, "sally@example.com", team="Sales")
    return (Agent(app, "admin@example.com"), Agent(app, "sam@example.com"), Agent(app, "sally@example.com"))


def _team_ids(agent: Agent, path: str = "/conversations?view=team") -> list[str]:
    r = agent.get(path)
    assert r.status_code == 200, r.get_json()
    return [c["id"] for c in r.get_json()["conversations"]]


def test_a_widget_key_routes_the_conversation_to_its_inbox_team(app: Flask, db: Database) -> None:
    admin, sam, sally = _people(db, app)
    sales = _team(db, "Sales")
    widget = create_widget(admin, sales, name="Sales site", title="Talk to sales", greeting="Hello <b>buyer</b>",
                           color="#FF0000")
    assert widget["widget_key"].startswith("wk_") and widget["team"] == {"id": sales, "name": "Sales"}
    assert f'data-widget-key="{widget["widget_key"]}"' in widget["embed"]
    assert widget["embed"].startswith('<script src="http://localhost/widget/widget.js"')
    assert widget["widget"] == {"title": "Talk to sales", "greeting": "Hello <b>buyer</b>", "color": "#ff0000"}

    customer = WidgetCustomer(app, widget["widget_key"])
    conv_id = customer.say("I want to talk to a person")["conversation_id"]
    conv = _conversation(db, conv_id)
    assert (conv.team_id, conv.inbox_id) == (sales, widget["id"])
    assert conv.owner == "human"  # handed off: it waits in the Sales queue
    assert _team_ids(sally) == [conv_id]
    assert _team_ids(sam) == []  # Support never sees Sales' conversation
    (listed,) = sally.get("/conversations?view=team").get_json()["conversations"]
    assert listed["inbox_id"] == widget["id"] and listed["inbox"] == {"id": widget["id"], "name": "Sales site"}
    assert listed["team"]["id"] == sales
    assert sally.counters()["unassigned"] == 1 and sam.counters()["unassigned"] == 0


def test_a_widget_without_a_key_uses_the_default_webchat_inbox(app: Flask, db: Database) -> None:
    admin, sam, _sally = _people(db, app)
    sales_widget = create_widget(admin, _team(db, "Sales"))  # another team's widget is not the default
    assert not sales_widget["is_default"]
    conv_id = Customer(app).say("a human please")["conversation_id"]  # an embed from before inboxes
    conv = _conversation(db, conv_id)
    inboxes = admin.get("/inboxes").get_json()["inboxes"]
    (default,) = [i for i in inboxes if i["kind"] == "webchat" and i["id"] != sales_widget["id"]]
    assert default["is_default"] and default["team"]["name"] == "Support"  # the first team, like default_team
    assert conv.inbox_id == default["id"] and conv.team_id == _team(db, "Support")
    assert _team_ids(sam) == [conv_id]
    # a second keyless visitor lands in the same inbox (made once, lazily)
    other = _conversation(db, Customer(app).say("hi")["conversation_id"])
    assert other.inbox_id == default["id"]
    # the default inbox moved to Sales: the next keyless conversation goes to Sales
    assert patch(admin, f"/inboxes/{default['id']}", {"team_id": _team(db, "Sales")}).status_code == 200
    moved = _conversation(db, Customer(app).say("hello")["conversation_id"])
    assert moved.team_id == _team(db, "Sales") and moved.inbox_id == default["id"]
    assert _conversation(db, conv_id).team_id == _team(db, "Support")  # open ones stay with their team


def test_an_unknown_widget_key_is_refused_clearly(app: Flask, db: Database) -> None:
    refused_widget(app, "wk_not_a_real_key")
    assert _refusal(app, "wk_not_a_real_key") == "unknown_widget"  # what the widget shows its visitor
    assert _refusal(app, {"no": "string"}) == "unknown_widget"
    with db.session() as s:
        assert s.scalar(select(Conversation.id)) is None
    # the widget's look endpoint says the same
    r = app.test_client().get("/webchat/widget-config?key=wk_not_a_real_key")
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "unknown_widget"
    # an upload naming an unknown key is refused before anything is stored
    token = Customer(app).token
    r = app.test_client().post("/webchat/upload", data={"token": token, "widget_key": "wk_nope",
                                                        "file": (_png(), "a.png")})
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "unknown_widget"


def _refusal(app: Flask, key: Any, origin: str | None = None) -> str:
    """The reason a /webchat connection is refused with (the socket test client drops it)."""
    from console.widget_inbox import widget_inbox_on_connect

    with app.test_request_context(headers={"Origin": origin} if origin else {}), \
            pytest.raises(ConnectionRefusedError) as refused:
        widget_inbox_on_connect({"widget_key": key})
    return str(refused.value.args[0]["code"])


def _png() -> Any:
    import io

    return io.BytesIO(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)


def test_per_inbox_origins_refine_the_widget_origins(app: Flask, db: Database) -> None:
    admin, _sam, _sally = _people(db, app)
    widget = create_widget(admin, _team(db, "Sales"), origins=["https://Shop.example.com/"])
    assert widget["origins"] == ["https://shop.example.com"]
    key = widget["widget_key"]
    ok = WidgetCustomer(app, key, origin="https://shop.example.com")
    assert ok.say("hi")["ok"] is True
    refused_widget(app, key, origin="https://elsewhere.example.com")
    assert _refusal(app, key, "https://elsewhere.example.com") == "origin_refused"
    refused_widget(app, key)  # no Origin at all: not one of its sites either
    client = app.test_client()
    r = client.get(f"/webchat/widget-config?key={key}", headers={"Origin": "https://elsewhere.example.com"})
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "origin_refused"
    r = client.get(f"/webchat/widget-config?key={key}", headers={"Origin": "https://shop.example.com"})
    assert r.status_code == 200 and r.get_json() == {}  # nothing set: the script tag's look stays
    assert patch(admin, f"/inboxes/{widget['id']}", {"title": "Shop", "greeting": "<i>hi</i>"}).status_code == 200
    r = client.get(f"/webchat/widget-config?key={key}", headers={"Origin": "https://shop.example.com"})
    assert r.get_json() == {"title": "Shop", "greeting": "<i>hi</i>"}  # text: the widget sets textContent
    # an inbox without origins: any site the deployment allows
    open_widget = create_widget(admin, _team(db, "Sales"), name="Anywhere")
    assert WidgetCustomer(app, open_widget["widget_key"], origin="https://elsewhere.example.com").say("x")["ok"]
    # bad origins are refused with a clear 400
    for bad in (["shop.example.com"], ["https://shop.example.com/path"], ["ftp://x.example"], "https://a.b", [3]):
        r = admin.post("/inboxes", {"kind": "webchat", "name": "x", "team_id": _team(db, "Sales"), "origins": bad})
        assert r.status_code == 400, (bad, r.get_json())


def test_inbox_origins_must_be_allowed_by_the_deployment(settings: Any, engines: Any) -> None:
    from console.app import create_app
    from console.runtime.jobs import InlineJobs

    app = create_app(settings.with_(widget_origins=("https://shop.example.com",)), engines=engines,
                     jobs=InlineJobs(), testing=True)
    db = app.extensions["parley"].db
    try:
        make_user(db, "admin@example.com", role="admin")
        admin = Agent(app, "admin@example.com")
        team = _team(db, "Support")
        r = admin.post("/inboxes", {"kind": "webchat", "name": "x", "team_id": team,
                                    "origins": ["https://other.example.com"]})
        assert r.status_code == 400 and r.get_json()["error"]["code"] == "origin_not_allowed"
        assert create_widget(admin, team, origins=["https://shop.example.com"])["origins"] == [
            "https://shop.example.com"]
    finally:
        db.dispose()


def test_crud_rules_and_roles(app: Flask, db: Database) -> None:
    admin, sam, sally = _people(db, app)
    make_user(db, "sue@example.com", role="supervisor")
    sue = Agent(app, "sue@example.com")
    sales, support = _team(db, "Sales"), _team(db, "Support")
    body = {"kind": "webchat", "name": "Shop", "team_id": sales}
    assert sam.post("/inboxes", body).status_code == 403
    assert sue.post("/inboxes", body).status_code == 403
    shop = create_widget(admin, sales)
    help_site = create_widget(admin, support, name="Help centre")
    # who sees what
    assert {i["id"] for i in sue.get("/inboxes").get_json()["inboxes"]} == {shop["id"], help_site["id"]}
    assert [i["id"] for i in sally.get("/inboxes").get_json()["inboxes"]] == [shop["id"]]
    assert [i["id"] for i in sam.get("/inboxes").get_json()["inboxes"]] == [help_site["id"]]
    assert sam.get(f"/inboxes/{shop['id']}").status_code == 404  # another team's widget: not there
    assert patch(sue, f"/inboxes/{shop['id']}", {"name": "x"}).status_code == 403
    assert delete(sam, f"/inboxes/{help_site['id']}").status_code == 403
    # validation: 4xx JSON, never 500
    for bad, status in [({**body, "kind": "fax"}, 400), ({**body, "name": ""}, 400), ({**body, "name": "x" * 121}, 400),
                        ({**body, "team_id": 999999}, 400), ({**body, "team_id": "1"}, 400),
                        ({**body, "color": "red"}, 400), ({**body, "title": "t" * 61}, 400),
                        ({**body, "channel_config_id": 1}, 400), ({**body, "surprise": 1}, 400),
                        ({"kind": "sms", "name": "x", "team_id": sales}, 400),
                        ({"kind": "sms", "name": "x", "team_id": sales, "channel_config_id": 424242}, 400),
                        ({"kind": "sms", "name": "x", "team_id": sales, "channel_config_id": 1, "title": "t"}, 400)]:
        r = admin.post("/inboxes", bad)
        assert r.status_code == status and "error" in r.get_json(), (bad, r.get_json())
    for bad in ({"team_id": 999999}, {"name": None}, {"is_default": False}, {"color": "#12"}, {"nope": 1}):
        r = patch(admin, f"/inboxes/{shop['id']}", bad)
        assert r.status_code == 400 and "error" in r.get_json(), (bad, r.get_json())
    assert patch(admin, "/inboxes/999999", {"name": "x"}).status_code == 404
    assert admin.client.post("/api/v1/inboxes", data="nope", headers={"X-CSRF-Token": admin.csrf,
                                                                     "Content-Type": "application/json"}
                             ).status_code == 400
    # rename, move, options, make default, rotate the key
    r = patch(admin, f"/inboxes/{shop['id']}", {"name": "Shop (EU)", "team_id": support, "color": "#00aa00",
                                                "is_default": True, "rotate_key": True})
    changed = r.get_json()
    assert r.status_code == 200 and changed["name"] == "Shop (EU)" and changed["team"]["id"] == support
    assert changed["is_default"] and changed["widget"]["color"] == "#00aa00"
    assert changed["widget_key"] != shop["widget_key"]
    refused_widget(app, shop["widget_key"])  # the old key no longer works
    assert not admin.get(f"/inboxes/{help_site['id']}").get_json()["is_default"]  # one default per kind
    # audit
    with db.session() as s:
        kinds = [e.kind for e in s.scalars(select(AuditEvent).where(AuditEvent.kind.like("inbox.%")))]
    assert kinds.count("inbox.created") == 2 and "inbox.updated" in kinds


def test_delete_refuses_the_last_inbox_of_its_kind_with_open_conversations(app: Flask, db: Database) -> None:
    admin, sam, _sally = _people(db, app)
    support = _team(db, "Support")
    only = create_widget(admin, support, is_default=True)
    conv_id = WidgetCustomer(app, only["widget_key"]).say("a person please")["conversation_id"]
    r = delete(admin, f"/inboxes/{only['id']}")
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "inbox_in_use"
    second = create_widget(admin, support, name="Second")
    assert only["is_default"] and not second["is_default"]
    assert delete(admin, f"/inboxes/{only['id']}").status_code == 204
    conv = _conversation(db, conv_id)
    assert conv.inbox_id is None and conv.team_id == support  # the conversation stays with its team
    assert _team_ids(sam) == [conv_id]
    assert admin.get(f"/inboxes/{second['id']}").get_json()["is_default"]  # the default moved on
    # an inbox with no open conversation can go even when it is the last one
    assert delete(admin, f"/inboxes/{second['id']}").status_code == 204
    with db.session() as s:
        assert s.scalar(select(Inbox.id)) is None
        assert [e.data["inbox_id"] for e in s.scalars(select(AuditEvent).where(AuditEvent.kind == "inbox.deleted"))
                ] == [only["id"], second["id"]]


def test_the_team_inbox_filters_by_inbox(app: Flask, db: Database) -> None:
    admin, sam, sally = _people(db, app)
    sales = _team(db, "Sales")
    shop, outlet = create_widget(admin, sales, name="Shop"), create_widget(admin, sales, name="Outlet")
    a = WidgetCustomer(app, shop["widget_key"]).say("a person please")["conversation_id"]
    b = WidgetCustomer(app, outlet["widget_key"]).say("a person please")["conversation_id"]
    assert set(_team_ids(sally)) == {a, b}
    assert _team_ids(sally, f"/conversations?view=team&inbox_id={shop['id']}") == [a]
    assert _team_ids(sally, f"/conversations?view=team&inbox_id={outlet['id']}") == [b]
    assert _team_ids(admin, f"/conversations?view=team&inbox_id={outlet['id']}") == [b]
    # another team's inbox is not there for an agent; a malformed id is a 400
    assert sam.get(f"/conversations?view=team&inbox_id={shop['id']}").status_code == 404
    assert sally.get("/conversations?view=team&inbox_id=abc").status_code == 400
    assert sally.get("/conversations?view=team&inbox_id=99999999999").status_code == 400
    # counters do not depend on the filter: both conversations count
    assert sally.counters()["unassigned"] == 2


def test_cli_lists_and_creates_widgets(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    from click.testing import CliRunner

    from console.cli import main

    for key, value in {"PARLEY_INSTANCE": str(settings.instance_dir), "DATABASE_URL": settings.database_url,
                       "PARLEY_SECRET_KEY": "test-secret", "PARLEY_PUBLIC_URL": "https://chat.example.com"}.items():
        monkeypatch.setenv(key, value)
    db = Database(settings.database_url)
    try:
        make_user(db, "sally@example.com", team="Sales")
    finally:
        db.dispose()
    runner = CliRunner()
    r = runner.invoke(main, ["inboxes", "create-widget", "--name", "Shop", "--team", "Sales", "--origin",
                             "https://shop.example.com", "--title", "Hi"])
    assert r.exit_code == 0, r.output
    made = json.loads(r.output)
    assert made["team"]["name"] == "Sales" and made["origins"] == ["https://shop.example.com"]
    assert made["embed"] == ('<script src="https://chat.example.com/widget/widget.js" '
                             f'data-widget-key="{made["widget_key"]}" defer></script>')
    r = runner.invoke(main, ["inboxes", "list"])
    assert r.exit_code == 0 and [i["id"] for i in json.loads(r.output)] == [made["id"]]
    r = runner.invoke(main, ["inboxes", "create-widget", "--name", "x", "--team", "Nobody"])
    assert r.exit_code == 1 and "No team" in r.output
    r = runner.invoke(main, ["inboxes", "create-widget", "--name", "x", "--team", "Sales", "--color", "red"])
    assert r.exit_code == 1 and "color" in r.output


def test_two_processes_making_the_first_webchat_inbox_end_with_one_default(
        db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """The race of a fresh install: both saw no default inbox; the second to write re-reads the first's."""
    from models.inboxes import routing

    with db.transaction() as s:
        winner = routing.default_webchat_inbox(s).id
    real = routing.flagged_default
    calls = iter([None])  # the loser's first look happened before the winner committed
    monkeypatch.setattr(routing, "flagged_default", lambda session, kind: next(calls, None) or real(session, kind))
    with db.transaction() as s:
        assert routing.default_webchat_inbox(s).id == winner
    with db.session() as s:
        defaults = s.scalars(select(Inbox.id).where(Inbox.kind == "webchat", Inbox.is_default.is_(True))).all()
        assert list(defaults) == [winner]
        assert s.scalar(select(func.count()).select_from(Inbox).where(Inbox.kind == "webchat")) == 1
