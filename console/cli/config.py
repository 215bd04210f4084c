"""`parley config show`: what is in effect, with secrets masked, so an operator can check a deployment."""

from __future__ import annotations

import json
import sys

import click

from models.settings import Settings
from models.settings_view import describe


@click.group("config", help="Configuration in effect (environment variables and .env).")
def config() -> None:
    pass


@config.command("show", help="Every variable, its value in effect and its meaning; secrets masked.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object: variable -> value in effect.")
def config_show(as_json: bool) -> None:
    try:
        settings = Settings.from_env()
    except ValueError as exc:  # a bad value is the operator's mistake: say which, no traceback
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    rows = describe(settings)
    if as_json:
        click.echo(json.dumps({name: value for name, value, _ in rows}, indent=2))
        return
    width = max(len(name) for name, _, _ in rows)
    for name, value, meaning in rows:
        click.echo(f"{name:<{width}}  {value}")
        click.echo(f"{'':<{width}}  # {meaning}")
