"""Shapes of the bot training admin (console/api/bot.py): training data, versions, runs, models, learning
from handoffs. The studio's own results (bot/studio) are passed through as they are: their inner shapes
are listed where the admin page relies on them."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, StrictInt

from console.api.schemas.common import Flag, Id, In, Obj, Out
from console.api.schemas.routing import QueryId

Ids = Annotated[list[Id], Field(min_length=1, description="Message ids (at most 500 are used).")]


class ChangesIn(In):
    base_hash: str | None = Field(None, description="data_hash from GET /bot/data; 409 if the data changed since.")
    changes: list[Obj] = Field(description="Operations: {op: add_intent | delete_intent | set_examples | "
                                           "add_examples | remove_examples | set_response | delete_response, "
                                           "intent, examples, response, texts} (at most 200).")


class RestoreIn(In):
    base_hash: str | None = None


class Intent(Out):
    name: str
    examples: list[str]
    response: str | None = None
    response_texts: list[str] = []
    declared: bool | None = None
    handoff: bool | None = None
    used_in: list[Any] = []


class BotData(Out):
    data_hash: str
    intents: list[Intent]
    responses: list[Any]
    problems: list[Any]
    files: list[Any]
    version: Obj | None = None


class CheckResult(Out):
    ok: bool
    introduced: list[Any]
    existing: list[Any]
    summary: Any
    diff: dict[str, str]
    stale: bool


class Committed(Out):
    version: Obj | None
    summary: Any = None
    warnings: list[Any] = []
    data: BotData


class Detail(Out):
    """An object whose fields bot/studio decides (see the admin page, console/static/admin_bot.js)."""


class Versions(Out):
    versions: list[Obj]


class Run(Out):
    id: int
    kind: str
    status: str


class RunIn(In):
    kind: str = Field(description="train or evaluate")
    engine: str | None = Field(None, description="embedded or rasa")
    model_version: str | None = Field(None, description="evaluate: which model")
    protocol: Literal["holdout", "cv"] | None = None
    fraction: float | None = Field(None, description="holdout: the share kept for testing (0.2)")
    folds: StrictInt | None = Field(None, ge=2, le=1000, description="cv: how many folds (5)")
    seed: StrictInt | None = Field(None, ge=0, le=2**32 - 1)


class Runs(Out):
    runs: list[Run]


class CompareQuery(In):
    engine: str = Field(description="embedded or rasa")
    a: str = Field(description="a model version")
    b: str = Field(description="another model version")


class HandoffQuery(In):
    reason: str | None = Field(None, description="a handoff reason")
    days: QueryId | None = Field(None, description="look back (30, from 1 to 365)")


class HandoffGroups(Out):
    groups: list[Obj]
    messages: int
    days: int
    reason: str | None


class LearnIn(In):
    message_ids: Ids
    intent: str
    new_intent: Flag = False
    response: list[str] | None = None
    texts: list[str] | None = Field(None, description="the examples to add (default: the messages' texts)")
    base_hash: str | None = None


class Learnt(Out):
    version: Obj | None
    added: list[str]
    intent: str


class DismissIn(In):
    message_ids: Ids


class Dismissed(Out):
    dismissed: int
