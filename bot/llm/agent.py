"""The LLM agent: langchain's `create_agent` with the knowledge-base search, the handoff tool and the
admin's HTTP actions, and a structured result checked in code before anything reaches a customer.

`LlmAgent.run` answers one question and returns an `AgentResult`; it raises `LlmError` when the model
itself fails (timeout, rate limit, provider error), which the pipeline turns into a `bot_error`
handoff. Drafts for agents (`purpose="assist"`) use the same run and the same checks.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
from langchain.agents import create_agent
from langchain.agents.structured_output import ToolStrategy
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage
from langchain_core.outputs import LLMResult

from bot.knowledge.base import KnowledgeBase
from bot.llm.guard import (
    Deadline,
    LlmError,
    LlmTimeout,
    PolicyViolation,
    ToolFailed,
    ToolPolicy,
    check_answer,
    classify,
)
from bot.llm.http_tools import HttpAction
from bot.llm.prompts import SUMMARY_PROMPT, SYSTEM_PROMPT, customer_turn, escape
from bot.llm.tools import FinalAnswer, Source, TurnState, build_tools
from bot.types import Decision, HandoffReason, StageView

log = logging.getLogger(__name__)

MODEL_REASONS = {r.value: r for r in (HandoffReason.NO_GROUNDED_ANSWER, HandoffReason.CUSTOMER_ASKED,
                                      HandoffReason.OUT_OF_SCOPE)}


@dataclass
class Usage(BaseCallbackHandler):
    """Tokens and model calls of one run, counted as each model call ends (so failed runs count too)."""

    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    model_calls: int = 0

    def on_llm_end(self, response: LLMResult, **kwargs: Any) -> None:
        self.model_calls += 1
        for generations in response.generations:
            for gen in generations:
                usage = getattr(getattr(gen, "message", None), "usage_metadata", None)
                if usage:
                    self.input_tokens += int(usage.get("input_tokens", 0))
                    self.output_tokens += int(usage.get("output_tokens", 0))
                    self.total_tokens += int(usage.get("total_tokens", 0))

    def to_json(self) -> dict[str, int]:
        return {"input_tokens": self.input_tokens, "output_tokens": self.output_tokens,
                "total_tokens": self.total_tokens, "model_calls": self.model_calls}


@dataclass
class RunState(TurnState):
    started: float = 0.0


@dataclass(frozen=True)
class AgentResult:
    decision: Decision
    reason: HandoffReason | None
    answer: str
    sources: tuple[Source, ...]
    confidence: float
    summary: str  # one line for the agent taking over (or what the bot did)
    state: TurnState
    usage: Usage
    latency_ms: float
    error: str | None = None

    @property
    def intent(self) -> str | None:
        """The intent of the first cited passage that names one (FAQ entries and tagged sections do)."""
        return next((s.intent for s in self.sources if s.intent), None)

    def details(self) -> dict[str, Any]:
        return {**self.state.details(), "sources": [{"id": s.id, "title": s.title} for s in self.sources],
                "usage": self.usage.to_json(), "latency_ms": round(self.latency_ms, 1),
                **({"error": self.error} if self.error else {})}


class AgentFailed(LlmError):
    """An `LlmError` that still carries what the run used, so the turn can be recorded."""

    def __init__(self, error: LlmError, usage: Usage, latency_ms: float, state: TurnState) -> None:
        super().__init__(str(error))
        self.error = error
        self.usage = usage
        self.latency_ms = latency_ms
        self.state = state


@dataclass
class LlmAgent:
    model: BaseChatModel
    kb: KnowledgeBase
    model_name: str = "unknown"
    turn_timeout: float = 45.0
    max_steps: int = 8
    min_confidence: float = 0.5
    actions_loader: Callable[[], list[HttpAction]] | None = None
    http: httpx.Client | None = None
    summary_model: BaseChatModel | None = None
    _graphs: dict[tuple[HttpAction, ...], Any] = field(default_factory=dict, repr=False)

    def _graph(self, actions: tuple[HttpAction, ...]) -> Any:
        graph = self._graphs.get(actions)
        if graph is None:
            graph = create_agent(
                self.model, build_tools(list(actions)), system_prompt=SYSTEM_PROMPT,
                response_format=ToolStrategy(FinalAnswer), context_schema=RunState,
                middleware=[ToolPolicy(), Deadline(self.turn_timeout)], name="parley_agent",
            )
            if len(self._graphs) > 16:  # admins changed actions many times: drop the old graphs
                self._graphs.clear()
            self._graphs[actions] = graph
        return graph

    def run(self, text: str, history: Sequence[tuple[str, str]] = ()) -> AgentResult:
        actions = tuple(self.actions_loader()) if self.actions_loader else ()
        state = RunState(kb=self.kb, actions={a.name: a for a in actions}, http=self.http,
                         started=time.monotonic())
        usage = Usage()
        started = time.perf_counter()
        structured: FinalAnswer | None = None
        try:
            out = self._graph(actions).invoke(
                {"messages": [HumanMessage(customer_turn(text, history))]}, context=state,
                config={"callbacks": [usage], "recursion_limit": self.max_steps * 2 + 1},
            )
            raw = out.get("structured_response")
            structured = raw if isinstance(raw, FinalAnswer) else None
        except PolicyViolation as exc:
            return self._handoff(state, usage, started, HandoffReason.POLICY,
                                 f"The agent tried to use '{exc.tool_name}', which it is not allowed to; "
                                 "the customer's message may be trying to manipulate the bot.")
        except ToolFailed as exc:
            return self._handoff(state, usage, started, HandoffReason.BOT_ERROR,
                                 f"A tool failed ({exc}); the bot could not answer.", error=str(exc)[:300])
        except LlmError as exc:
            raise AgentFailed(exc, usage, _ms(started), state) from exc
        except Exception as exc:  # the provider's SDK errors (timeouts, rate limits, 5xx, bad output)
            if type(exc).__name__ == "GraphRecursionError":
                err: LlmError = LlmTimeout(f"no answer within {self.max_steps} steps")
            else:
                err = classify(exc)(f"{type(exc).__name__}: {exc}"[:300])
            raise AgentFailed(err, usage, _ms(started), state) from exc
        if state.handoff is not None:
            reason_text, summary = state.handoff
            reason = MODEL_REASONS.get(reason_text, HandoffReason.NO_GROUNDED_ANSWER)
            return self._handoff(state, usage, started, reason, summary or "The agent handed over.")
        verdict = check_answer(structured, state, text, min_confidence=self.min_confidence)
        if not verdict.ok:
            assert verdict.reason is not None
            return self._handoff(state, usage, started, verdict.reason, verdict.note, cited=verdict.cited)
        assert structured is not None
        return AgentResult(Decision.ANSWER, None, structured.answer.strip(), verdict.cited,
                           round(float(structured.confidence), 4),
                           f"Answered from {', '.join(s.title for s in verdict.cited)}.", state, usage, _ms(started))

    def _handoff(self, state: TurnState, usage: Usage, started: float, reason: HandoffReason, summary: str,
                 *, cited: tuple[Source, ...] = (), error: str | None = None) -> AgentResult:
        searched = "; ".join(f"'{s['query']}' → {len(s['hits'])} passage(s)" for s in state.searches)
        line = f"{summary} Searched: {searched}." if searched else f"{summary} (no search made)"
        return AgentResult(Decision.HANDOFF, reason, "", cited, 0.0, line, state, usage, _ms(started), error)

    # ------------------------------------------------------------------------------------- summary
    def summarize(self, history: Sequence[tuple[str, str]], text: str,
                  stages: Sequence[StageView]) -> tuple[str, Usage]:
        """Three lines for the agent taking over. Raises on provider failure (the caller falls back)."""
        lines = ["<conversation>"]
        lines += [f"{sender}: {escape(' '.join(t.split()))}" for sender, t in history]
        lines.append(f"contact: {escape(' '.join(text.split()))}")
        lines.append("</conversation>")
        lines.append("<bot_stages>")
        for v in stages:
            searched = [s.get("query") for s in v.details.get("searches", [])]
            lines.append(f"{v.engine}: decision={v.decision} reason={v.reason} intent={v.intent} "
                         f"confidence={v.confidence:.2f} searched={searched} note={escape(v.summary)}")
        lines.append("</bot_stages>")
        usage = Usage()
        model = self.summary_model or self.model
        reply = model.invoke([SystemMessage(SUMMARY_PROMPT), HumanMessage("\n".join(lines))],
                             config={"callbacks": [usage]})
        return three_lines(str(reply.content)), usage


def three_lines(text: str) -> str:
    """Exactly three short lines, whatever the model's formatting."""
    cleaned = []
    for raw in text.splitlines():
        line = re.sub(r"^\s*(?:[-*•]|\d+[.)]|line\s*\d+\s*:)\s*", "", raw, flags=re.IGNORECASE).strip()
        if line:
            cleaned.append(line[:300])
    if not cleaned:
        raise ValueError("empty summary")
    if len(cleaned) > 3:
        cleaned = [*cleaned[:2], " ".join(cleaned[2:])[:300]]
    while len(cleaned) < 3:
        cleaned.append("—")
    return "\n".join(cleaned)


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000
