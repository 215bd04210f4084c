"""What admins do with inboxes: list, create (a widget, or a number attached to a team), change, delete.

Who may: admins change inboxes. Admins and supervisors see every inbox (supervisors read-only);
agents see the inboxes of their own teams (the Team inbox filter), so a widget key or a number never
shows another team's setup to them.

Moving an inbox to another team routes its *new* conversations there; conversations already open stay
with the team that is working on them (they may be assigned, transferred, half answered).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from models.audit import audit
from models.errors import Conflict, Forbidden, InvalidInput, NotFound
from models.feedback.options import feedback_view
from models.inboxes.identity import new_identity_secret
from models.inboxes.options import check_widget_options, widget_view
from models.inboxes.routing import inbox_kinds_of
from models.schema.accounts import Role, Team, User
from models.schema.base import utcnow
from models.schema.channels import ChannelConfig, Inbox, InboxKind, new_widget_key
from models.schema.conversations import Conversation, Status

KINDS = tuple(k.value for k in InboxKind)
WIDGET_FIELDS = ("origins", "greeting", "color", "title", "prechat_form", "rating")


def check_admin(user: User) -> None:
    if user.role != Role.ADMIN.value:
        raise Forbidden("Only admins can manage inboxes.")


def visible_inboxes(session: Session, user: User) -> list[Inbox]:
    stmt = select(Inbox).order_by(Inbox.team_id, Inbox.kind, Inbox.id)
    if not user.sees_all_teams:
        stmt = stmt.where(Inbox.team_id.in_(user.team_ids or [-1]))
    return list(session.scalars(stmt))


def access_inbox(session: Session, user: User, inbox_id: int) -> Inbox:
    inbox = session.get(Inbox, inbox_id)
    if inbox is None or (not user.sees_all_teams and inbox.team_id not in user.team_ids):
        raise NotFound("No such inbox.")
    return inbox


def check_inbox_filter(session: Session, user: User, inbox_id: int | None) -> int | None:
    """The Team inbox's `inbox_id` filter: an inbox the user may see (else 404, like any hidden row)."""
    if inbox_id is None:
        return None
    return access_inbox(session, user, inbox_id).id


def embed_snippet(base_url: str, widget_key: str) -> str:
    base = base_url.rstrip("/")
    return (f'<script src="{html.escape(base)}/widget/widget.js" '
            f'data-widget-key="{html.escape(widget_key)}" defer></script>')


def open_counts(session: Session, ids: Sequence[int]) -> dict[int, int]:
    if not ids:
        return {}
    rows = session.execute(select(Conversation.inbox_id, func.count(Conversation.id))
                           .where(Conversation.inbox_id.in_(ids), Conversation.status == Status.OPEN.value)
                           .group_by(Conversation.inbox_id)).all()
    return {int(i): int(n) for i, n in rows if i is not None}


def inboxes_json(session: Session, inboxes: Sequence[Inbox], base_url: str) -> list[dict[str, Any]]:
    """Never the identity-verification secret; a widget's key and snippet (public: they are in the page)."""
    teams = {t.id: t.name for t in session.scalars(select(Team).where(Team.id.in_({i.team_id for i in inboxes})))}
    configs = {c.id: c for c in session.scalars(select(ChannelConfig).where(
        ChannelConfig.id.in_({i.channel_config_id for i in inboxes if i.channel_config_id})))}
    counts = open_counts(session, [i.id for i in inboxes])
    out = []
    for i in inboxes:
        item: dict[str, Any] = {
            "id": i.id, "name": i.name, "kind": i.kind, "team": {"id": i.team_id, "name": teams.get(i.team_id)},
            "is_default": i.is_default, "channel_config_id": i.channel_config_id, "open_conversations":
            counts.get(i.id, 0), "created_at": i.created_at.isoformat(), "updated_at": i.updated_at.isoformat()}
        if i.kind == InboxKind.WEBCHAT.value:
            item.update(widget_key=i.widget_key, origins=list((i.options or {}).get("origins") or []),
                        widget=widget_view(i.options or {}), embed=embed_snippet(base_url, i.widget_key or ""),
                        **feedback_view(i.options))
        else:
            config = configs.get(i.channel_config_id or 0)
            item["channel"] = ({"id": config.id, "kind": config.kind, "name": config.name, "address": config.address}
                               if config else None)
        out.append(item)
    return out


def _name(raw: Any) -> str:
    if not isinstance(raw, str) or not raw.strip() or len(raw.strip()) > 120:
        raise InvalidInput("name is required: at most 120 characters.", code="invalid")
    return raw.strip()


def _team(session: Session, raw: Any) -> Team:
    team = session.get(Team, raw) if isinstance(raw, int) and not isinstance(raw, bool) else None
    if team is None:
        raise InvalidInput("team_id names no team.", code="no_team")
    if team.archived_at is not None:
        raise Conflict(f"{team.name} is archived: an inbox must belong to a team that takes conversations.",
                       code="team_archived")
    return team


def _config_for(session: Session, kind: str, raw: Any) -> ChannelConfig:
    config = session.get(ChannelConfig, raw) if isinstance(raw, int) and not isinstance(raw, bool) else None
    if config is None:
        raise InvalidInput("channel_config_id names no configured number.", code="no_channel")
    if kind not in inbox_kinds_of(config):
        raise InvalidInput(f"That number does not serve {kind} (see its channel configuration).",
                           code="wrong_channel")
    if session.scalar(select(Inbox.id).where(Inbox.channel_config_id == config.id, Inbox.kind == kind)):
        raise Conflict(f"That number already has a {kind} inbox; move that one instead.", code="exists")
    return config


def _refuse_foreign_fields(kind: str, data: dict[str, Any]) -> None:
    if kind == InboxKind.WEBCHAT.value and data.get("channel_config_id") is not None:
        raise InvalidInput("channel_config_id is for SMS and WhatsApp inboxes.", code="invalid")
    if kind != InboxKind.WEBCHAT.value:
        extra = [k for k in WIDGET_FIELDS if k in data]
        if extra:
            raise InvalidInput(f"{', '.join(extra)}: for webchat inboxes only.", code="invalid")


def _make_default(session: Session, inbox: Inbox) -> None:
    session.execute(update(Inbox).where(Inbox.kind == inbox.kind, Inbox.id != inbox.id).values(is_default=False))
    inbox.is_default = True


def do_create_inbox(session: Session, actor: User | None, data: dict[str, Any],
                    widget_origins: Sequence[str]) -> Inbox:
    """`actor` None: the operator, from the command line."""
    if actor is not None:
        check_admin(actor)
    kind = data.get("kind")
    if kind not in KINDS:
        raise InvalidInput(f"kind must be one of: {', '.join(KINDS)}.", code="bad_kind")
    _refuse_foreign_fields(kind, data)
    name, team = _name(data.get("name")), _team(session, data.get("team_id"))
    now = utcnow()
    inbox = Inbox(name=name, kind=kind, team_id=team.id, options={}, is_default=False, created_at=now,
                  updated_at=now)
    if kind == InboxKind.WEBCHAT.value:
        inbox.widget_key = new_widget_key()
        inbox.secret = new_identity_secret()  # the widget SDK's setUser verification (models/inboxes/identity.py)
        inbox.options = check_widget_options(data, {}, widget_origins)
    else:
        inbox.channel_config_id = _config_for(session, kind, data.get("channel_config_id")).id
    session.add(inbox)
    session.flush()
    # Not the default unless asked: keyless widgets keep landing where they did (the first team's
    # "Website" inbox, made on first use), not in whichever team's widget happened to come first.
    if data.get("is_default") is True:
        _make_default(session, inbox)
    audit(session, "inbox.created", actor=actor, inbox_id=inbox.id, inbox_kind=kind, team_id=team.id,
          channel_config_id=inbox.channel_config_id)
    return inbox


def do_update_inbox(session: Session, actor: User, inbox: Inbox, data: dict[str, Any],
                    widget_origins: Sequence[str]) -> None:
    check_admin(actor)
    _refuse_foreign_fields(inbox.kind, data)
    changed: dict[str, Any] = {}
    if "name" in data:
        inbox.name = _name(data["name"])
        changed["name"] = inbox.name
    if "team_id" in data:
        team = _team(session, data["team_id"])
        if team.id != inbox.team_id:
            changed["team_id"] = {"from": inbox.team_id, "to": team.id}
            inbox.team_id = team.id
    if "is_default" in data:
        if data["is_default"] is not True:
            raise InvalidInput("is_default can only be set to true (make another inbox the default to move it).",
                               code="invalid")
        if not inbox.is_default:
            _make_default(session, inbox)
            changed["is_default"] = True
    if inbox.kind == InboxKind.WEBCHAT.value and any(k in data for k in WIDGET_FIELDS):
        inbox.options = check_widget_options(data, dict(inbox.options or {}), widget_origins)
        changed.update({k: True for k in WIDGET_FIELDS if k in data})
    if data.get("rotate_key") is True and inbox.kind == InboxKind.WEBCHAT.value:
        inbox.widget_key = new_widget_key()
        changed["widget_key"] = "rotated"
    inbox.updated_at = utcnow()
    audit(session, "inbox.updated", actor=actor, inbox_id=inbox.id, changed=changed)


def do_drop_config_inboxes(session: Session, actor: User | None, config_id: int) -> None:
    """A number is removed: its inboxes go with it (nothing can arrive through them any more); their
    conversations keep their team, and a default role moves to another inbox of the kind."""
    for inbox in list(session.scalars(select(Inbox).where(Inbox.channel_config_id == config_id))):
        _remove(session, actor, inbox)


def _remove(session: Session, actor: User | None, inbox: Inbox) -> None:
    others = list(session.scalars(select(Inbox).where(Inbox.kind == inbox.kind, Inbox.id != inbox.id)
                                  .order_by(Inbox.id)))
    open_now = open_counts(session, [inbox.id]).get(inbox.id, 0)
    session.execute(update(Conversation).where(Conversation.inbox_id == inbox.id).values(inbox_id=None))
    audit(session, "inbox.deleted", actor=actor, inbox_id=inbox.id, inbox_kind=inbox.kind, name=inbox.name,
          team_id=inbox.team_id, open_conversations=open_now)
    was_default = inbox.is_default
    session.delete(inbox)
    session.flush()  # gone before the role moves: one default per kind is a unique index
    if was_default and others:
        others[0].is_default = True
        session.flush()


def do_delete_inbox(session: Session, actor: User, inbox: Inbox) -> None:
    """Refused while it is the last inbox of its kind and still has open conversations (they would have
    nowhere to belong). Otherwise its conversations keep their team and lose only the inbox label; a
    default inbox hands the role to the oldest other inbox of its kind."""
    check_admin(actor)
    last = session.scalar(select(Inbox.id).where(Inbox.kind == inbox.kind, Inbox.id != inbox.id).limit(1)) is None
    open_now = open_counts(session, [inbox.id]).get(inbox.id, 0)
    if last and open_now:
        raise Conflict(f"This is the last {inbox.kind} inbox and {open_now} conversation(s) in it are open; "
                       "close them or add another inbox first.", code="inbox_in_use")
    _remove(session, actor, inbox)


def inbox_names_of(session: Session, ids: Sequence[int]) -> dict[int, str]:
    """Names for conversation lists, in one query."""
    if not ids:
        return {}
    return {int(i): str(n) for i, n in session.execute(select(Inbox.id, Inbox.name).where(Inbox.id.in_(set(ids))))}
