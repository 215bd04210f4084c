"""The customer's side of an invited conversation: joining, what an ended session leaves them (the
team's rule), writing again, and the status agents see (never joined · online · offline)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.audit import audit
from models.conversations.ingest import Ingested, do_ingest_inbound, open_conversation_of
from models.conversations.status import do_close, do_reopen
from models.db import publish_on_commit
from models.errors import Forbidden, InvalidInput, InvalidState, NotFound
from models.events import ConversationCreated, ConversationStatusChanged
from models.schema.accounts import Team, User
from models.schema.base import utcnow
from models.schema.contacts import Contact
from models.schema.conversations import Conversation, Message, Status
from models.schema.outreach import EndBehaviour, Invitation, TeamOutreach

END_BEHAVIOURS = tuple(b.value for b in EndBehaviour)


def end_behaviour(session: Session, team_id: int) -> str:
    row = session.get(TeamOutreach, team_id)
    return row.end_behaviour if row is not None else EndBehaviour.READ_ONLY.value


def do_set_end_behaviour(session: Session, actor: User, team_id: int, behaviour: Any) -> str:
    if actor.role != "admin":
        raise Forbidden("Only admins set what an ended session leaves the customer.")
    if session.get(Team, team_id) is None:
        raise NotFound("No such team.")
    if behaviour not in END_BEHAVIOURS:
        raise InvalidInput(f"end_behaviour must be one of: {', '.join(END_BEHAVIOURS)}.", code="bad_behaviour")
    row = session.get(TeamOutreach, team_id)
    before = row.end_behaviour if row is not None else None
    if row is None:
        row = TeamOutreach(team_id=team_id)
        session.add(row)
    row.end_behaviour = str(behaviour)
    row.updated_at = utcnow()
    session.flush()
    audit(session, "team.outreach_changed", actor=actor, team_id=team_id, end_behaviour=row.end_behaviour,
          before=before)
    return row.end_behaviour


def do_end_session(session: Session, actor: User, conv: Conversation) -> None:
    """End the session: the conversation closes; the customer's link then follows the team's rule."""
    do_close(session, actor, conv)
    audit(session, "outreach.ended", actor=actor, conversation=conv,
          end_behaviour=end_behaviour(session, conv.team_id))


def do_renew_session(session: Session, actor: User, conv: Conversation) -> None:
    """Bring an ended session back as it was: open again, same assignees, same link."""
    if conv.status != Status.CLOSED.value:
        raise InvalidState("This session has not ended.")
    do_reopen(session, actor, conv)
    audit(session, "outreach.renewed", actor=actor, conversation=conv)


@dataclass(frozen=True)
class CustomerView:
    """What the hosted page may do right now."""

    conversation: Conversation
    state: str  # open | read_only | write_again (ended, writing starts a new one)
    ended: bool


def customer_view(session: Session, inv: Invitation) -> CustomerView:
    """The conversation a link reaches now, and what the customer may do there. An ended one whose
    team's rule is `no_access` is refused (403), as is one an agent deleted (404)."""
    conv = session.get(Conversation, (inv.conversation_ids or [inv.conversation_id])[-1])
    if conv is None:
        raise NotFound("This chat is no longer available.", code="bad_link")
    if conv.status == Status.OPEN.value:
        return CustomerView(conv, "open", False)
    rule = end_behaviour(session, conv.team_id)
    if rule == EndBehaviour.NO_ACCESS.value:
        raise Forbidden("This chat has ended.", code="ended")
    return CustomerView(conv, "read_only" if rule == EndBehaviour.READ_ONLY.value else "write_again", True)


def customer_history(session: Session, inv: Invitation) -> list[tuple[Message, str]]:
    """(message, conversation public id) of every conversation this link reached, oldest first, private
    notes left out: what was said to and by this customer there, on any channel."""
    rows = session.execute(select(Message, Conversation.public_id)
                           .join(Conversation, Conversation.id == Message.conversation_id)
                           .where(Message.conversation_id.in_(list(inv.conversation_ids or [])),
                                  Conversation.contact_id == inv.contact_id, Message.private.is_(False))
                           .order_by(Message.id))
    return [(m, pid) for m, pid in rows]


def do_join(session: Session, inv: Invitation) -> bool:
    """The customer opened their link; the first time marks them joined. True when it was the first."""
    if inv.joined_at is not None:
        return False
    inv.joined_at = utcnow()
    conv = session.get(Conversation, inv.conversation_id)
    assert conv is not None
    audit(session, "outreach.joined", conversation=conv, via=inv.via)
    publish_on_commit(session, ConversationStatusChanged(conv.id, conv.team_id, conv.contact_id, "customer_joined"))
    return True


def do_customer_writes(session: Session, inv: Invitation, text: str, key: str | None) -> Ingested:
    """A message from the hosted page. Refused when the session ended read-only; after an end whose rule
    is `write_again` it starts a new conversation (in the same team and inbox), which the link follows."""
    view = customer_view(session, inv)
    if view.state == "read_only":
        raise InvalidState("This chat has ended; it can be read but not written to.", code="ended")
    contact = session.get(Contact, inv.contact_id)
    assert contact is not None
    if view.ended and open_conversation_of(session, contact) is None:
        old, now = view.conversation, utcnow()
        conv = Conversation(contact_id=contact.id, team_id=old.team_id, inbox_id=old.inbox_id, channel="webchat",
                            created_at=now, last_activity_at=now)
        session.add(conv)
        session.flush()
        publish_on_commit(session, ConversationCreated(conv.id, conv.team_id, conv.contact_id))
        audit(session, "outreach.customer_wrote_again", conversation=conv, after=old.public_id)
    ingested = do_ingest_inbound(session, contact=contact, channel="webchat", text=text, provider_message_id=key)
    if ingested.conversation.id not in (inv.conversation_ids or []):
        inv.conversation_ids = [*(inv.conversation_ids or []), ingested.conversation.id]
    return ingested


def customer_statuses(session: Session, convs: Sequence[Conversation]) -> dict[int, dict[str, Any]]:
    """Per conversation, `customer_status`: one query for the invitations; contacts are the conversations'."""
    ids = [c.id for c in convs]
    invited = {cid: (joined, sent) for cid, joined, sent in session.execute(
        select(Invitation.conversation_id, Invitation.joined_at, Invitation.sent_at)
        .where(Invitation.conversation_id.in_(ids)))} if ids else {}
    return {c.id: customer_status(c, invited.get(c.id)) for c in convs}


def customer_status(conv: Conversation, invitation: tuple[datetime | None, datetime | None] | None) -> dict[str, Any]:
    """`never_joined` (invited, link not opened yet), `online`, or `offline` with when the customer was
    last seen. `invitation`: its (joined_at, sent_at), None when the conversation has none."""
    contact = conv.contact
    last_seen: datetime | None = contact.last_seen_at
    if invitation is not None and invitation[0] is None:
        state = "never_joined"
    else:
        state = "online" if contact.online else "offline"
    return {"state": state, "last_seen_at": last_seen.isoformat() if last_seen and state == "offline" else None,
            "invited": invitation is not None, "invitation_sent": bool(invitation and invitation[1])}
