"""`parley`: run the server, migrate, manage users, train and evaluate the bot."""

from __future__ import annotations

import json
import os

import click

from console.cli.support import DEFAULT_THREADS, MAX_THREADS, fail_cleanly, migrated_db
from models.db import Database
from models.settings import Settings, load_dotenv_file, read_vars
from models.telemetry.logs import configure as configure_logging


def _settings() -> Settings:
    return Settings.from_env()


@click.group(help="Parley: a chatbot-first conversation platform.")
@click.option("-v", "--verbose", is_flag=True, help="Log debug messages.")
def main(verbose: bool) -> None:
    # Only the two logging variables are read here, so that whatever else is wrong in the configuration is
    # said by the command, through the log set up here.
    load_dotenv_file()
    try:
        values = read_vars(os.environ, ("log_format", "log_level"))
    except ValueError:  # `Settings.from_env()` names the bad value when the command reads its settings
        values = {"log_format": "text", "log_level": "INFO"}
    configure_logging(values["log_format"], values["log_level"], verbose=verbose)


@main.command(help="Migrate, train the bot if its data changed, and serve everything in one process.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--threads", default=DEFAULT_THREADS, show_default=True, type=click.IntRange(1, MAX_THREADS),
              help="Threads serving requests (each open WebSocket holds one).")
@click.option("--concurrency", default=4, show_default=True, type=click.IntRange(1, 256),
              help="Bot turns run at once.")
def run(host: str, port: int, threads: int, concurrency: int) -> None:
    from console.runtime.serve import serve
    from models.production import check_production_defaults

    settings = _settings()
    with fail_cleanly():  # before touching the database: a clear message, exit 1
        check_production_defaults(settings)
    serve(settings, host=host, port=port, threads=threads, concurrency=concurrency)


@main.group(help="Database schema.")
def db() -> None:
    pass


@db.command("upgrade", help="Apply the migrations (to the latest schema by default).")
@click.option("--revision", default="heads", show_default=True)
def db_upgrade(revision: str) -> None:
    from models.migrate import current_revision, upgrade

    database = Database(_settings().database_url)
    upgrade(database.engine, revision)
    click.echo(f"database at revision {current_revision(database.engine)}")


@main.group(help="Users and API tokens.")
def user() -> None:
    pass


@user.command("create", help="Create a user (in the default team unless --team names another).")
@click.option("--email", required=True)
@click.option("--password", required=True, prompt=True, hide_input=True, confirmation_prompt=False)
@click.option("--role", type=click.Choice(["admin", "supervisor", "agent"]), default="agent", show_default=True)
@click.option("--name", default=None)
@click.option("--team", default=None, help="Team name (created if new).")
def user_create(email: str, password: str, role: str, name: str | None, team: str | None) -> None:
    from models.accounts.users import do_create_user

    with fail_cleanly():
        db = migrated_db(_settings())
        with db.transaction() as s:
            u = do_create_user(s, email=email, password=password, role=role, name=name, team_name=team)
            click.echo(json.dumps({"id": u.id, "email": u.email, "role": u.role}))


@user.command("token", help="Print a new API token for a user (use as 'Authorization: Bearer <token>'). "
                            "Shown once: only its hash is kept.")
@click.argument("email", required=False)
@click.option("--email", "email_option", default=None, help="The same as EMAIL.")
@click.option("--name", default="cli", show_default=True, help="What the token is for, to tell tokens apart.")
@click.option("--expires-days", type=click.IntRange(1, 3650), default=None,
              help="Expire after N days (default: never).")
def user_token(email: str | None, email_option: str | None, name: str, expires_days: int | None) -> None:
    from models.accounts.tokens import do_issue_token

    if not (email or email_option):
        raise click.UsageError("Name the user: parley user token EMAIL")
    with fail_cleanly():
        db = migrated_db(_settings())
        with db.transaction() as s:
            click.echo(do_issue_token(s, str(email or email_option), name=name, expires_days=expires_days))


@user.command("tokens", help="List a user's API tokens (JSON lines: id, name, created, expires, last used).")
@click.argument("email")
def user_tokens(email: str) -> None:
    from sqlalchemy import select

    from console.api.me import token_json
    from models.accounts.tokens import tokens_of
    from models.accounts.users import check_email
    from models.errors import NotFound
    from models.schema.accounts import User

    with fail_cleanly():
        db = migrated_db(_settings())
        with db.session() as s:
            found = s.scalar(select(User).where(User.email == check_email(email)))
            if found is None:
                raise NotFound(f"No user with the email {email}.")
            for row in tokens_of(s, found.id):
                click.echo(json.dumps(token_json(row)))


@user.command("revoke-token", help="Revoke an API token by id; sockets opened with it close.")
@click.argument("token_id", type=int)
def user_revoke_token(token_id: int) -> None:
    from console.realtime.revocation import SocketRevocations
    from models.accounts.tokens import do_revoke_token

    settings = _settings()
    with fail_cleanly():
        db = migrated_db(settings)
        # No sockets here: the revocation reaches the web processes through Redis.
        db.bus.subscribe(SocketRevocations(lambda _sid: None, redis_url=settings.redis_url,
                                           channel=settings.socketio_channel))
        with db.transaction() as s:
            do_revoke_token(s, token_id)
        click.echo(json.dumps({"revoked": token_id}))


def _mount_bot() -> None:
    from bot.cli import bot

    main.add_command(bot)


def _mount_channels() -> None:
    from console.cli.channels import channel
    from console.cli.worker import web, worker

    main.add_command(channel)
    main.add_command(web)
    main.add_command(worker)


def _mount_inboxes() -> None:
    from console.cli.inboxes import inboxes

    main.add_command(inboxes)


def _mount_config() -> None:
    from console.cli.config import config

    main.add_command(config)


def _mount_accounts() -> None:
    from console.cli.accounts import teams, users

    main.add_command(users)
    main.add_command(teams)


_mount_bot()
_mount_channels()
_mount_accounts()
_mount_config()
_mount_inboxes()
