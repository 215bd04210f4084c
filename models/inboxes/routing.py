"""Which inbox a new conversation lands in, and through it which team's queue.

Webchat: the widget key the widget connects with; a widget without a key uses the default webchat
inbox, so embeds made before inboxes keep working. SMS/WhatsApp: the inbox of the number (channel
configuration) the message came in on, for its kind; a number with no inbox of that kind (detached by
an admin) falls back to the kind's default inbox, and only where there is none is one made for it.

Inboxes are made lazily where none exist yet (a fresh install has no team until the first admin, so
the migration cannot make them): with the first team, like `default_team`.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models.accounts.teams import default_team
from models.errors import Forbidden, NotFound
from models.schema.base import utcnow
from models.schema.channels import ChannelConfig, Inbox, InboxKind, ProviderKind, new_widget_key

DEFAULT_WEBCHAT_NAME = "Website"


def inbox_kinds_of(config: ChannelConfig) -> list[str]:
    """The inbox kinds a number serves: a Twilio number SMS (and WhatsApp unless turned off), a Cloud
    API number WhatsApp."""
    if config.kind == ProviderKind.WHATSAPP_CLOUD.value:
        return [InboxKind.WHATSAPP.value]
    return [InboxKind.SMS.value] + ([InboxKind.WHATSAPP.value] if (config.options or {}).get("whatsapp", True)
                                    else [])


def default_inbox(session: Session, kind: str) -> Inbox | None:
    return session.scalar(select(Inbox).where(Inbox.kind == kind).order_by(Inbox.is_default.desc(), Inbox.id)
                          .limit(1))


def _new_inbox(session: Session, *, name: str, kind: str, config_id: int | None) -> Inbox:
    now = utcnow()
    is_default = flagged_default(session, kind) is None
    inbox = Inbox(name=name, kind=kind, team_id=default_team(session).id, channel_config_id=config_id,
                  widget_key=new_widget_key() if kind == InboxKind.WEBCHAT.value else None,
                  options={}, is_default=is_default, created_at=now, updated_at=now)
    if not is_default:
        session.add(inbox)
        session.flush()
        return inbox
    try:
        with session.begin_nested():  # another process may be making the same default right now
            session.add(inbox)
    except IntegrityError:
        winner = flagged_default(session, kind)
        if winner is None:
            raise
        return winner
    return inbox


def flagged_default(session: Session, kind: str) -> Inbox | None:
    return session.scalar(select(Inbox).where(Inbox.kind == kind, Inbox.is_default.is_(True))
                          .order_by(Inbox.id).limit(1))


def default_webchat_inbox(session: Session) -> Inbox:
    """The inbox of widgets embedded without a key: the one marked default (never merely another team's
    widget that happens to exist), made with the first team on first use."""
    return flagged_default(session, InboxKind.WEBCHAT.value) or _new_inbox(
        session, name=DEFAULT_WEBCHAT_NAME, kind=InboxKind.WEBCHAT.value, config_id=None)


def check_widget_key(key: object) -> str | None:
    """None for "no key"; a string otherwise (its inbox is looked up by `inbox_for_widget`)."""
    if key is None or key == "":
        return None
    if not isinstance(key, str) or len(key) > 40:
        raise NotFound("This chat widget is not known here (its widget key is wrong).", code="unknown_widget")
    return key


def inbox_for_widget(session: Session, key: str | None) -> Inbox:
    """The widget's inbox; an unknown key is refused (a typo must not land chats in someone else's queue)."""
    if key is None:
        return default_webchat_inbox(session)
    inbox = session.scalar(select(Inbox).where(Inbox.widget_key == key, Inbox.kind == InboxKind.WEBCHAT.value))
    if inbox is None:
        raise NotFound("This chat widget is not known here (its widget key is wrong).", code="unknown_widget")
    return inbox


def origins_of(inbox: Inbox) -> list[str]:
    raw = (inbox.options or {}).get("origins") or []
    return [o for o in raw if isinstance(o, str)]


def check_origin(inbox: Inbox, origin: str | None) -> None:
    """A widget inbox that names its sites takes visitors from those sites only (on top of
    PARLEY_WIDGET_ORIGINS, which the socket layer checks first for every widget). None listed: any
    site PARLEY_WIDGET_ORIGINS allows."""
    allowed = origins_of(inbox)
    if allowed and (origin or "").rstrip("/").lower() not in allowed:
        raise Forbidden("This chat widget is not enabled on this website.", code="origin_refused")


def inbox_for_number(session: Session, kind: str, config_id: int | None) -> Inbox:
    """The inbox of the number a message came in on (SMS or WhatsApp)."""
    if config_id is not None:
        inbox = session.scalar(select(Inbox).where(Inbox.channel_config_id == config_id, Inbox.kind == kind))
        if inbox is not None:
            return inbox
    fallback = default_inbox(session, kind)
    if fallback is not None:
        return fallback
    config = session.get(ChannelConfig, config_id) if config_id is not None else None
    name = f"{config.name} ({'SMS' if kind == InboxKind.SMS.value else 'WhatsApp'})" if config else kind.upper()
    return _new_inbox(session, name=name, kind=kind, config_id=config.id if config else None)


def inbox_for_channel(session: Session, channel: str, *, config_id: int | None = None,
                      widget_key: str | None = None) -> Inbox:
    if channel == InboxKind.WEBCHAT.value:
        return inbox_for_widget(session, widget_key)
    return inbox_for_number(session, channel, config_id)


def do_make_config_inboxes(session: Session, config: ChannelConfig) -> Sequence[Inbox]:
    """A number added by an admin or from the environment gets an inbox per kind it serves (with the
    first team; admins move it), unless it has one already."""
    made = []
    for kind in inbox_kinds_of(config):
        exists = session.scalar(select(Inbox.id).where(Inbox.channel_config_id == config.id, Inbox.kind == kind))
        if exists is None:
            label = "SMS" if kind == InboxKind.SMS.value else "WhatsApp"
            made.append(_new_inbox(session, name=f"{config.name} ({label})"[:120], kind=kind, config_id=config.id))
    return made
