"""An agent starts a conversation (New chat): open, owned by a human, assigned to that agent, in the
team of the chosen inbox; the first message goes out on SMS or WhatsApp through the outbox, or in an
invitation (a personal link to the hosted chat page) by SMS or email, now or once prepared."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.accounts.teams import default_team
from models.audit import audit
from models.channels.config import fill_template
from models.contacts.presets import apply_contact_presets
from models.conversations.assignment import _set_assignees
from models.conversations.ingest import open_conversation_of
from models.conversations.messages import check_text, do_agent_message
from models.db import publish_on_commit
from models.errors import Conflict, Forbidden, InvalidInput, NotFound
from models.events import ConversationCreated
from models.outbox.enqueue import route_for
from models.outreach.invite import LinkConfig, MailToSend, do_send_invitation
from models.outreach.links import new_nonce, new_visitor_id
from models.schema.accounts import Team, User
from models.schema.base import utcnow
from models.schema.channels import Inbox
from models.schema.contacts import Contact, ContactIdentity
from models.schema.conversations import Conversation, Owner, Phase, Status
from models.schema.outreach import Invitation

# The channel a conversation lives on, for each way of starting one: an email invite is a webchat
# conversation (the customer writes on the hosted page) whose link went by email.
LIVES_ON = {"sms": "sms", "whatsapp": "whatsapp", "email": "webchat"}


@dataclass(frozen=True)
class Template:
    name: str
    variables: list[str]


@dataclass(frozen=True)
class StartRequest:
    channel: str  # sms | whatsapp | email
    inbox_id: int | None = None
    text: str | None = None
    template: Template | None = None
    invite: bool = False
    pre_plan: bool = False


@dataclass(frozen=True)
class Started:
    conversation: Conversation
    mail: MailToSend | None


def check_start(req: StartRequest, max_length: int) -> StartRequest:
    """The combination asked for makes sense, or a 400 that says why."""
    if req.channel not in LIVES_ON:
        raise InvalidInput("channel must be one of: sms, whatsapp, email.", code="bad_channel")
    if req.text is not None and req.template is not None:
        raise InvalidInput("Give text or template, not both.", code="text_and_template")
    if req.template is not None and req.channel != "whatsapp":
        raise InvalidInput("Templates are for WhatsApp only.", code="template_not_whatsapp")
    if req.channel == "whatsapp" and (req.invite or req.pre_plan):
        raise InvalidInput("Invitations go by SMS or email, not WhatsApp.", code="invite_channel")
    if req.text is not None:
        check_text(req.text, max_length)
    elif req.template is None and not req.pre_plan:
        raise InvalidInput("Write the first message (text)" + (", or pick a template." if req.channel ==
                                                               "whatsapp" else "."), code="empty")
    invite = req.invite or req.channel == "email" or req.pre_plan
    return StartRequest(req.channel, req.inbox_id, req.text, req.template, invite, req.pre_plan)


def pick_inbox(session: Session, kind: str, inbox_id: int | None) -> tuple[Team, Inbox | None]:
    """The inbox asked for (of the right kind), else the kind's default inbox, else the default team."""
    if inbox_id is not None:
        inbox = session.get(Inbox, inbox_id)
        if inbox is None:
            raise NotFound("No such inbox.", code="no_inbox")
        if inbox.kind != kind:
            raise InvalidInput(f"Inbox {inbox.name!r} is a {inbox.kind} inbox; this conversation needs a {kind} "
                               "inbox.", code="inbox_kind")
    else:
        inbox = session.scalar(select(Inbox).where(Inbox.kind == kind, Inbox.is_default.is_(True))
                               .order_by(Inbox.id).limit(1))
    if inbox is None:
        return default_team(session), None
    team = session.get(Team, inbox.team_id)
    assert team is not None
    return team, inbox


def do_start_conversation(session: Session, user: User, contact: Contact, req: StartRequest,
                          links: LinkConfig) -> Started:
    """Create and (unless pre-planned) send. `req` has been through `check_start`. Anything refused on
    the way (WhatsApp's closed window, no channel configured) rolls the whole start back."""
    lives_on = LIVES_ON[req.channel]
    team, inbox = pick_inbox(session, lives_on, req.inbox_id)
    if not (user.sees_all_teams or team.id in user.team_ids):
        raise Forbidden(f"You are not in the team {team.name!r} of this inbox.", code="not_in_team")
    if req.channel in ("sms", "whatsapp") and not contact.phone:
        raise InvalidInput("This contact has no phone number: give contact.phone.", code="no_address")
    if req.channel == "email" and not contact.email:
        raise InvalidInput("This contact has no email address: give contact.email.", code="no_address")
    existing = open_conversation_of(session, contact)
    if existing is not None:
        raise Conflict(f"This customer already has an open conversation ({existing.public_id}); continue there.",
                       code="has_open_conversation")
    now = utcnow()
    conv = Conversation(contact_id=contact.id, team_id=team.id, inbox_id=inbox.id if inbox else None,
                        channel=lives_on, status=Status.OPEN.value, owner=Owner.HUMAN.value,
                        phase=Phase.ASSIGNED.value, created_at=now, last_activity_at=now, handed_off_at=now)
    session.add(conv)
    session.flush()
    apply_contact_presets(session, conv)
    publish_on_commit(session, ConversationCreated(conv.id, conv.team_id, conv.contact_id))
    audit(session, "outreach.started", actor=user, conversation=conv, channel=req.channel, invite=req.invite,
          pre_plan=req.pre_plan, inbox_id=conv.inbox_id)
    _set_assignees(session, user, conv, [user.id])
    if not req.invite:
        _first_message(session, user, conv, req)
        return Started(conv, None)
    visitor_id = new_visitor_id()
    session.add(ContactIdentity(contact_id=contact.id, channel="webchat", external_id=visitor_id, joined_at=now))
    inv = Invitation(conversation_id=conv.id, contact_id=contact.id, via="email" if req.channel == "email" else "sms",
                     address=contact.email if req.channel == "email" else contact.phone, visitor_id=visitor_id,
                     nonce=new_nonce(), welcome=req.text, conversation_ids=[conv.id], created_by_id=user.id,
                     created_at=now, sends=0)
    session.add(inv)
    conv.awaiting_invitation = True  # until do_send_invitation sends it
    session.flush()
    if req.pre_plan:
        return Started(conv, None)
    return Started(conv, do_send_invitation(session, user, conv, inv, links))


def _first_message(session: Session, user: User, conv: Conversation, req: StartRequest) -> None:
    if req.template is None:
        assert req.text is not None
        do_agent_message(session, user, conv, req.text, channel=req.channel)
        return
    config = route_for(session, conv, "whatsapp")
    template = next((t for t in (config.templates if config else []) or [] if t.get("name") == req.template.name),
                    None)
    if template is None:
        raise NotFound(f"No WhatsApp template named {req.template.name!r} is configured.", code="no_template")
    values = req.template.variables
    if len(values) != len(template.get("variables") or []) or not all(v.strip() for v in values):
        raise InvalidInput(f"This template takes {len(template.get('variables') or [])} non-empty variable(s).",
                           code="variables")
    do_agent_message(session, user, conv, fill_template(template, values), channel="whatsapp", outbound={
        "template": {"name": template["name"], "provider_id": template["provider_id"],
                     "language": template.get("language", "en"), "variables": values}})
