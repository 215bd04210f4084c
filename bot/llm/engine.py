"""The `llm` stage of the bot pipeline: the agent as an `Engine`, with every turn recorded.

Placed after an intent engine (`PARLEY_BOT_ENGINES=embedded,llm` or `rasa,llm`), it gets what that
engine could not answer; its own handoff goes to people. Per turn it keeps tokens, latency and tool
calls (`llm_turns`), and what the question found and which passages the answer cited
(`knowledge_queries`, `knowledge_citations`). It also writes the three-line handoff summary for
every handoff of the chain (`summarize_handoff`, called by the pipeline).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from bot.knowledge.base import KnowledgeBase, conversation_pk
from bot.llm.agent import AgentFailed, AgentResult, LlmAgent, Usage
from bot.llm.budget import BUDGET_REASON, TokenBudget
from bot.policy import DEFAULT_TEXTS
from bot.types import BotTurn, Decision, HandoffReason, StageView, TurnContext
from models.schema.base import utcnow
from models.schema.llm import LlmTurn, QueryOutcome
from models.telemetry.metrics import count_tokens

log = logging.getLogger(__name__)

ENGINE_NAME = "llm"
ANSWER_INTENT = "knowledge_base"  # reported when the cited passages name no intent


class LlmEngine:
    name = ENGINE_NAME

    def __init__(self, agent: LlmAgent, *, summaries: bool = True, budget: TokenBudget | None = None) -> None:
        self.agent = agent
        self.kb: KnowledgeBase = agent.kb
        self.summaries = summaries
        self.budget = budget or TokenBudget()

    @property
    def model_name(self) -> str:
        return self.agent.model_name

    def turn(self, text: str, context: TurnContext) -> BotTurn:
        over = self._over_budget(context.conversation_id)
        if over is not None:
            return over
        try:
            result = self.agent.run(text, context.history)
        except AgentFailed as exc:
            self._record("bot", context.conversation_id, text, None, exc.usage, exc.latency_ms,
                         exc.state.details(), error=f"{type(exc.error).__name__}: {exc.error}")
            raise exc.error from exc
        self._record("bot", context.conversation_id, text, result, result.usage, result.latency_ms,
                     result.details())
        return bot_turn(result, self.model_name)

    def _over_budget(self, conversation: str | int | None) -> BotTurn | None:
        """Over the token budget: hand off (`policy`) without calling the model, and keep a record."""
        if not self.budget.enabled:
            return None
        with self.kb.db.session() as s:
            why = self.budget.exceeded(s, conversation_pk(s, conversation), utcnow())
        if why is None:
            return None
        log.warning("LLM budget reached (%s): handing the conversation to people", why)
        self._store_turn(LlmTurn(purpose="bot", model=self.model_name, outcome="handoff", reason=BUDGET_REASON,
                                 tool_calls=[], error=why), conversation)
        summary = f"The bot's LLM budget is used up: {why}."
        view = StageView(engine=ENGINE_NAME, decision=Decision.HANDOFF.value, reason=HandoffReason.POLICY.value,
                         intent=None, confidence=0.0, summary=summary, details={"budget": why})
        return BotTurn(Decision.HANDOFF, (DEFAULT_TEXTS["utter_handoff"],), None, 0.0, reason=HandoffReason.POLICY,
                       engine=ENGINE_NAME, model_version=self.model_name, summary=summary, stages=(view,))

    def summarize_handoff(self, text: str, context: TurnContext, turn: BotTurn,
                          stages: Sequence[StageView]) -> str | None:
        """Three lines for the agent taking over; None (keep the stage's summary) if the model fails."""
        if not self.summaries or (self.budget.enabled and turn.stages
                                  and "budget" in (turn.stages[-1].details or {})):
            return None  # over budget: no more model calls, the stage's summary says why
        started = time.perf_counter()
        try:
            summary, usage = self.agent.summarize(context.history, text, stages)
        except Exception as exc:  # provider SDK errors have no common base; the handoff must go on
            log.warning("handoff summary failed (%s); keeping the bot's own", type(exc).__name__)
            return None
        self._store_turn(LlmTurn(purpose="summary", model=self.model_name, outcome="answer",
                                 input_tokens=usage.input_tokens, output_tokens=usage.output_tokens,
                                 total_tokens=usage.total_tokens, model_calls=usage.model_calls,
                                 latency_ms=round((time.perf_counter() - started) * 1000, 2), tool_calls=[]),
                          context.conversation_id)
        count_tokens(self.model_name, "summary", usage.input_tokens, usage.output_tokens)
        return summary

    def _record(self, purpose: str, conversation: str | int | None, question: str, result: AgentResult | None,
                usage: Usage, latency_ms: float, details: dict[str, Any], *, error: str | None = None) -> None:
        record_run(self.kb, self.model_name, purpose, conversation, question, result, usage, latency_ms, details,
                   error=error)

    def _store_turn(self, row: LlmTurn, conversation: str | int | None) -> None:
        store_turn(self.kb, row, conversation)


def record_run(kb: KnowledgeBase, model_name: str, purpose: str, conversation: str | int | None, question: str,
               result: AgentResult | None, usage: Usage, latency_ms: float, details: dict[str, Any], *,
               error: str | None = None) -> None:
    """Keep one agent run: the question and what it found and cited, and the model's cost and latency."""
    count_tokens(model_name, purpose, usage.input_tokens, usage.output_tokens)
    outcome = query_outcome(result)
    cited = [s.passage_id for s in result.sources if s.passage_id is not None] if result else []
    try:
        query_id: int | None = kb.record_query(purpose=purpose, conversation=conversation, question=question,
                                               searches=details.get("searches", []), outcome=outcome.value,
                                               cited=cited)
    except SQLAlchemyError:
        log.exception("could not record the knowledge query")
        query_id = None
    store_turn(kb, LlmTurn(purpose=purpose, query_id=query_id, model=model_name,
                           outcome="error" if result is None else result.decision.value,
                           reason=result.reason.value if result and result.reason else None,
                           input_tokens=usage.input_tokens, output_tokens=usage.output_tokens,
                           total_tokens=usage.total_tokens, latency_ms=round(latency_ms, 2),
                           model_calls=usage.model_calls, tool_calls=list(details.get("tools", [])),
                           error=(error or (result.error if result else None) or None)), conversation)


def store_turn(kb: KnowledgeBase, row: LlmTurn, conversation: str | int | None) -> None:
    try:
        with kb.db.transaction() as s:
            row.conversation_id = conversation_pk(s, conversation)
            if row.error:
                row.error = row.error[:500]
            s.add(row)
    except SQLAlchemyError:  # a record is never worth failing the customer's turn
        log.exception("could not record the LLM turn")


def query_outcome(result: AgentResult | None) -> QueryOutcome:
    if result is None:
        return QueryOutcome.ERROR
    if result.decision is Decision.ANSWER:
        return QueryOutcome.ANSWERED
    if result.reason is HandoffReason.NO_GROUNDED_ANSWER:
        return QueryOutcome.NO_SOURCE
    if result.reason is HandoffReason.BOT_ERROR:
        return QueryOutcome.ERROR
    return QueryOutcome.HANDOFF


def bot_turn(result: AgentResult, model_name: str) -> BotTurn:
    view = StageView(engine=ENGINE_NAME, decision=result.decision.value,
                     reason=result.reason.value if result.reason else None,
                     intent=result.intent or (ANSWER_INTENT if result.decision is Decision.ANSWER else None),
                     confidence=result.confidence, summary=result.summary, details=result.details())
    if result.decision is Decision.ANSWER:
        return BotTurn(Decision.ANSWER, (result.answer,), view.intent, result.confidence, engine=ENGINE_NAME,
                       model_version=model_name, stages=(view,))
    replies: tuple[str, ...] = (DEFAULT_TEXTS["utter_handoff"],)
    if result.reason is HandoffReason.OUT_OF_SCOPE:
        replies = (DEFAULT_TEXTS["utter_out_of_scope"], *replies)
    turn = BotTurn(Decision.HANDOFF, replies, None, 0.0, reason=result.reason, engine=ENGINE_NAME,
                   model_version=model_name, summary=result.summary)
    return replace(turn, stages=(view,))
