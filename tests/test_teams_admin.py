"""Issue 13, teams (admins): create, rename, archive (refused while an open conversation is left),
members (sessions of who joined or left end), routing settings; and the `parley users` / `parley teams`
commands an operator scripts."""

from __future__ import annotations

import json
from typing import Any

from click.testing import CliRunner
from flask import Flask
from sqlalchemy import select

from console.cli import main as cli
from models.db import Database
from models.schema.accounts import AuditEvent, Team
from models.settings import Settings
from tests.support.actors import Agent, Customer, make_user
from tests.support.mail import SmtpServer, body_text


def _admin(app: Flask, db: Database) -> Agent:
    make_user(db, "root@example.com", role="admin")
    return Agent(app, "root@example.com")


def _send(agent: Agent, method: str, path: str, body: Any = None) -> Any:
    return agent.client.open(f"/api/v1{path}", method=method, json=body, headers={"X-CSRF-Token": agent.csrf})


def test_create_rename_list_and_refuse_bad_names(app: Flask, db: Database) -> None:
    root = _admin(app, db)
    r = root.post("/teams", {"name": "  Sales   EU "})
    assert r.status_code == 201, r.get_json()
    sales = r.get_json()
    assert sales["name"] == "Sales EU" and sales["archived"] is False and sales["member_ids"] == []
    assert sales["routing"]["policy"] == "least_loaded"
    assert root.post("/teams", {"name": "sales eu"}).status_code == 409  # names are unique, whatever the case
    for bad in ({}, {"name": ""}, {"name": "x" * 121}, {"name": 3}, {"name": "A", "extra": 1}):
        r = root.post("/teams", bad)
        assert r.status_code == 400, bad
    r = _send(root, "PATCH", f"/teams/{sales['id']}", {"name": "Sales"})
    assert r.status_code == 200 and r.get_json()["name"] == "Sales"
    assert _send(root, "PATCH", f"/teams/{sales['id']}", {"name": "Support"}).status_code == 409
    assert _send(root, "PATCH", "/teams/9999", {"name": "Ghost"}).status_code == 404
    names = [t["name"] for t in root.get("/teams").get_json()["teams"]]
    assert names == ["Support", "Sales"]
    with db.session() as s:
        kinds = [e.kind for e in s.scalars(select(AuditEvent).where(AuditEvent.kind.like("team.%")))]
    assert kinds == ["team.created", "team.renamed"]


def test_archive_only_when_no_open_conversation_is_left(app: Flask, db: Database) -> None:
    root = _admin(app, db)
    support = root.get("/teams").get_json()["teams"][0]["id"]
    billing = root.post("/teams", {"name": "Billing"}).get_json()["id"]
    conv = Customer(app).say("a human please")["conversation_id"]
    r = root.post(f"/conversations/{conv}/transfer", {"to_team_id": billing})
    assert r.status_code == 200, r.get_json()
    r = root.post(f"/teams/{billing}/archive")
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "open_conversations"
    assert "1 open conversation" in r.get_json()["error"]["message"]
    assert root.post(f"/conversations/{conv}/close").status_code == 200
    r = root.post(f"/teams/{billing}/archive")
    assert r.status_code == 200 and r.get_json()["archived"] is True
    assert root.post(f"/teams/{billing}/archive").status_code == 409
    assert [t["id"] for t in root.get("/teams").get_json()["teams"]] == [support]
    assert billing in [t["id"] for t in root.get("/teams?archived=true").get_json()["teams"]]
    # an archived team takes nobody and no conversation
    ada = make_user(db, "ada@example.com")
    assert _send(root, "PUT", f"/teams/{billing}/members", {"user_ids": [ada]}).status_code == 409
    assert _send(root, "PATCH", f"/users/{ada}", {"team_ids": [billing]}).status_code == 400
    conv2 = Customer(app).say("a human please")["conversation_id"]
    assert root.post(f"/conversations/{conv2}/transfer", {"to_team_id": billing}).status_code == 400
    # the default team is where conversations start
    r = root.post(f"/teams/{support}/archive")
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "default_team"


def test_members_are_set_and_those_who_moved_sign_in_again(app: Flask, db: Database) -> None:
    root = _admin(app, db)
    sales = root.post("/teams", {"name": "Sales"}).get_json()["id"]
    ada = make_user(db, "ada@example.com")
    bob = make_user(db, "bob@example.com")
    ada_agent, bob_agent = Agent(app, "ada@example.com"), Agent(app, "bob@example.com")
    r = _send(root, "PUT", f"/teams/{sales}/members", {"user_ids": [ada, ada]})
    assert r.status_code == 200 and [m["id"] for m in r.get_json()["members"]] == [ada]
    assert ada_agent.get("/counters").status_code == 401  # joined: signs in again with the new team
    assert bob_agent.get("/counters").status_code == 200  # untouched
    team = next(t for t in root.get("/teams").get_json()["teams"] if t["id"] == sales)
    assert team["member_ids"] == [ada]
    for bad in ({"user_ids": [99999]}, {"user_ids": "all"}, {}, {"user_ids": [True]}):
        assert _send(root, "PUT", f"/teams/{sales}/members", bad).status_code == 400, bad
    assert _send(root, "PUT", f"/teams/{sales}/members", {"user_ids": []}).get_json()["members"] == []
    assert _send(root, "PUT", f"/teams/{sales}/members", {"user_ids": [bob]}).status_code == 200
    agent = Agent(app, "ada@example.com")
    assert _send(agent, "PUT", f"/teams/{sales}/members", {"user_ids": [ada]}).status_code == 403
    assert agent.post(f"/teams/{sales}/archive").status_code == 403
    assert _send(agent, "PATCH", f"/teams/{sales}", {"name": "Mine"}).status_code == 403
    assert agent.get("/teams").status_code == 200  # everyone reads the list (pickers)


def test_routing_settings_and_capacity_through_the_api(app: Flask, db: Database) -> None:
    root = _admin(app, db)
    sales = root.post("/teams", {"name": "Sales"}).get_json()["id"]
    r = _send(root, "PATCH", f"/teams/{sales}/routing", {"policy": "manual", "offer_timeout_seconds": 30,
                                                         "queue_message": "Hold on"})
    assert r.status_code == 200
    team = next(t for t in root.get("/teams").get_json()["teams"] if t["id"] == sales)
    assert (team["routing"]["policy"], team["routing"]["offer_timeout_seconds"],
            team["routing"]["queue_message"]) == ("manual", 30, "Hold on")


def _lines(r: Any) -> list[dict[str, Any]]:
    """The command's JSON lines (log lines of the SMTP server share the captured output)."""
    return [json.loads(x) for x in r.output.splitlines() if x.startswith("{")]


def _cli(settings: Settings, *args: str, **env: str) -> Any:
    return CliRunner().invoke(cli, list(args), env={"DATABASE_URL": settings.database_url,
                                                    "PARLEY_SECRET_KEY": "x", "REDIS_URL": "",
                                                    "PARLEY_INSTANCE": str(settings.instance_dir), **env})


def test_cli_users_and_teams(app: Flask, db: Database, settings: Settings, smtp_server: SmtpServer) -> None:
    make_user(db, "root@example.com", role="admin")
    make_user(db, "ada@example.com")
    r = _cli(settings, "users", "invite", "nia@example.com")
    assert r.exit_code == 1 and "PARLEY_SMTP_URL" in r.output
    mail = {"PARLEY_SMTP_URL": smtp_server.url, "PARLEY_PUBLIC_URL": "https://parley.example.com"}
    r = _cli(settings, "teams", "create", "Billing")
    assert r.exit_code == 0, r.output
    assert _lines(r)[0]["name"] == "Billing"
    r = _cli(settings, "users", "invite", "nia@example.com", "--name", "Nia", "--team", "Billing", **mail)
    assert r.exit_code == 0, r.output
    (line,) = _lines(r)
    assert line["status"] == "invited" and line["teams"] == ["Billing"] and line["invitation"]["sent"] is True
    assert "https://parley.example.com/password/pw_" in body_text(smtp_server.wait_for(1)[0])
    r = _cli(settings, "users", "invite", "nia@example.com", **mail)
    assert r.exit_code == 1 and "exists already" in r.output
    r = _cli(settings, "users", "list", "--search", "nia")
    assert [x["email"] for x in _lines(r)] == ["nia@example.com"]
    ada_agent = Agent(app, "ada@example.com")
    r = _cli(settings, "users", "deactivate", "ada@example.com")
    assert r.exit_code == 0 and _lines(r)[0]["status"] == "deactivated"
    assert ada_agent.get("/counters").status_code == 401
    assert _cli(settings, "users", "deactivate", "root@example.com").exit_code == 1  # the last admin
    assert _cli(settings, "users", "reactivate", "ada@example.com").exit_code == 0
    assert Agent(app, "ada@example.com").get("/counters").status_code == 200
    assert _cli(settings, "users", "deactivate", "nobody@example.com").exit_code == 1
    r = _cli(settings, "teams", "archive", "Billing")
    assert r.exit_code == 0 and _lines(r)[0]["archived"] is True
    r = _cli(settings, "teams", "list")
    assert [x["name"] for x in _lines(r)] == ["Support"]
    assert _cli(settings, "teams", "archive", "Support").exit_code == 1
    with db.session() as s:
        assert s.scalar(select(Team).where(Team.name == "Billing")).archived_at is not None  # type: ignore[union-attr]


def test_a_team_that_owns_an_inbox_is_not_archived_and_no_inbox_moves_to_an_archived_team(
        app: Flask, db: Database) -> None:
    root = _admin(app, db)
    sales = root.post("/teams", {"name": "Sales"}).get_json()["id"]
    billing = root.post("/teams", {"name": "Billing"}).get_json()["id"]
    widget = root.post("/inboxes", {"kind": "webchat", "name": "Shop", "team_id": sales})
    assert widget.status_code == 201, widget.get_json()
    r = root.post(f"/teams/{sales}/archive")  # its widget's new chats would land in a team nobody works
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "owns_inboxes"
    assert root.post(f"/teams/{billing}/archive").status_code == 200
    r = _send(root, "PATCH", f"/inboxes/{widget.get_json()['id']}", {"team_id": billing})
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "team_archived"
    r = root.post("/inboxes", {"kind": "webchat", "name": "Old", "team_id": billing})
    assert r.status_code == 409
    assert _send(root, "DELETE", f"/inboxes/{widget.get_json()['id']}").status_code == 204
    assert root.post(f"/teams/{sales}/archive").status_code == 200
