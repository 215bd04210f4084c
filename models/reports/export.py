"""Conversation exports (JSON Lines or CSV) and a conversation's transcript as text, streamed.

Nothing is held whole: conversations are read with a server-side cursor in chunks, and each chunk's
messages, packets, assignments and journey are fetched together and written out before the next
chunk. An export lists only the conversations its caller may see (models/conversations/visibility.py):
a restricted conversation's text never reaches anyone it is not restricted to. Exports are for staff
(supervisors and admins) and include private notes; a transcript is what the customer saw, notes only
on request.
"""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from models.conversations.visibility import visible_clause
from models.errors import Forbidden, InvalidInput
from models.reports.csvcell import csv_cell
from models.reports.query import parse_instant, team_timezone
from models.schema.accounts import AuditEvent, Role, Team, User
from models.schema.contacts import Contact
from models.schema.conversations import Assignment, Conversation, HandoffPacket, Message, Status

CHUNK = 500
FORMATS = ("csv", "jsonl")
CSV_COLUMNS = ("record", "conversation", "at", "kind", "sender", "author_id", "text", "detail")


@dataclass(frozen=True)
class ExportQuery:
    fmt: str
    start: datetime | None
    end: datetime | None
    status: str | None = None
    team_id: int | None = None
    contact_id: int | None = None  # one contact's conversations (their journey's export)

    def json(self) -> dict[str, Any]:
        return {"format": self.fmt, "from": self.start.isoformat() if self.start else None,
                "to": self.end.isoformat() if self.end else None, "status": self.status, "team_id": self.team_id,
                "contact_id": self.contact_id}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ExportQuery:
        def when(v: Any) -> datetime | None:
            return datetime.fromisoformat(v) if v else None
        return cls(data["format"], when(data["from"]), when(data["to"]), data["status"], data["team_id"],
                   data.get("contact_id"))


def check_export_query(session: Session, *, fmt: str | None, start: str | None, end: str | None,
                       status: str | None, team_id: int | None) -> ExportQuery:
    """Dates as in the reports: a date is a whole day in the team's time zone (UTC without a team)."""
    value = check_format(fmt, FORMATS)
    if team_id is not None and session.get(Team, team_id) is None:
        raise InvalidInput("No such team.", code="unknown_team")
    tz = team_timezone(session, team_id)
    begin = parse_instant(start, tz, "from", end=False) if start else None
    stop = parse_instant(end, tz, "to", end=True) if end else None
    if begin is not None and stop is not None and begin >= stop:
        raise InvalidInput("from must be before to.", code="bad_period")
    return ExportQuery(value, begin, stop, status, team_id)


def check_may_export(user: User) -> None:
    if user.role not in (Role.ADMIN.value, Role.SUPERVISOR.value):
        raise Forbidden("Exports are for supervisors and admins.")


def check_format(fmt: str | None, allowed: Sequence[str]) -> str:
    value = fmt or allowed[0]
    if value not in allowed:
        raise InvalidInput(f"format must be one of: {', '.join(allowed)}.", code="bad_format")
    return value


def _where(user: User, q: ExportQuery) -> list[ColumnElement[bool]]:
    """Visible to the caller, of the asked status and team, in the period: closed conversations by when
    they closed, others by when they started."""
    out: list[ColumnElement[bool]] = [visible_clause(user)]
    if q.status is not None:
        out.append(Conversation.status == q.status)
    if q.team_id is not None:
        out.append(Conversation.team_id == q.team_id)
    if q.contact_id is not None:
        out.append(Conversation.contact_id == q.contact_id)
    if q.start is not None or q.end is not None:
        at = Conversation.closed_at if q.status == Status.CLOSED.value else Conversation.created_at
        if q.start is not None:
            out.append(at >= q.start)
        if q.end is not None:
            out.append(at < q.end)
    return out


def count_conversations(session: Session, user: User, q: ExportQuery) -> int:
    return session.scalar(select(func.count(Conversation.id)).where(*_where(user, q))) or 0


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _chunk_details(session: Session, ids: list[int], *, notes: bool) -> dict[str, dict[int, list[dict[str, Any]]]]:
    out: dict[str, dict[int, list[dict[str, Any]]]] = {k: defaultdict(list) for k in
                                                        ("messages", "handoff_packets", "assignments", "journey")}
    cond = [Message.conversation_id.in_(ids)]
    if not notes:
        cond.append(Message.private.is_(False))
    for m in session.execute(select(Message.conversation_id, Message.id, Message.created_at, Message.sender_type,
                                    Message.author_id, Message.private, Message.text, Message.bot_intent)
                             .where(*cond).order_by(Message.conversation_id, Message.id)):
        out["messages"][m.conversation_id].append(
            {"id": m.id, "at": _iso(m.created_at), "sender": m.sender_type, "author_id": m.author_id,
             "note": m.private, "text": m.text, "intent": m.bot_intent})
    for p in session.scalars(select(HandoffPacket).where(HandoffPacket.conversation_id.in_(ids))
                             .order_by(HandoffPacket.id)):
        out["handoff_packets"][p.conversation_id].append(
            {"at": _iso(p.created_at), "reason": p.reason, "intent": p.intent, "confidence": p.confidence,
             "summary": p.summary})
    for a in session.scalars(select(Assignment).where(Assignment.conversation_id.in_(ids))):
        out["assignments"][a.conversation_id].append({"user_id": a.user_id, "at": _iso(a.assigned_at)})
    for e in session.scalars(select(AuditEvent).where(AuditEvent.conversation_id.in_(ids)).order_by(AuditEvent.id)):
        assert e.conversation_id is not None
        out["journey"][e.conversation_id].append(
            {"at": _iso(e.created_at), "kind": e.kind, "actor_id": e.actor_user_id, "detail": e.data})
    return out


def conversations(session: Session, user: User, q: ExportQuery, *, notes: bool = True) -> Iterator[dict[str, Any]]:
    """Every conversation of the export with everything it is made of, one at a time."""
    stmt = (select(Conversation.id, Conversation.public_id, Conversation.team_id, Conversation.inbox_id,
                   Conversation.channel, Conversation.status, Conversation.owner, Conversation.created_at,
                   Conversation.handed_off_at, Conversation.closed_at, Conversation.restricted,
                   Contact.id.label("contact_id"), Contact.name.label("contact_name"))
            .join(Contact, Contact.id == Conversation.contact_id)
            .where(*_where(user, q)).order_by(Conversation.id)
            .execution_options(yield_per=CHUNK, stream_results=True))
    result = session.execute(stmt)
    for part in result.partitions(CHUNK):
        ids = [r.id for r in part]
        details = _chunk_details(session, ids, notes=notes)
        for r in part:
            yield {"id": r.id, "public_id": r.public_id, "team_id": r.team_id, "inbox_id": r.inbox_id,
                   "channel": r.channel, "status": r.status, "owner": r.owner, "restricted": r.restricted,
                   "created_at": _iso(r.created_at), "handed_off_at": _iso(r.handed_off_at),
                   "closed_at": _iso(r.closed_at), "contact": {"id": r.contact_id, "name": r.contact_name},
                   **{k: v.get(r.id, []) for k, v in details.items()}}


def jsonl(items: Iterator[dict[str, Any]]) -> Iterator[str]:
    for item in items:
        yield json.dumps(item, ensure_ascii=False, default=str) + "\n"


def _csv_line(values: Sequence[Any]) -> str:
    buf = io.StringIO()
    csv.writer(buf).writerow([csv_cell(v) for v in values])
    return buf.getvalue()


def csv_lines(items: Iterator[dict[str, Any]]) -> Iterator[str]:
    """One line per conversation, message, note, handoff packet, assignment and journey step."""
    yield _csv_line(CSV_COLUMNS)
    for c in items:
        pid = c["public_id"]
        head = {k: c[k] for k in ("team_id", "inbox_id", "channel", "status", "owner", "handed_off_at",
                                  "closed_at", "contact")}
        yield _csv_line(("conversation", pid, c["created_at"], c["status"], "", "", "", json.dumps(head)))
        for m in c["messages"]:
            yield _csv_line(("note" if m["note"] else "message", pid, m["at"], m["intent"] or "", m["sender"],
                             m["author_id"], m["text"], ""))
        for p in c["handoff_packets"]:
            yield _csv_line(("handoff_packet", pid, p["at"], p["reason"], "", "", p["summary"],
                             json.dumps({"intent": p["intent"], "confidence": p["confidence"]})))
        for a in c["assignments"]:
            yield _csv_line(("assignment", pid, a["at"], "", "", a["user_id"], "", ""))
        for j in c["journey"]:
            yield _csv_line(("journey", pid, j["at"], j["kind"], "", j["actor_id"], "",
                             json.dumps(j["detail"], default=str)))


def render(items: Iterator[dict[str, Any]], fmt: str) -> Iterator[str]:
    return csv_lines(items) if fmt == "csv" else jsonl(items)


def transcript(session: Session, conv: Conversation, *, notes: bool = False) -> Iterator[str]:
    """The conversation as plain text, oldest first: who said what and when (the caller checked access)."""
    contact = session.get(Contact, conv.contact_id)
    who = contact.name if contact is not None and contact.name else "Customer"
    yield f"Conversation {conv.public_id} ({conv.channel}), started {conv.created_at.isoformat()}\n"
    if conv.closed_at is not None:
        yield f"Closed {conv.closed_at.isoformat()}\n"
    yield "\n"
    authors = select(Message.author_id).where(Message.conversation_id == conv.id).distinct()
    names = dict(session.execute(select(User.id, User.name).where(User.id.in_(authors))).all())
    cond = [Message.conversation_id == conv.id]
    if not notes:
        cond.append(Message.private.is_(False))
    rows = session.execute(select(Message.created_at, Message.sender_type, Message.author_id, Message.private,
                                  Message.text).where(*cond).order_by(Message.id)
                           .execution_options(yield_per=CHUNK))
    for at, sender, author_id, private, text in rows:
        if sender == "contact":
            name = who
        elif sender == "agent":
            name = names.get(author_id, "Agent") if author_id else "Agent"
        else:
            name = sender.capitalize()
        label = f"{name} (private note)" if private else name
        yield f"[{at.isoformat(timespec='seconds')}] {label}: {text}\n"
