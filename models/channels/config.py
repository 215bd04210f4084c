"""Provider configurations, managed by admins (console page, `parley channel …`) or seeded from
the environment. Secrets are write-only: accepted, stored, used, never shown back or logged."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.audit import audit
from models.channels.settings import ChannelSettings
from models.contacts.phone import InvalidNumber, to_e164
from models.errors import Conflict, Forbidden, InvalidInput, NotFound
from models.inboxes.manage import do_drop_config_inboxes
from models.inboxes.routing import do_make_config_inboxes
from models.schema.accounts import Role, User
from models.schema.base import utcnow
from models.schema.channels import ChannelConfig, ProviderKind

SECRETS = {ProviderKind.TWILIO.value: ("auth_token",),
           ProviderKind.WHATSAPP_CLOUD.value: ("token", "app_secret", "verify_token")}


KINDS = tuple(SECRETS)


_VAR = re.compile(r"\{\{\s*(\d+)\s*\}\}")


def check_admin(user: User) -> None:
    if user.role != Role.ADMIN.value:
        raise Forbidden("Only admins can manage channels.")


def _str(data: dict[str, Any], key: str, *, required: bool, max_len: int = 200) -> str | None:
    value = data.get(key)
    if value is None or value == "":
        if required:
            raise InvalidInput(f"{key} is required.", code="missing")
        return None
    if not isinstance(value, str) or len(value) > max_len:
        raise InvalidInput(f"{key} must be a string of at most {max_len} characters.")
    return value.strip()


def check_templates(raw: Any) -> list[dict[str, Any]]:
    """[{"name", "provider_id", "language", "body", "variables"}]: a Twilio Content SID or a Cloud
    API template name as `provider_id`; `body` with {{1}}, {{2}}… is what the agent sees."""
    if not isinstance(raw, list) or len(raw) > 100:
        raise InvalidInput("templates must be a list (at most 100).")
    out: list[dict[str, Any]] = []
    names: set[str] = set()
    for t in raw:
        if not isinstance(t, dict):
            raise InvalidInput("Each template must be an object.")
        name = _str(t, "name", required=True, max_len=100)
        provider_id = _str(t, "provider_id", required=True, max_len=200)
        language = _str(t, "language", required=False, max_len=20) or "en"
        body = _str(t, "body", required=False, max_len=2000) or ""
        assert name is not None and provider_id is not None
        if name in names:
            raise InvalidInput(f"Two templates are named {name!r}.")
        names.add(name)
        labels = t.get("variables") or []
        if not isinstance(labels, list) or not all(isinstance(v, str) for v in labels):
            raise InvalidInput("variables must be a list of labels.")
        count = max([int(n) for n in _VAR.findall(body)] + [len(labels)])
        labels = [*labels, *(f"Variable {i + 1}" for i in range(len(labels), count))]
        out.append({"name": name, "provider_id": provider_id, "language": language, "body": body,
                    "variables": labels})
    return out


def fill_template(template: dict[str, Any], values: list[str]) -> str:
    body = template.get("body") or f"[template {template.get('name')}]"
    return _VAR.sub(lambda m: values[int(m.group(1)) - 1] if 0 < int(m.group(1)) <= len(values) else m.group(0),
                    body)


def _fields(kind: str, data: dict[str, Any], existing: ChannelConfig | None) -> dict[str, Any]:
    creating = existing is None
    out: dict[str, Any] = {}
    if "name" in data or creating:
        out["name"] = _str(data, "name", required=False, max_len=120) or (
            "SMS & WhatsApp (Twilio)" if kind == ProviderKind.TWILIO.value else "WhatsApp (Cloud API)")
    if "enabled" in data:
        if not isinstance(data["enabled"], bool):
            raise InvalidInput("enabled must be true or false.")
        out["enabled"] = data["enabled"]
    if kind == ProviderKind.TWILIO.value:
        if "number" in data or creating:
            raw = _str(data, "number", required=creating, max_len=40)
            try:
                out["address"] = to_e164(raw or "")
            except InvalidNumber as exc:
                raise InvalidInput("number must be a phone number in international format.",
                                   code="bad_number") from exc
        if "account_sid" in data or creating:
            sid = _str(data, "account_sid", required=creating, max_len=64)
            if sid is not None and not re.fullmatch(r"AC[0-9a-zA-Z]{8,62}", sid):
                raise InvalidInput("account_sid looks like AC followed by 32 characters.", code="bad_sid")
            out["account"] = sid
        options = dict(existing.options) if existing else {}
        if "messaging_service_sid" in data:
            options["messaging_service_sid"] = _str(data, "messaging_service_sid", required=False, max_len=64)
        if "whatsapp" in data:
            if not isinstance(data["whatsapp"], bool):
                raise InvalidInput("whatsapp must be true or false.")
            options["whatsapp"] = data["whatsapp"]
        options.setdefault("whatsapp", True)
        out["options"] = options
    else:
        if "phone_number_id" in data or creating:
            pnid = _str(data, "phone_number_id", required=creating, max_len=64)
            if pnid is not None and not pnid.isdigit():
                raise InvalidInput("phone_number_id is the number id Meta shows (digits).", code="bad_id")
            out["address"] = pnid
        if "business_account_id" in data:
            out["account"] = _str(data, "business_account_id", required=False, max_len=64)
    secrets = dict(existing.secrets) if existing else {}
    for key in SECRETS[kind]:
        if key in data and data[key] not in (None, ""):
            value = data[key]
            if not isinstance(value, str) or len(value) > 1000:
                raise InvalidInput(f"{key} must be a string.")
            secrets[key] = value.strip()
        elif creating:
            raise InvalidInput(f"{key} is required.", code="missing")
    out["secrets"] = secrets
    if "templates" in data:
        out["templates"] = check_templates(data["templates"])
    return out


def do_create_channel(session: Session, actor: User | None, kind: Any, data: dict[str, Any],
                      *, source: str = "admin") -> ChannelConfig:
    if kind not in KINDS:
        raise InvalidInput(f"kind must be one of: {', '.join(KINDS)}.", code="bad_kind")
    fields = _fields(kind, data, None)
    if session.scalar(select(ChannelConfig.id).where(ChannelConfig.kind == kind,
                                                     ChannelConfig.address == fields["address"])):
        raise Conflict("That number is already configured.", code="exists")
    now = utcnow()
    config = ChannelConfig(kind=kind, source=source, created_at=now, updated_at=now, **fields)
    session.add(config)
    session.flush()
    do_make_config_inboxes(session, config)  # where its conversations land (with the first team)
    audit(session, "channel.created", actor=actor, channel_id=config.id, provider=kind, source=source)
    return config


def do_update_channel(session: Session, actor: User | None, config: ChannelConfig, data: dict[str, Any]) -> None:
    fields = _fields(config.kind, data, config)
    if "address" in fields and fields["address"] != config.address and session.scalar(
            select(ChannelConfig.id).where(ChannelConfig.kind == config.kind,
                                           ChannelConfig.address == fields["address"])):
        raise Conflict("That number is already configured.", code="exists")
    changed = sorted(k for k in data if k in (*SECRETS[config.kind], "name", "enabled", "number", "account_sid",
                                              "phone_number_id", "templates", "whatsapp", "messaging_service_sid",
                                              "business_account_id"))
    for key, value in fields.items():
        setattr(config, key, value)
    config.updated_at = utcnow()
    do_make_config_inboxes(session, config)  # e.g. WhatsApp just turned on for a Twilio number
    # Names of what changed, never values (they may be secrets).
    audit(session, "channel.updated", actor=actor, channel_id=config.id, changed=changed)


def do_delete_channel(session: Session, actor: User | None, config: ChannelConfig) -> None:
    audit(session, "channel.deleted", actor=actor, channel_id=config.id, provider=config.kind)
    do_drop_config_inboxes(session, actor, config.id)
    session.delete(config)


def get_channel(session: Session, channel_id: int) -> ChannelConfig:
    config = session.get(ChannelConfig, channel_id)
    if config is None:
        raise NotFound("No such channel.")
    return config


def channel_json(config: ChannelConfig) -> dict[str, Any]:
    """What admins see: everything but the secrets, which show only whether they are set."""
    out: dict[str, Any] = {"id": config.id, "kind": config.kind, "name": config.name, "enabled": config.enabled,
                           "source": config.source, "templates": config.templates or [],
                           "secrets": {k: bool(config.secret(k)) for k in SECRETS[config.kind]},
                           "created_at": config.created_at.isoformat(), "updated_at": config.updated_at.isoformat()}
    if config.kind == ProviderKind.TWILIO.value:
        out.update(number=config.address, account_sid=config.account,
                   whatsapp=bool((config.options or {}).get("whatsapp", True)),
                   messaging_service_sid=(config.options or {}).get("messaging_service_sid"))
    else:
        out.update(phone_number_id=config.address, business_account_id=config.account)
    return out


def list_channels(session: Session) -> list[ChannelConfig]:
    return list(session.scalars(select(ChannelConfig).order_by(ChannelConfig.id)))


def do_seed_from_env(session: Session, settings: ChannelSettings) -> list[ChannelConfig]:
    """Make (or update) the channels the PARLEY_TWILIO_* / PARLEY_WHATSAPP_* variables describe."""
    made: list[ChannelConfig] = []
    v = settings.seed_value
    specs: list[tuple[str, dict[str, Any], str]] = []
    if v("PARLEY_TWILIO_ACCOUNT_SID") and v("PARLEY_TWILIO_AUTH_TOKEN") and v("PARLEY_TWILIO_NUMBER"):
        specs.append((ProviderKind.TWILIO.value, {"account_sid": v("PARLEY_TWILIO_ACCOUNT_SID"),
                                                  "auth_token": v("PARLEY_TWILIO_AUTH_TOKEN"),
                                                  "number": v("PARLEY_TWILIO_NUMBER")}, "number"))
    if v("PARLEY_WHATSAPP_TOKEN") and v("PARLEY_WHATSAPP_PHONE_NUMBER_ID") and v("PARLEY_WHATSAPP_APP_SECRET"):
        specs.append((ProviderKind.WHATSAPP_CLOUD.value, {
            "token": v("PARLEY_WHATSAPP_TOKEN"), "app_secret": v("PARLEY_WHATSAPP_APP_SECRET"),
            "verify_token": v("PARLEY_WHATSAPP_VERIFY_TOKEN") or v("PARLEY_WHATSAPP_APP_SECRET"),
            "phone_number_id": v("PARLEY_WHATSAPP_PHONE_NUMBER_ID")}, "phone_number_id"))
    for kind, data, address_key in specs:
        address = data[address_key]
        if kind == ProviderKind.TWILIO.value:
            try:
                address = to_e164(address)
            except InvalidNumber as exc:
                raise InvalidInput("PARLEY_TWILIO_NUMBER is not a phone number.") from exc
        existing = session.scalar(select(ChannelConfig).where(ChannelConfig.kind == kind,
                                                              ChannelConfig.address == address))
        if existing is None:
            made.append(do_create_channel(session, None, kind, data, source="env"))
            continue
        secrets = {k: data[k] for k in SECRETS[kind]}
        if existing.secrets != secrets or (kind == ProviderKind.TWILIO.value
                                           and existing.account != data["account_sid"]):
            do_update_channel(session, None, existing, {k: val for k, val in data.items() if k != address_key})
        made.append(existing)
    return made
