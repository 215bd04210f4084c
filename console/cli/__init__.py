"""`parley`: run the server, migrate, manage users, train and evaluate the bot."""

from __future__ import annotations

import json
import os

import click

from console.cli.support import fail_cleanly, migrated_db
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
def run(host: str, port: int) -> None:
    from console.runtime.serve import serve

    serve(_settings(), host=host, port=port)


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


@user.command("token", help="Print a new API token for a user (use as 'Authorization: Bearer <token>').")
@click.option("--email", required=True)
def user_token(email: str) -> None:
    from models.accounts.users import do_issue_token

    with fail_cleanly():
        db = migrated_db(_settings())
        with db.transaction() as s:
            click.echo(do_issue_token(s, email))






def _mount_bot() -> None:
    from bot.cli import bot

    main.add_command(bot)


def _mount_channels() -> None:
    from console.cli.channels import channel
    from console.cli.worker import worker

    main.add_command(channel)
    main.add_command(worker)


def _mount_config() -> None:
    from console.cli.config import config

    main.add_command(config)


_mount_bot()
_mount_channels()
_mount_config()
