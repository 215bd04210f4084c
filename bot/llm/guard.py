"""The rules the model cannot talk its way around, enforced in code.

- Tools: only the ones given for this turn, each a few times at most. A call to any other tool stops
  the run at once (`PolicyViolation`): a model that tries is a model someone steered.
- Time: the whole turn has a deadline, checked before every model call.
- Output: an answer reaches the customer only if it cites sources that this turn's tools really
  returned, is confident enough, states no number its sources do not, and does not echo the
  instructions. Anything else becomes a handoff.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from langchain.agents.middleware import AgentMiddleware
from langchain_core.messages import ToolMessage

from bot.llm.prompts import CANARY, SYSTEM_PROMPT
from bot.llm.tools import FinalAnswer, Source, TurnState
from bot.types import HandoffReason

_NUMBER = re.compile(r"\d+(?:[.,:]\d+)*")
_MONEY = re.compile(r"[$€£]\s?(\d+(?:[.,]\d+)*)|(\d+(?:[.,]\d+)*)\s?(?:USD|EUR|GBP|dollars?|euros?)\b", re.I)
_WORD = re.compile(r"[a-z0-9]+")
_SHINGLE = 7


class LlmError(Exception):
    """The model could not be used for this turn: the pipeline hands off with `bot_error`."""


class LlmTimeout(LlmError):
    pass


class LlmRateLimited(LlmError):
    pass


class LlmProviderError(LlmError):
    pass


class PolicyViolation(Exception):
    def __init__(self, tool_name: str) -> None:
        super().__init__(f"tool '{tool_name}' is not allowed in this turn")
        self.tool_name = tool_name


class ToolFailed(Exception):
    def __init__(self, tool_name: str, cause: Exception) -> None:
        super().__init__(f"{tool_name}: {cause}")
        self.tool_name = tool_name
        self.cause = cause


def classify(exc: BaseException) -> type[LlmError]:
    """Provider-agnostic: langchain providers raise their SDK's errors, named alike across SDKs."""
    names = {cls.__name__ for cls in type(exc).__mro__}
    if any("RateLimit" in n for n in names):
        return LlmRateLimited
    if any("Timeout" in n for n in names):
        return LlmTimeout
    return LlmProviderError


class ToolPolicy(AgentMiddleware[Any, Any]):
    """Allow only this turn's tools, a bounded number of times; stop on the first forbidden call."""

    def wrap_tool_call(self, request: Any, handler: Callable[[Any], Any]) -> Any:
        state: TurnState = request.runtime.context
        name = str(request.tool_call.get("name"))
        call_id = request.tool_call.get("id") or ""
        if name not in state.allowed_tools or request.tool is None:
            state.violations.append(name)
            state.tool_calls.append({"name": name, "ok": False, "blocked": True})
            raise PolicyViolation(name)
        state.counts[name] += 1
        if state.counts[name] > state.limit_of(name):
            state.tool_calls.append({"name": name, "ok": False, "limited": True})
            return ToolMessage(content="Limit reached for this tool in this turn: answer from what you found, "
                                       "or hand off.", tool_call_id=call_id, name=name, status="error")
        try:
            result = handler(request)
        except (PolicyViolation, LlmError):
            raise
        except Exception as exc:  # any tool failure ends the turn with a person (reason bot_error)
            state.tool_error = f"{name}: {exc}"[:300]
            state.tool_calls.append({"name": name, "ok": False, "error": str(exc)[:200]})
            raise ToolFailed(name, exc) from exc
        ok = not (isinstance(result, ToolMessage) and result.status == "error")
        state.tool_calls.append({"name": name, "ok": ok})
        return result


class Deadline(AgentMiddleware[Any, Any]):
    """The turn's wall-clock budget, checked before each model call (each call has its own timeout)."""

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds = seconds

    def before_model(self, state: Any, runtime: Any) -> dict[str, Any] | None:
        started: float = getattr(runtime.context, "started", 0.0)
        if started and time.monotonic() - started > self.seconds:
            raise LlmTimeout(f"the turn took longer than {self.seconds:g} s")
        return None


@dataclass(frozen=True)
class Verdict:
    ok: bool
    reason: HandoffReason | None
    note: str  # why, for the agent and the admin
    cited: tuple[Source, ...] = ()


def _shingles(text: str) -> set[tuple[str, ...]]:
    words = _WORD.findall(text.lower())
    return {tuple(words[i:i + _SHINGLE]) for i in range(len(words) - _SHINGLE + 1)}


_PROMPT_SHINGLES = _shingles(SYSTEM_PROMPT.replace(CANARY, ""))


def leaks_prompt(text: str) -> bool:
    return CANARY in text or bool(_shingles(text) & _PROMPT_SHINGLES)


def check_answer(answer: FinalAnswer | None, state: TurnState, question: str, *, min_confidence: float) -> Verdict:
    """Grounded or nothing: the conditions under which an answer may be sent to the customer."""
    if answer is None:
        return Verdict(False, HandoffReason.NO_GROUNDED_ANSWER, "The agent gave no structured answer.")
    text = answer.answer.strip()
    if not text:
        return Verdict(False, HandoffReason.NO_GROUNDED_ANSWER, "The agent's answer was empty.")
    if leaks_prompt(text):
        return Verdict(False, HandoffReason.POLICY, "The answer repeated the agent's instructions; withheld.")
    unknown = [s for s in answer.sources if s not in state.sources]
    cited = tuple(state.sources[s] for s in dict.fromkeys(answer.sources) if s in state.sources)
    if not state.sources:
        return Verdict(False, HandoffReason.NO_GROUNDED_ANSWER, "Nothing was retrieved to answer from.")
    if unknown or not cited:
        what = f"cited sources that were never retrieved ({', '.join(unknown[:3])})" if unknown else "cited no source"
        return Verdict(False, HandoffReason.NO_GROUNDED_ANSWER, f"The answer {what}.")
    if answer.confidence < min_confidence:
        return Verdict(False, HandoffReason.NO_GROUNDED_ANSWER,
                       f"The agent was not confident enough ({answer.confidence:.2f}).", cited)
    sourced = " ".join([*(s.text for s in cited), *(s.title for s in cited)])
    known = set(_NUMBER.findall(sourced))
    # Other numbers may echo the customer (an order number, a quantity); amounts of money never may:
    # "tell me my refund is $500" must not come back as a promise.
    echoable = known | set(_NUMBER.findall(question))
    money = {m.group(1) or m.group(2) for m in _MONEY.finditer(text)}
    invented = [n for n in _NUMBER.findall(text) if n not in (known if n in money else echoable)]
    if invented:
        return Verdict(False, HandoffReason.NO_GROUNDED_ANSWER,
                       f"The answer states {', '.join(invented[:3])}, which its sources do not.", cited)
    return Verdict(True, None, "", cited)
