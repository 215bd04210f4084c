"""The LLM spend budget: tokens per conversation and per day (UTC), counted from the `llm_turns` the
engine records for every model run (bot turns, agent drafts, handoff summaries).

A customer (or a script posing as one) can otherwise keep a conversation going and spend without
limit. Over budget the `llm` stage does not call the model at all: the conversation goes to people
with reason `policy`, and the refused turn is recorded (`reason` `budget`) so admins see it on the
knowledge page beside the spend.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.schema.llm import LlmTurn

BUDGET_REASON = "budget"


@dataclass(frozen=True)
class TokenBudget:
    per_conversation: int | None = None  # PARLEY_LLM_BUDGET_CONVERSATION_TOKENS; None: no limit
    per_day: int | None = None  # PARLEY_LLM_BUDGET_DAILY_TOKENS, every conversation together

    @property
    def enabled(self) -> bool:
        return self.per_conversation is not None or self.per_day is not None

    def exceeded(self, session: Session, conversation_pk: int | None, now: datetime) -> str | None:
        """Why the next run may not start (for the handoff's summary), or None while within budget."""
        if self.per_conversation is not None and conversation_pk is not None:
            spent = session.scalar(select(func.coalesce(func.sum(LlmTurn.total_tokens), 0))
                                   .where(LlmTurn.conversation_id == conversation_pk)) or 0
            if spent >= self.per_conversation:
                return f"this conversation used {spent} LLM tokens; the limit is {self.per_conversation}"
        if self.per_day is not None:
            midnight = datetime.combine(now.date(), time.min, tzinfo=now.tzinfo)
            spent = session.scalar(select(func.coalesce(func.sum(LlmTurn.total_tokens), 0))
                                   .where(LlmTurn.created_at >= midnight)) or 0
            if spent >= self.per_day:
                return f"{spent} LLM tokens were used today; the daily limit is {self.per_day}"
        return None
