"""The history the reports need and the live tables do not keep: who was assigned when.

Called where assignees change (models/conversations/assignment.py `_set_assignees`), in the same
transaction, so the history is exactly as complete as the assignments themselves.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from models.schema.reports import AssignmentPeriod


def record_assignment_periods(session: Session, conversation_id: int, before: Sequence[int],
                              after: Sequence[int], now: datetime) -> None:
    gone = [u for u in before if u not in after]
    if gone:
        session.execute(update(AssignmentPeriod).where(
            AssignmentPeriod.conversation_id == conversation_id, AssignmentPeriod.user_id.in_(gone),
            AssignmentPeriod.ended_at.is_(None)).values(ended_at=now))
    for uid in after:
        if uid not in before:
            session.add(AssignmentPeriod(conversation_id=conversation_id, user_id=uid, started_at=now))
