"""What a webchat customer tells us about a chat: the end-of-chat rating (models/feedback/)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, SmallInteger, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.schema.base import Base, utcnow


class ConversationRating(Base):
    """One rating per conversation, given by the customer once it is closed. `agent_id` is the agent
    assigned when it closed (None: nobody was, e.g. the bot's conversation), kept so the agents report
    credits the rating to the person who had the chat even if the account is reassigned later."""

    __tablename__ = "conversation_ratings"
    __table_args__ = (
        CheckConstraint("score >= 1 AND score <= 5", name="ck_conversation_ratings_score"),
        CheckConstraint("comment IS NULL OR length(comment) <= 1000", name="ck_conversation_ratings_comment"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"),
                                                 unique=True)
    score: Mapped[int] = mapped_column(SmallInteger)
    comment: Mapped[str | None] = mapped_column(Text, default=None)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None,
                                                 index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
