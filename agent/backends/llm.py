"""LLM backends, chosen by one spec string (`--llm` or TRACR_AGENT_LLM).

- `openai:MODEL`                 OpenAI via langchain-openai (reasoning models get reasoning effort, no temperature)
- `openai-compatible:MODEL@URL`  any OpenAI-compatible server (vLLM, Ollama, llama.cpp, LM Studio)
- `replay:TRANSCRIPT`            the LLM responses recorded in a transcript, in order
- `baseline`                     the built-in deterministic investigator (no LLM)
- `baseline-closed`              the closed-world baseline: hypotheses are the zoo's own reference
                                 functions (a lookup, not an investigation; marked closed-world)
- `decompiler`                   the built-in decompiler: reconstructs the program from the internals (no LLM)

Server quirks are handled by a named compatibility mode (`--compat llama-cpp`),
applied to the outgoing messages only, never in the main path.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from tracr_agent.tools.errors import UserError

ENV_LLM = "TRACR_AGENT_LLM"
ENV_COMPAT = "TRACR_AGENT_COMPAT"
DEFAULT_OPENAI_MODEL = "o4-mini"
REASONING = re.compile(r"^(o\d|gpt-5)")
# USD per million tokens (input, output); unknown models cost 0 and say so.
PRICES = {"o1": (15.0, 60.0), "o3": (2.0, 8.0), "o4-mini": (1.1, 4.4), "o3-mini": (1.1, 4.4),
          "gpt-4o": (2.5, 10.0), "gpt-4o-mini": (0.15, 0.6), "gpt-4.1": (2.0, 8.0), "gpt-4.1-mini": (0.4, 1.6)}
COMPAT_MODES = ("none", "llama-cpp")
CLOSED_WORLD = frozenset({"baseline-closed"})
"""Specs of investigators that know the zoo's answers: transcripts and reports mark them."""


@dataclass
class Backend:
    spec: str
    chat_model: Any
    prepare: Callable[[list], list] = field(default=lambda msgs: msgs)
    price: Optional[tuple[float, float]] = None
    announce: str = ""
    bind_kwargs: dict = field(default_factory=dict)
    """Extra arguments for bind_tools (e.g. tool_choice) in normal turns…"""
    forced_bind_kwargs: dict = field(default_factory=dict)
    """…and in the forced last turn, where only submit_prediction is bound."""
    timeout: Optional[float] = None
    """Per-request timeout (s) of a network backend; None for in-process ones (baseline, replay)."""
    max_retries: int = 0
    """Retries after a transient fault, done by backends/reply.py within the wall-time budget."""

    @property
    def closed_world(self) -> bool:
        """Whether the investigator knows the zoo's answers (its results are lookups)."""
        return self.spec in CLOSED_WORLD

    def cost(self, input_tokens: int, output_tokens: int) -> float:
        if not self.price:
            return 0.0
        return (input_tokens * self.price[0] + output_tokens * self.price[1]) / 1e6


def default_spec() -> tuple[str, str]:
    """(spec, announcement): the environment's choice, else OpenAI with a key, else the baseline."""
    if os.environ.get(ENV_LLM):
        return os.environ[ENV_LLM], ""
    if os.environ.get("OPENAI_API_KEY"):
        return f"openai:{DEFAULT_OPENAI_MODEL}", ""
    return "baseline", "No LLM configured (no OPENAI_API_KEY, no --llm, no TRACR_AGENT_LLM): using the built-in baseline investigator."


def llama_cpp_compat(messages: list) -> list:
    """llama-cpp-python's server (chatml-function-calling) rejects null assistant
    content, and drops `role: tool` messages: send non-empty content and re-send tool results as
    user messages. (It also ignores tools unless tool_choice is set: see make_backend.)"""
    from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

    out = []
    for m in messages:
        if isinstance(m, ToolMessage):
            out.append(HumanMessage(content=f"Result of tool call {m.name or ''} ({m.tool_call_id}):\n{m.content}"))
        elif isinstance(m, AIMessage) and not (m.content or "").strip():
            # langchain-openai sends "" as null when tool calls are present; a space survives
            out.append(m.model_copy(update={"content": " "}))
        else:
            out.append(m)
    return out


def make_backend(spec: Optional[str] = None, compat: Optional[str] = None, *, timeout: float = 120.0,
                 max_retries: int = 3) -> Backend:
    announce = ""
    if not spec:
        spec, announce = default_spec()
    compat = compat or os.environ.get(ENV_COMPAT) or "none"
    if compat not in COMPAT_MODES:
        raise UserError(f"unknown --compat {compat!r}; choose one of: {', '.join(COMPAT_MODES)}")
    prepare = llama_cpp_compat if compat == "llama-cpp" else (lambda msgs: msgs)
    kind, _, rest = spec.partition(":")
    if spec == "baseline-closed":
        from tracr_agent.agent.investigators.baseline import BaselineInvestigator

        return Backend(spec, BaselineInvestigator(), announce=announce)
    if kind == "baseline" and not rest:
        from tracr_agent.agent.investigators.baseline import BaselineInvestigator

        return Backend("baseline", BaselineInvestigator(), announce=announce)
    if kind == "decompiler" and not rest:
        from tracr_agent.agent.investigators.decompiler.investigator import DecompilerInvestigator

        return Backend("decompiler", DecompilerInvestigator(), announce=announce)
    if kind == "replay":
        if not rest:
            raise UserError("replay needs a transcript: --llm replay:PATH")
        from tracr_agent.agent.backends.replay import ReplayChatModel

        return Backend(spec, ReplayChatModel.from_transcript(rest), announce=announce)
    # The forced last turn names the one tool it may call.
    forced = {"tool_choice": "submit_prediction"}
    if kind == "openai":
        if not rest:
            raise UserError("openai needs a model: --llm openai:MODEL (e.g. openai:o4-mini)")
        if not os.environ.get("OPENAI_API_KEY"):
            raise UserError("--llm openai:… needs OPENAI_API_KEY in the environment")
        return Backend(spec, _chat_openai(rest, None, "OPENAI_API_KEY", timeout), prepare,
                       PRICES.get(rest), announce, forced_bind_kwargs=forced, timeout=timeout, max_retries=max_retries)
    if kind == "openai-compatible":
        model, at, url = rest.partition("@")
        if not model or not at or not re.match(r"^https?://", url):
            raise UserError("openai-compatible needs MODEL@URL, e.g. openai-compatible:qwen@http://127.0.0.1:8000/v1")
        # llama-cpp-python ignores the tool list unless tool_choice is given
        normal = {"tool_choice": "auto"} if compat == "llama-cpp" else {}
        return Backend(spec, _chat_openai(model, url, None, timeout), prepare, None, announce,
                       bind_kwargs=normal, forced_bind_kwargs=forced, timeout=timeout, max_retries=max_retries)
    raise UserError(f"unknown --llm {spec!r}: use baseline, baseline-closed, decompiler, openai:MODEL, openai-compatible:MODEL@URL or replay:TRANSCRIPT")


def _chat_openai(model: str, base_url: Optional[str], key_env: Optional[str], timeout: float):
    from langchain_openai import ChatOpenAI

    # No client retries: backends/reply.py retries within the episode's wall time (the client's own
    # retries, each with the full timeout, once kept a 30 s episode running for 486 s).
    kwargs: dict = {"model": model, "timeout": timeout, "max_retries": 0}
    if base_url:
        kwargs["base_url"] = base_url
        kwargs["api_key"] = os.environ.get("OPENAI_COMPATIBLE_API_KEY", "not-needed")
    if REASONING.match(model) and not base_url:
        kwargs["reasoning_effort"] = os.environ.get("TRACR_AGENT_REASONING_EFFORT", "medium")
    else:
        kwargs["temperature"] = 0
    return ChatOpenAI(**kwargs)
