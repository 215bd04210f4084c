"""`parley channel …` (SMS/WhatsApp configuration) and `parley worker` (the delivery worker alone)."""

from __future__ import annotations

import json
import logging
from typing import Any

import click

from console.cli.support import fail_cleanly, migrated_db

log = logging.getLogger(__name__)






@click.group("channel", help="SMS and WhatsApp channels (secrets are stored, never printed).")
def channel() -> None:
    pass


@channel.command("list", help="The configured channels as JSON (secrets only as set/not set).")
def channel_list() -> None:
    from models.channels.config import channel_json, list_channels

    with fail_cleanly(), migrated_db().session() as s:
        click.echo(json.dumps([channel_json(c) for c in list_channels(s)], indent=2))


@channel.group("add", help="Add a channel.")
def channel_add() -> None:
    pass


def _create(kind: str, data: dict[str, Any]) -> None:
    from models.channels.config import channel_json, do_create_channel

    with fail_cleanly(), migrated_db().transaction() as s:
        config = do_create_channel(s, None, kind, {k: v for k, v in data.items() if v is not None})
        click.echo(json.dumps(channel_json(config)))


@channel_add.command("twilio", help="A Twilio number for SMS (and WhatsApp through Twilio).")
@click.option("--account-sid", required=True)
@click.option("--auth-token", required=True, prompt=True, hide_input=True, help="Prompted for when omitted.")
@click.option("--number", required=True, help="Our number, E.164 (+15550001111).")
@click.option("--name", default=None)
@click.option("--messaging-service-sid", default=None)
@click.option("--whatsapp/--no-whatsapp", default=True, show_default=True,
              help="This number also serves WhatsApp through Twilio.")
def add_twilio(account_sid: str, auth_token: str, number: str, name: str | None,
               messaging_service_sid: str | None, whatsapp: bool) -> None:
    _create("twilio", {"account_sid": account_sid, "auth_token": auth_token, "number": number, "name": name,
                       "messaging_service_sid": messaging_service_sid, "whatsapp": whatsapp})


@channel_add.command("whatsapp-cloud", help="A WhatsApp Cloud API phone number.")
@click.option("--phone-number-id", required=True)
@click.option("--token", required=True, prompt=True, hide_input=True, help="Prompted for when omitted.")
@click.option("--app-secret", required=True, prompt=True, hide_input=True, help="Prompted for when omitted.")
@click.option("--verify-token", required=True, prompt=True, hide_input=True, help="Prompted for when omitted.")
@click.option("--business-account-id", default=None)
@click.option("--name", default=None)
def add_whatsapp_cloud(phone_number_id: str, token: str, app_secret: str, verify_token: str,
                       business_account_id: str | None, name: str | None) -> None:
    _create("whatsapp_cloud", {"phone_number_id": phone_number_id, "token": token, "app_secret": app_secret,
                               "verify_token": verify_token, "business_account_id": business_account_id,
                               "name": name})


@channel.command("template", help="Add or replace a WhatsApp template on a channel.")
@click.argument("channel_id", type=int)
@click.option("--name", required=True, help="What agents pick, e.g. order_update.")
@click.option("--provider-id", required=True, help="The Twilio Content SID (HX…) or the Cloud API template name.")
@click.option("--language", default="en", show_default=True)
@click.option("--body", default="", help="The text agents see, with {{1}}, {{2}}… for the variables.")
@click.option("--variable", "variables", multiple=True, help="A label per variable, in order.")
def channel_template(channel_id: int, name: str, provider_id: str, language: str, body: str,
                     variables: tuple[str, ...]) -> None:
    from models.channels.config import channel_json, do_update_channel, get_channel

    with fail_cleanly(), migrated_db().transaction() as s:
        config = get_channel(s, channel_id)
        others = [t for t in config.templates or [] if t.get("name") != name]
        do_update_channel(s, None, config, {"templates": [*others, {
            "name": name, "provider_id": provider_id, "language": language, "body": body,
            "variables": list(variables)}]})
        click.echo(json.dumps(channel_json(config)))


@channel.command("remove", help="Remove a channel.")
@click.argument("channel_id", type=int)
def channel_remove(channel_id: int) -> None:
    from models.channels.config import do_delete_channel, get_channel

    with fail_cleanly(), migrated_db().transaction() as s:
        do_delete_channel(s, None, get_channel(s, channel_id))
        click.echo(f"removed channel {channel_id}")
