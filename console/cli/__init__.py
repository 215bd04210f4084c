"""`parley`: run the server, migrate, manage users, train and evaluate the bot."""

from __future__ import annotations

import json
import logging

import click

from console.cli.support import fail_cleanly, migrated_db
from models.db import Database
from models.settings import Settings


def _settings() -> Settings:
    return Settings.from_env()


@click.group(help="Parley: a chatbot-first conversation platform.")
@click.option("-v", "--verbose", is_flag=True, help="Log debug messages.")
def main(verbose: bool) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not verbose:
        # httpx logs every request's URL at INFO: noise, and Rasa's API token rides in the query string.
        for noisy in ("alembic", "werkzeug", "engineio", "socketio", "httpx"):
            logging.getLogger(noisy).setLevel(logging.WARNING)


@main.command(help="Migrate, train the bot if its data changed, and serve everything in one process.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--threads", default=32, show_default=True, type=click.IntRange(1, 1000),
              help="Threads serving requests (each open WebSocket holds one).")
@click.option("--concurrency", default=4, show_default=True, type=click.IntRange(1, 256),
              help="Bot turns run at once.")
def run(host: str, port: int, threads: int, concurrency: int) -> None:
    from console.runtime.serve import serve

    serve(_settings(), host=host, port=port, threads=threads, concurrency=concurrency)


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
    from console.cli.worker import web, worker

    main.add_command(channel)
    main.add_command(web)
    main.add_command(worker)


_mount_bot()
_mount_channels()
