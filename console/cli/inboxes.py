"""`parley inboxes …`: where conversations land (chat widgets and numbers, each owned by a team)."""

from __future__ import annotations

import json

import click

from console.cli.support import fail_cleanly, migrated_db


@click.group("inboxes", help="Inboxes: chat widgets and numbers, each owned by a team.")
def inboxes() -> None:
    pass


def _base_url(explicit: str | None) -> str:
    from models.settings import Settings

    return explicit or Settings.from_env().public_url or "http://localhost:8000"


@inboxes.command("list", help="Every inbox as JSON (widget keys and script tags included).")
@click.option("--base-url", default=None, help="Where the widget is served (default: PARLEY_PUBLIC_URL).")
def inboxes_list(base_url: str | None) -> None:
    from sqlalchemy import select

    from models.inboxes.manage import inboxes_json
    from models.schema.channels import Inbox

    with fail_cleanly(), migrated_db().session() as s:
        rows = list(s.scalars(select(Inbox).order_by(Inbox.team_id, Inbox.kind, Inbox.id)))
        click.echo(json.dumps(inboxes_json(s, rows, _base_url(base_url)), indent=2))


@inboxes.command("create-widget", help="Add a chat widget for a team; prints it with its script tag.")
@click.option("--name", required=True, help="e.g. 'Shop website'.")
@click.option("--team", "team", required=True, help="The team's id or name.")
@click.option("--origin", "origins", multiple=True, help="A site it may run on (repeat); none: any allowed site.")
@click.option("--greeting", default=None)
@click.option("--color", default=None, help="#rrggbb")
@click.option("--title", default=None)
@click.option("--base-url", default=None, help="Where the widget is served (default: PARLEY_PUBLIC_URL).")
def create_widget(name: str, team: str, origins: tuple[str, ...], greeting: str | None, color: str | None,
                  title: str | None, base_url: str | None) -> None:
    from sqlalchemy import select

    from models.errors import NotFound
    from models.inboxes.manage import do_create_inbox, inboxes_json
    from models.schema.accounts import Team
    from models.settings import Settings

    settings = Settings.from_env()
    with fail_cleanly(), migrated_db().transaction() as s:
        row = s.scalar(select(Team).where(Team.id == int(team))) if team.isdigit() and len(team) < 10 else s.scalar(
            select(Team).where(Team.name == team))
        if row is None:
            raise NotFound(f"No team {team!r}.")
        data = {"kind": "webchat", "name": name, "team_id": row.id, "origins": list(origins),
                **{k: v for k, v in (("greeting", greeting), ("color", color), ("title", title)) if v is not None}}
        inbox = do_create_inbox(s, None, data, settings.widget_origins)
        click.echo(json.dumps(inboxes_json(s, [inbox], _base_url(base_url))[0], indent=2))
