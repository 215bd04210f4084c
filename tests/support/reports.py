"""Scripted histories for the report tests: rows written with explicit timestamps (a controlled clock),
as the actions would have left them, so each report number can be predicted exactly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from models.db import Database
from models.schema.accounts import AuditEvent, Team
from models.schema.contacts import Contact
from models.schema.conversations import Assignment, Conversation, HandoffPacket, Message
from models.schema.llm import AssistDraft
from models.schema.reports import AssignmentPeriod, AvailabilityChange
from models.schema.routing import ConversationAccess, Offer, TeamHours, Transfer

# Monday 5 January 2026, 00:00 UTC: every scenario happens in that week, long enough ago that the
# bot's 24-hour resolution window has passed.
T0 = datetime(2026, 1, 5, tzinfo=UTC)
PERIOD = {"from": "2026-01-05", "to": "2026-01-11"}  # the whole week (to: a date includes that day)


def at(hours: float = 0, minutes: float = 0, seconds: float = 0) -> datetime:
    return T0 + timedelta(hours=hours, minutes=minutes, seconds=seconds)


def team_id(db: Database, name: str) -> int:
    with db.transaction() as s:
        team = s.scalar(select(Team).where(Team.name == name))
        if team is None:
            team = Team(name=name)
            s.add(team)
            s.flush()
        return team.id


def set_timezone(db: Database, team: int, tz: str) -> None:
    with db.transaction() as s:
        s.add(TeamHours(team_id=team, timezone=tz, intervals=[]))


class History:
    """One conversation's history, written as it happens (each call adds rows at the given time)."""

    def __init__(self, db: Database, team: int, started: datetime, *, channel: str = "webchat",
                 contact_id: int | None = None, inbox_id: int | None = None) -> None:
        self.db = db
        with db.transaction() as s:
            if contact_id is None:
                contact = Contact(name="Customer", created_at=started)
                s.add(contact)
                s.flush()
                contact_id = contact.id
            conv = Conversation(contact_id=contact_id, team_id=team, channel=channel, created_at=started,
                                last_activity_at=started, inbox_id=inbox_id)
            s.add(conv)
            s.flush()
            self.id, self.public_id, self.contact_id = conv.id, conv.public_id, contact_id

    def _conv(self, s: Any) -> Conversation:
        conv = s.get(Conversation, self.id)
        assert conv is not None
        return conv

    def message(self, when: datetime, sender: str, text: str, *, author: int | None = None,
                private: bool = False, intent: str | None = None, decision: str | None = None) -> History:
        with self.db.transaction() as s:
            s.add(Message(conversation_id=self.id, direction="in" if sender == "contact" else "out",
                          sender_type=sender, author_id=author, text=text, private=private, channel="webchat",
                          created_at=when, bot_intent=intent, bot_decision=decision))
            conv = self._conv(s)
            conv.last_activity_at = when
            if sender == "bot" and conv.bot_first_at is None:  # as do_send_bot_reply stores them
                conv.bot_first_at = when
            if sender == "bot" and intent is not None and conv.first_intent is None:
                conv.first_intent = intent
        return self

    def customer(self, when: datetime, text: str = "hello") -> History:
        return self.message(when, "contact", text)

    def bot(self, when: datetime, intent: str, text: str = "bot answer", decision: str = "answer") -> History:
        return self.message(when, "bot", text, intent=intent, decision=decision)

    def reply(self, when: datetime, author: int, text: str = "agent reply") -> History:
        return self.message(when, "agent", text, author=author)

    def note(self, when: datetime, author: int, text: str = "private note") -> History:
        return self.message(when, "agent", text, author=author, private=True)

    def handoff(self, when: datetime, reason: str = "customer_asked", intent: str | None = None) -> History:
        with self.db.transaction() as s:
            s.add(HandoffPacket(conversation_id=self.id, reason=reason, intent=intent, created_at=when))
            conv = self._conv(s)
            conv.owner, conv.phase, conv.handed_off_at, conv.last_activity_at = "human", "waiting", when, when
            s.add(AuditEvent(kind="conversation.handoff", conversation_id=self.id, created_at=when,
                             data={"reason": reason}))
        return self

    def assign(self, when: datetime, user: int) -> History:
        with self.db.transaction() as s:
            s.add(Assignment(conversation_id=self.id, user_id=user, assigned_at=when))
            s.add(AssignmentPeriod(conversation_id=self.id, user_id=user, started_at=when))
            self._conv(s).phase = "assigned"
        return self

    def unassign(self, when: datetime, user: int) -> History:
        with self.db.transaction() as s:
            a = s.get(Assignment, (self.id, user))
            assert a is not None
            s.delete(a)
            period = s.scalar(select(AssignmentPeriod).where(AssignmentPeriod.conversation_id == self.id,
                                                             AssignmentPeriod.user_id == user,
                                                             AssignmentPeriod.ended_at.is_(None)))
            assert period is not None
            period.ended_at = when
        return self

    def transfer(self, when: datetime, from_user: int, to_user: int | None, status: str = "accepted",
                 to_team: int | None = None) -> History:
        with self.db.transaction() as s:
            s.add(Transfer(conversation_id=self.id, from_user_id=from_user, to_user_id=to_user, to_team_id=to_team,
                           status=status, created_at=when, decided_at=when))
        if status in ("accepted", "done"):
            self.unassign(when, from_user)
            if to_user is not None:
                self.assign(when, to_user)
        return self

    def offer_expired(self, when: datetime, user: int) -> History:
        with self.db.transaction() as s:
            s.add(Offer(conversation_id=self.id, user_id=user, status="expired", created_at=when - timedelta(
                seconds=30), expires_at=when, decided_at=when))
        return self

    def close(self, when: datetime, *, auto: bool = False) -> History:
        with self.db.transaction() as s:
            conv = self._conv(s)
            conv.status, conv.closed_at, conv.last_activity_at = "closed", when, when
            s.add(AuditEvent(kind="conversation.closed", conversation_id=self.id, created_at=when, data={}))
            if auto:
                s.add(AuditEvent(kind="routing.auto_closed", conversation_id=self.id, created_at=when,
                                 data={"reason": "idle"}))
        return self

    def reopen(self, when: datetime) -> History:
        with self.db.transaction() as s:
            conv = self._conv(s)
            conv.status, conv.closed_at, conv.last_activity_at = "open", None, when
            s.add(AuditEvent(kind="conversation.reopened", conversation_id=self.id, created_at=when, data={}))
        return self

    def restrict(self, *users: int) -> History:
        with self.db.transaction() as s:
            self._conv(s).restricted = True
            for u in users:
                s.add(ConversationAccess(conversation_id=self.id, user_id=u))
        return self

    def draft(self, when: datetime, user: int, intent: str, outcome: str | None) -> History:
        with self.db.transaction() as s:
            s.add(AssistDraft(conversation_id=self.id, user_id=user, created_at=when, intent=intent, mode="retrieval",
                              question="q", text="draft", outcome=outcome, decided_at=when if outcome else None))
        return self


def availability(db: Database, user: int, *changes: tuple[datetime, str]) -> None:
    with db.transaction() as s:
        for when, status in changes:
            s.add(AvailabilityChange(user_id=user, status=status, changed_at=when))
