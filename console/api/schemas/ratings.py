"""Shapes of the end-of-chat rating (console/api/ratings.py)."""

from __future__ import annotations

from pydantic import Field

from console.api.schemas.common import Out, Timestamp


class Rating(Out):
    score: int = Field(description="1 (poor) to 5 (great).")
    comment: str | None = Field(description="What the customer wrote with it (plain text, ≤ 1000), or null.")
    agent_id: int | None = Field(description="The agent assigned when the conversation closed, or null.")
    created_at: Timestamp


class RatingOf(Out):
    rating: Rating | None = Field(description="null: not rated (yet).")
