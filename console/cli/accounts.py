"""`parley users …` and `parley teams …`: what an operator scripts about users and teams. Each change is
made as the first active admin (the audit log names them) unless --as names another admin; output is
JSON lines, one per user or team."""

from __future__ import annotations

import json
from typing import Any

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from console.cli.support import fail_cleanly, migrated_db
from models.db import Database
from models.errors import NotFound
from models.schema.accounts import Role, Team, User
from models.settings import Settings


def _settings() -> Settings:
    return Settings.from_env()


def _db(settings: Settings) -> Database:
    """With sockets elsewhere: revocations reach the web processes through Redis (models/events)."""
    from console.realtime.revocation import SocketRevocations

    db = migrated_db(settings)
    db.bus.subscribe(SocketRevocations(lambda _sid: None, redis_url=settings.redis_url,
                                       channel=settings.socketio_channel))
    return db


def _actor(s: Session, email: str | None) -> User:
    from models.accounts.users import check_email

    stmt = select(User).where(User.role == Role.ADMIN.value, User.active.is_(True))
    stmt = stmt.where(User.email == check_email(email)) if email else stmt.order_by(User.id)
    actor = s.scalar(stmt.limit(1))
    if actor is None:
        raise NotFound(f"No active admin {email}." if email else "No active admin: create one with "
                       "`parley user create --role admin`.")
    return actor


def _user(s: Session, email: str) -> User:
    from models.accounts.users import check_email

    found = s.scalar(select(User).where(User.email == check_email(email)))
    if found is None:
        raise NotFound(f"No user with the email {email}.")
    return found


def _user_line(s: Session, user: User) -> str:
    from models.accounts.admin import status_of

    names = {t.id: t.name for t in s.scalars(select(Team))}
    return json.dumps({"id": user.id, "email": user.email, "name": user.name, "role": user.role,
                       "status": status_of(user), "teams": [names.get(i) for i in sorted(user.team_ids)]})


AS_ADMIN = click.option("--as", "as_admin", default=None, help="The admin this is done as (default: the first).")


@click.group(help="Manage users: list, invite by email, deactivate, reactivate.")
def users() -> None:
    pass


@users.command("list", help="Users as JSON lines; --search matches name or email.")
@click.option("--search", default=None)
@click.option("--role", type=click.Choice(["admin", "supervisor", "agent"]), default=None)
@click.option("--status", type=click.Choice(["active", "invited", "deactivated", "all"]), default="all",
              show_default=True)
def users_list(search: str | None, role: str | None, status: str | None) -> None:
    from models.accounts.admin import users_select

    with fail_cleanly():
        db = migrated_db(_settings())
        with db.session() as s:
            for u in s.scalars(users_select(search, role, status)):
                click.echo(_user_line(s, u))


@users.command("invite", help="Invite a user by email: a one-time link (72 h) to choose a password is mailed "
                              "(needs PARLEY_SMTP_URL and PARLEY_PUBLIC_URL).")
@click.argument("email")
@click.option("--name", default=None)
@click.option("--role", type=click.Choice(["admin", "supervisor", "agent"]), default="agent", show_default=True)
@click.option("--team", "teams", multiple=True, help="Team name (repeat for several; default: the default team).")
@AS_ADMIN
def users_invite(email: str, name: str | None, role: str, teams: tuple[str, ...], as_admin: str | None) -> None:
    from console import invitations
    from models.accounts.admin import NewUser, do_add_user
    from models.accounts.passwords import Purpose, do_issue_password_link

    settings = _settings()
    with fail_cleanly():
        invitations.require_mail(settings)
        base = invitations.base_url(settings, None)
        db = _db(settings)
        with db.transaction() as s:
            actor = _actor(s, as_admin)
            team_ids = None
            if teams:
                found = {t.name: t.id for t in s.scalars(select(Team).where(Team.name.in_(teams)))}
                unknown = [t for t in teams if t not in found]
                if unknown:
                    raise NotFound(f"No team named {', '.join(unknown)}.")
                team_ids = tuple(found[t] for t in teams)
            user = do_add_user(s, actor, NewUser(email=email, name=name, role=role, team_ids=team_ids))
            link = do_issue_password_link(s, user, Purpose.INVITE, actor=actor)
            mail = invitations.compose(settings, to=user.email, name=user.name,
                                       url=invitations.link_url(base, link), link=link, inviter=actor.name)
            line = json.loads(_user_line(s, user))
        outcome = invitations.deliver(settings, mail)
        click.echo(json.dumps({**line, "invitation": {**outcome.json(), "expires_at": link.expires_at.isoformat()}}))
        if not outcome.sent:
            raise click.ClickException(f"the user exists but the mail was not sent: {outcome.error}")


def _change(email: str, as_admin: str | None, action: Any) -> None:
    settings = _settings()
    with fail_cleanly():
        db = _db(settings)
        with db.transaction() as s:
            user = action(s, _actor(s, as_admin), _user(s, email).id)
            click.echo(_user_line(s, user))


@users.command("deactivate", help="Deactivate a user: sign-in refused; sessions, API tokens and sockets end.")
@click.argument("email")
@AS_ADMIN
def users_deactivate(email: str, as_admin: str | None) -> None:
    from models.accounts.admin import do_deactivate_user

    _change(email, as_admin, do_deactivate_user)


@users.command("reactivate", help="Reactivate a user: they may sign in again.")
@click.argument("email")
@AS_ADMIN
def users_reactivate(email: str, as_admin: str | None) -> None:
    from models.accounts.admin import do_reactivate_user

    _change(email, as_admin, do_reactivate_user)


@click.group(help="Manage teams: list, create, archive.")
def teams() -> None:
    pass


def _team_line(s: Session, team: Team) -> str:
    from models.accounts.teams import open_conversations

    return json.dumps({"id": team.id, "name": team.name, "archived": team.archived_at is not None,
                       "members": len(team.members), "open_conversations": open_conversations(s, team.id)})


@teams.command("list", help="Teams as JSON lines (archived ones with --archived).")
@click.option("--archived", is_flag=True, help="Include archived teams.")
def teams_list(archived: bool) -> None:
    with fail_cleanly():
        db = migrated_db(_settings())
        with db.session() as s:
            stmt = select(Team).order_by(Team.id)
            for team in s.scalars(stmt if archived else stmt.where(Team.archived_at.is_(None))):
                click.echo(_team_line(s, team))


@teams.command("create", help="Create a team.")
@click.argument("name")
@AS_ADMIN
def teams_create(name: str, as_admin: str | None) -> None:
    from models.accounts.teams import do_create_team

    with fail_cleanly():
        db = migrated_db(_settings())
        with db.transaction() as s:
            click.echo(_team_line(s, do_create_team(s, _actor(s, as_admin), name)))


@teams.command("archive", help="Archive a team (refused while it has open conversations).")
@click.argument("name")
@AS_ADMIN
def teams_archive(name: str, as_admin: str | None) -> None:
    from models.accounts.teams import do_archive_team

    with fail_cleanly():
        db = migrated_db(_settings())
        with db.transaction() as s:
            team = s.scalar(select(Team).where(Team.name == name))
            if team is None:
                raise NotFound(f"No team named {name}.")
            click.echo(_team_line(s, do_archive_team(s, _actor(s, as_admin), team.id)))
