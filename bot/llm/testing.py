"""Chat models for tests and benchmarks: no network, tool calls included.

langchain's fake chat models answer from a list and refuse `bind_tools`; `FakeToolChatModel` accepts
tools (ignoring them, as a script does not need them), and `ScriptedChatModel` computes each reply
from the messages so far, which lets a test play a realistic agent: search, read what came back,
answer citing it (or, to test the defences, play a model that an injected message has steered).
Like Rasa's collecting output channel, this ships with the code so any test or benchmark can use it.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage, SystemMessage, ToolMessage
from langchain_core.messages.ai import UsageMetadata
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import ConfigDict, Field

from bot.llm.prompts import SUMMARY_PROMPT

_ids = itertools.count(1)


def usage() -> UsageMetadata:
    """Made-up token counts, so records of fake runs have numbers to add up."""
    return UsageMetadata(input_tokens=120, output_tokens=20, total_tokens=140)


def tool_call(name: str, **args: Any) -> AIMessage:
    """One model reply that calls one tool (with made-up token usage, so records have numbers)."""
    return AIMessage(content="", tool_calls=[{"name": name, "args": args, "id": f"call_{next(_ids)}"}],
                     usage_metadata=usage())


def answer(text: str, sources: Sequence[str], confidence: float = 0.9) -> AIMessage:
    return tool_call("FinalAnswer", answer=text, sources=list(sources), confidence=confidence)


class FakeToolChatModel(GenericFakeChatModel):
    """`GenericFakeChatModel` (replies from an iterator) that accepts tools."""

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> Any:
        return self


Script = Callable[[list[BaseMessage]], AIMessage]


class ScriptedChatModel(BaseChatModel):
    """Each reply is `script(messages)`. Every request is kept in `requests` (what the model saw)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    script: Script
    requests: list[list[BaseMessage]] = Field(default_factory=list)
    bound_tools: list[str] = Field(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "parley-scripted"

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> Any:
        self.bound_tools = [str(getattr(t, "name", None) or getattr(t, "__name__", t)) for t in tools]
        return self

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> ChatResult:
        self.requests.append(list(messages))
        reply = self.script(list(messages))
        if reply.usage_metadata is None:
            reply.usage_metadata = usage()
        return ChatResult(generations=[ChatGeneration(message=reply)])


# ---------------------------------------------------------------------------- a well-behaved agent


def customer_text(messages: Sequence[BaseMessage]) -> str:
    for m in messages:
        match = re.search(r"<customer_message>\n(.*)\n</customer_message>", str(m.content), re.S)
        if match:
            return match.group(1)
    return ""


def tool_results(messages: Sequence[BaseMessage]) -> list[ToolMessage]:
    return [m for m in messages if isinstance(m, ToolMessage)]


def is_summary_request(messages: Sequence[BaseMessage]) -> bool:
    return bool(messages) and isinstance(messages[0], SystemMessage) and str(messages[0].content) == SUMMARY_PROMPT


def faithful_agent(messages: list[BaseMessage]) -> AIMessage:
    """Plays a careful model: search with the customer's words; answer with the best passage, citing
    it; hand off when nothing came back. Summaries are three fixed-shape lines."""
    if is_summary_request(messages):
        return AIMessage(content="Customer wants help the bot could not give.\n"
                                 "Bot searched the knowledge base and handed over.\n"
                                 "Read the conversation and answer the customer.",
                         usage_metadata=usage())
    results = tool_results(messages)
    if not results:
        return tool_call("search_knowledge_base", query=customer_text(messages)[:200])
    last = str(results[-1].content)
    match = re.search(r'<passage id="(P\d+)"[^>]*>\n(.*?)\n</passage>', last, re.S)
    if match is None:
        return tool_call("handoff_to_human", reason="no_grounded_answer",
                         summary="Nothing in the knowledge base answers this.")
    return answer(opening(match.group(2).replace("&amp;", "&")), [match.group(1)], 0.9)


def opening(text: str, at_least: int = 60) -> str:
    """The passage's first sentences, at least `at_least` characters of them."""
    out = ""
    for sentence in re.split(r"(?<=[.!?])\s+", text):
        out = f"{out} {sentence}".strip()
        if len(out) >= at_least:
            break
    return out


def faithful_model() -> ScriptedChatModel:
    return ScriptedChatModel(script=faithful_agent)
