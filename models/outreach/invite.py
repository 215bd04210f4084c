"""Sending a customer their personal chat link, the first time or again (re-engage).

SMS: the link goes out as an agent message through the outbox, in the caller's transaction. Email: the
caller sends the returned `MailToSend` after its transaction commits (connectors/mail.py; models send
nothing themselves) and calls `do_mail_failed` if the server refused it, so the invitation is never
shown sent when it was not.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.audit import audit
from models.conversations.messages import do_agent_message
from models.errors import Conflict, InvalidState, NotFound
from models.outreach.contacts import check_email, check_phone, set_phone
from models.outreach.files import do_share_prepared_files
from models.outreach.links import link_url, new_nonce
from models.schema.accounts import User
from models.schema.base import utcnow
from models.schema.contacts import Contact
from models.schema.conversations import Conversation, Status
from models.schema.outreach import Invitation


@dataclass(frozen=True)
class LinkConfig:
    base_url: str  # PARLEY_PUBLIC_URL, else the address the agent reached us at
    secret_key: str
    ttl_days: int


@dataclass(frozen=True)
class MailToSend:
    invitation_id: int
    to: str
    team_name: str
    contact_name: str
    agent_name: str
    text: str | None
    link: str
    expires_at: str


def invitation_of(session: Session, conv: Conversation, *, lock: bool = False) -> Invitation:
    stmt = select(Invitation).where(Invitation.conversation_id == conv.id)
    if lock:
        stmt = stmt.with_for_update()
    inv = session.scalar(stmt)
    if inv is None:
        raise NotFound("This conversation has no invitation (it was not started as an invite).",
                       code="no_invitation")
    return inv


def do_send_invitation(session: Session, user: User, conv: Conversation, inv: Invitation, links: LinkConfig,
                       *, phone: Any = None, email: Any = None) -> MailToSend | None:
    """Send (or send again) the invitation, with a fresh link whose expiry starts now.

    Before the customer has joined only: after that the link is theirs and the conversation is going
    on, so a correction or a resend is refused (409). `phone`/`email` correct the address first;
    everything prepared (welcome message, notes, files) stays as it is.
    """
    if inv.joined_at is not None:
        raise Conflict("The customer has already joined this conversation: their link can no longer be "
                       "changed or sent again.", code="already_joined")
    if conv.status != Status.OPEN.value:
        raise InvalidState("This conversation has ended; renew it before inviting the customer.")
    contact = session.get(Contact, conv.contact_id)
    assert contact is not None
    _correct_address(session, inv, contact, phone, email)
    first = inv.sent_at is None
    now = utcnow()
    inv.nonce = new_nonce()
    inv.sent_at = now
    conv.awaiting_invitation = False
    inv.expires_at = now + timedelta(days=links.ttl_days)
    inv.sends += 1
    link = link_url(links.base_url, links.secret_key, inv)
    team = conv.team.name
    audit(session, "outreach.invited" if first else "outreach.reinvited", actor=user, conversation=conv,
          via=inv.via, address=inv.address, expires_at=inv.expires_at.isoformat())
    if inv.via == "sms":
        intro = inv.welcome if first and inv.welcome else (
            f"{team} invites you to chat." if first else f"Here is your new link to chat with {team}.")
        do_agent_message(session, user, conv, f"{intro}\n\nChat with us here: {link}", channel="sms")
        do_share_prepared_files(session, user, conv, inv)  # on the chat page the link opens
        return None
    if inv.sends == 1 and inv.welcome:  # the first attempt (a retry after a refused mail adds nothing)
        do_agent_message(session, user, conv, inv.welcome, channel="webchat")
    do_share_prepared_files(session, user, conv, inv)
    session.flush()
    return MailToSend(inv.id, inv.address, team, contact.name, user.name, inv.welcome, link,
                      inv.expires_at.strftime("%d %B %Y, %H:%M UTC"))


def _correct_address(session: Session, inv: Invitation, contact: Contact, phone: Any, email: Any) -> None:
    if phone is not None:
        if inv.via != "sms":
            raise InvalidState("This invitation goes by email: correct the email address instead.",
                               code="wrong_address")
        number = check_phone(phone)
        set_phone(session, contact, number)
        inv.address = number
    if email is not None:
        if inv.via != "email":
            raise InvalidState("This invitation goes by SMS: correct the phone number instead.",
                               code="wrong_address")
        address = check_email(email)
        contact.email = address
        inv.address = address


def do_mail_failed(session: Session, invitation_id: int, error: str) -> None:
    """The SMTP server did not take the invitation: the link is withdrawn (nobody received it) and the
    invitation shows unsent again, to be sent once the address or the mail settings are fixed."""
    inv = session.get(Invitation, invitation_id, with_for_update=True)
    if inv is None:
        return
    inv.nonce = new_nonce()
    inv.sent_at = None
    inv.expires_at = None
    conv = session.get(Conversation, inv.conversation_id)
    if conv is not None:
        conv.awaiting_invitation = True
    audit(session, "outreach.invitation_failed", conversation=conv, via=inv.via, address=inv.address,
          error=error[:300])


def do_update_prepared(session: Session, user: User, conv: Conversation, inv: Invitation, *,
                       welcome: Any = None, name: Any = None, max_length: int = 4096) -> None:
    """Change what is prepared while nothing has been sent: the welcome message, the customer's name."""
    from models.conversations.messages import check_text
    from models.outreach.contacts import check_name

    if inv.sent_at is not None:
        raise Conflict("The invitation has been sent: write to the customer in the conversation instead.",
                       code="already_sent")
    if welcome is not None:
        inv.welcome = check_text(welcome, max_length)
    if name is not None:
        contact = session.get(Contact, conv.contact_id)
        assert contact is not None
        contact.name = check_name(name)
    audit(session, "outreach.prepared", actor=user, conversation=conv)
