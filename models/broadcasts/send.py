"""A broadcast: one message to several contacts (picked, or all carrying a tag), each in their own
conversation, through the outbox.

Made in two steps so a list of thousands never holds a request open:
1. `do_create_broadcast` (the request's transaction): checks the message, resolves the recipients the
   caller may see, and writes one row per recipient in bulk, already marked `skipped_blocked`,
   `skipped_opted_out` (SMS STOP, models/contacts/opt_out.py) or `skipped_no_address`, else `pending`.
2. `process_broadcast` (a background job, a chunk per transaction): each pending recipient's message
   joins their open conversation, or starts one, and is queued in the outbox with a send time spaced by
   `PARLEY_BROADCAST_RATE`, so the delivery worker paces it and agents' replies (due now) go first.
   Each chunk is claimed with its rows locked and written in the transaction that marks them, so running
   `process_broadcast` again finishes what a crash left `pending`, never sending twice. Nothing re-runs
   it by itself yet: a process that dies mid-broadcast leaves the rest pending (shown in the counts) until
   someone resumes it (`POST /api/v1/broadcasts/<id>/resume`).

A new conversation is left to the bot, unassigned, in the team of the broadcast's inbox: a reply then
routes like any customer message (the bot answers or hands off to the team's queue), instead of
flooding the sender's own inbox. A broadcast joining an open conversation changes neither its owner,
its assignees nor its unreplied clock: it is not an answer to the customer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from models.audit import audit
from models.channels.config import fill_template
from models.contacts.identities import may_see_contact
from models.contacts.opt_out import opted_out
from models.contacts.presets import apply_contact_presets
from models.conversations.messages import _message_created, check_text
from models.db import Database, publish_on_commit
from models.errors import Forbidden, InvalidInput, InvalidState, NotFound
from models.events import ConversationCreated
from models.inboxes.routing import inbox_for_channel
from models.outbox.enqueue import do_enqueue_outbound, route_for
from models.outreach.start import pick_inbox
from models.schema.accounts import User
from models.schema.base import utcnow
from models.schema.broadcasts import Broadcast, BroadcastRecipient
from models.schema.contacts import Contact, ContactIdentity
from models.schema.conversations import Conversation, DeliveryStatus, Direction, Message, SenderType, Status
from models.schema.outreach import Invitation

CHANNELS = ("sms", "whatsapp")
MAX_RECIPIENTS = 10_000
CHUNK = 200


@dataclass(frozen=True)
class BroadcastRequest:
    channel: str
    contact_ids: list[int] | None = None
    tag: str | None = None
    inbox_id: int | None = None
    text: str | None = None
    template_name: str | None = None
    template_language: str | None = None
    template_params: tuple[str, ...] = ()


def check_may_broadcast(user: User) -> None:
    """Supervisors and admins: a broadcast writes to customers across teams, at once, in the team's name."""
    if not user.sees_all_teams:
        raise Forbidden("Only supervisors and admins send broadcasts.", code="broadcast_role")


def check_broadcast(req: BroadcastRequest, max_length: int) -> None:
    if req.channel not in CHANNELS:
        raise InvalidInput("channel must be sms or whatsapp.", code="bad_channel")
    if (req.contact_ids is None) == (req.tag is None):
        raise InvalidInput("Give contact_ids or tag, not both.", code="recipients")
    if req.contact_ids is not None and not req.contact_ids:
        raise InvalidInput("contact_ids is empty.", code="recipients")
    if req.contact_ids is not None and len(req.contact_ids) > MAX_RECIPIENTS:
        raise InvalidInput(f"At most {MAX_RECIPIENTS} recipients per broadcast.", code="too_many")
    if (req.text is None) == (req.template_name is None):
        raise InvalidInput("Give text or template, not both.", code="text_and_template")
    if req.channel == "whatsapp" and req.template_name is None:
        raise InvalidState("WhatsApp broadcasts go through an approved template only (the customers' 24-hour "
                           "windows are not open): pick a template.", code="template_required")
    if req.channel == "sms" and req.template_name is not None:
        raise InvalidInput("Templates are for WhatsApp only; SMS takes text.", code="template_not_whatsapp")
    if req.text is not None:
        check_text(req.text, max_length)


def _template(session: Session, req: BroadcastRequest) -> tuple[str, dict[str, Any] | None]:
    """The text each conversation shows and the outbox payload (WhatsApp template)."""
    if req.template_name is None:
        assert req.text is not None
        return req.text, None
    config = route_for(session, Conversation(contact_id=0, channel="whatsapp"), "whatsapp")
    if config is None:
        raise InvalidState("No WhatsApp channel is configured.", code="no_channel")
    found = [t for t in config.templates or [] if t.get("name") == req.template_name
             and (req.template_language is None or t.get("language", "en") == req.template_language)]
    if not found:
        raise NotFound(f"No WhatsApp template named {req.template_name!r}"
                       + (f" in {req.template_language!r}" if req.template_language else "") + " is configured.",
                       code="no_template")
    template = found[0]
    values = list(req.template_params)
    if len(values) != len(template.get("variables") or []) or not all(v.strip() for v in values):
        raise InvalidInput(f"This template takes {len(template.get('variables') or [])} non-empty parameter(s).",
                           code="variables")
    return fill_template(template, values), {"template": {
        "name": template["name"], "provider_id": template["provider_id"],
        "language": template.get("language", "en"), "variables": values}}


def visible_contacts(session: Session, user: User, ids: Sequence[int]) -> list[int]:
    """Those of `ids` that exist and whose details `user` may see, in bulk: only confidential contacts
    (a visibility preset, a restricted conversation) need the per-contact rule."""
    from models.schema.conversations import Conversation as C
    from models.schema.routing import ContactPreset, PresetKind

    wanted = set(ids)
    existing: set[int] = set()
    confidential: set[int] = set()
    for part in _chunks(sorted(wanted)):
        existing |= set(session.scalars(select(Contact.id).where(Contact.id.in_(part))))
        confidential |= set(session.scalars(select(ContactPreset.contact_id).where(
            ContactPreset.contact_id.in_(part), ContactPreset.kind == PresetKind.VISIBLE.value)))
        confidential |= set(session.scalars(select(C.contact_id).where(C.contact_id.in_(part),
                                                                       C.restricted.is_(True))))
    if not user.sees_all_teams:
        return [i for i in sorted(existing) if may_see_contact(session, user, i)]
    return [i for i in sorted(existing) if i not in confidential or may_see_contact(session, user, i)]


def _chunks(ids: Sequence[int], size: int = 500) -> list[Sequence[int]]:
    return [ids[i:i + size] for i in range(0, len(ids), size)]


def do_create_broadcast(session: Session, user: User, req: BroadcastRequest, recipients: Sequence[int]
                        ) -> Broadcast:
    """Write the broadcast and its recipients (`recipients`: contact ids the caller may see), each
    classified; the pending ones are sent by `process_broadcast` after commit."""
    check_may_broadcast(user)
    if not recipients:
        raise InvalidInput("No contact to send to" + (f" carries the tag {req.tag!r}." if req.tag else "."),
                           code="no_recipients")
    if len(recipients) > MAX_RECIPIENTS:
        raise InvalidInput(f"At most {MAX_RECIPIENTS} recipients per broadcast.", code="too_many")
    text, payload = _template(session, req)
    if route_for(session, Conversation(contact_id=0, channel=req.channel), req.channel) is None:
        raise InvalidState(f"No {'SMS' if req.channel == 'sms' else 'WhatsApp'} channel is configured.",
                           code="no_channel")
    _, inbox = pick_inbox(session, req.channel, req.inbox_id)
    inbox = inbox or inbox_for_channel(session, req.channel)
    b = Broadcast(created_by_id=user.id, channel=req.channel, inbox_id=inbox.id, tag=req.tag, text=text,
                  template=payload, state="sending", created_at=utcnow())
    session.add(b)
    session.flush()
    rows = []
    for part in _chunks(list(recipients)):
        blocked = set(session.scalars(select(Contact.id).where(Contact.id.in_(part), Contact.blocked_at.is_not(None))))
        address = {cid: ext for cid, ext in session.execute(
            select(ContactIdentity.contact_id, ContactIdentity.external_id).where(
                ContactIdentity.contact_id.in_(part), ContactIdentity.channel == req.channel)
            .order_by(ContactIdentity.id))}
        stopped = opted_out(session, req.channel, address.values())
        for cid in part:
            outcome = ("skipped_blocked" if cid in blocked else "skipped_no_address" if cid not in address
                       else "skipped_opted_out" if address[cid] in stopped else "pending")
            rows.append({"broadcast_id": b.id, "contact_id": cid, "outcome": outcome})
    session.execute(insert(BroadcastRecipient), rows)
    audit(session, "broadcast.created", actor=user, broadcast_id=b.id, channel=req.channel, tag=req.tag,
          recipients=len(rows))
    return b


def process_broadcast(db: Database, broadcast_id: int, rate: float) -> None:
    """Send every pending recipient of the broadcast, a chunk per transaction (see the module's doc)."""
    start = utcnow()
    sent = 0
    while True:
        with db.transaction() as s:
            b = s.get(Broadcast, broadcast_id)
            if b is None:
                return
            stmt = (select(BroadcastRecipient).where(BroadcastRecipient.broadcast_id == broadcast_id,
                                                     BroadcastRecipient.outcome == "pending")
                    .order_by(BroadcastRecipient.id).limit(CHUNK))
            if s.get_bind().dialect.name == "postgresql":
                stmt = stmt.with_for_update(skip_locked=True)
            chunk = list(s.scalars(stmt))
            if not chunk:
                if b.state != "done":
                    b.state, b.finished_at = "done", utcnow()
                return
            sent = _send_chunk(s, b, chunk, start, rate, sent)


def _send_chunk(session: Session, b: Broadcast, chunk: list[BroadcastRecipient], start: Any, rate: float,
                sent: int) -> int:
    ids = [r.contact_id for r in chunk]
    open_convs: dict[int, Conversation] = {}
    for found in session.scalars(select(Conversation).where(Conversation.contact_id.in_(ids),
                                                            Conversation.status == Status.OPEN.value)
                                 .order_by(Conversation.id)):
        open_convs[found.contact_id] = found  # the newest open one wins, as for an inbound message
    preparing = set(session.scalars(select(Invitation.conversation_id).where(
        Invitation.conversation_id.in_([c.id for c in open_convs.values()]), Invitation.sent_at.is_(None))))
    inbox_team = _inbox_team(session, b)
    for r in chunk:
        conv = open_convs.get(r.contact_id)
        if conv is not None and conv.id in preparing:
            r.outcome, r.conversation_id = "failed", conv.id
            r.error = "Their open conversation is a session being prepared; send there once it is invited."
            continue
        now = utcnow()
        if conv is None:
            conv = Conversation(contact_id=r.contact_id, team_id=inbox_team[1], inbox_id=inbox_team[0],
                                channel=b.channel, created_at=now, last_activity_at=now)
            session.add(conv)
            session.flush()
            apply_contact_presets(session, conv)
            publish_on_commit(session, ConversationCreated(conv.id, conv.team_id, conv.contact_id))
        msg = Message(conversation_id=conv.id, direction=Direction.OUT.value, sender_type=SenderType.AGENT.value,
                      author_id=b.created_by_id, text=b.text, channel=b.channel,
                      delivery_status=DeliveryStatus.QUEUED.value, created_at=now)
        session.add(msg)
        conv.last_activity_at = now
        session.flush()
        item = do_enqueue_outbound(session, conv, msg, payload=b.template, strict=False)
        if item is not None and rate > 0:
            item.next_attempt_at = max(now, start + timedelta(seconds=sent / rate))
        sent += 1
        _message_created(session, conv, msg)
        r.conversation_id, r.message_id = conv.id, msg.id
        r.outcome = "queued" if item is not None else "failed"
        r.error = None if item is not None else msg.error_message
    return sent


def _inbox_team(session: Session, b: Broadcast) -> tuple[int | None, int]:
    from models.accounts.teams import default_team
    from models.schema.channels import Inbox

    inbox = session.get(Inbox, b.inbox_id) if b.inbox_id else None
    return (inbox.id, inbox.team_id) if inbox else (None, default_team(session).id)
