"""The one registry of investigators: an `--llm` spec (or TRACR_AGENT_LLM) -> a `Backend`.

- `baseline`                     the built-in open-world investigator (no LLM, no knowledge of the zoo)
- `baseline-closed`              the closed-world baseline: hypotheses are the zoo's own reference
                                 functions (a lookup, not an investigation; marked closed-world)
- `decompiler`                   the built-in decompiler: reconstructs the program from the internals (no LLM)
- `replay:TRANSCRIPT`            the LLM responses recorded in a transcript, in order
- `openai:MODEL`, `openai-compatible:MODEL@URL`, `PROVIDER:MODEL[@URL]` (ours, or any LangChain
  `init_chat_model` provider): an LLM (agent/backends/llm.py)

Every command that takes `--llm` (run, eval, `--judge-llm`, resume) goes through `make_backend`; the
built-in investigators' names live in names.py (read by `--help` without loading any of them).
"""

from __future__ import annotations

import importlib
from typing import Optional

from langchain_core.messages import AIMessage

from tracr_agent.agent.backends.llm import PROVIDER_FORMS, Backend, check_compat, default_spec, llm_backend
from tracr_agent.agent.backends.pricing import Price
from tracr_agent.agent.backends.replay import ReplayChatModel
from tracr_agent.agent.investigators.names import BUILT_IN, CLOSED_WORLD
from tracr_agent.agent.records.config import EpisodeSettings
from tracr_agent.agent.records.transcript import LLMResponse, read_transcript
from tracr_agent.tools.errors import UserError
from tracr_agent.tools.untrusted.text import check_name


def make_backend(spec: Optional[str] = None, compat: Optional[str] = None, *, timeout: float = 120.0,
                 max_retries: int = 3, temperature: Optional[float] = None, price: Optional[Price] = None,
                 api_key_env: Optional[str] = None) -> Backend:
    """The investigator a spec names; without one, the environment's default (said in `announce`).
    `temperature` (None: the provider's default), `price` (`--price`, overriding the price table) and
    `api_key_env` (`--api-key-env`) apply to LLMs only. An unknown or incomplete spec is one UserError line."""
    announce = ""
    if not spec:
        spec, announce = default_spec()
    check_name(spec, "--llm")
    compat = check_compat(compat)
    kind, _, rest = spec.partition(":")
    if spec in BUILT_IN:
        module, _, cls = BUILT_IN[spec].partition(":")
        investigator = getattr(importlib.import_module(f"tracr_agent.agent.investigators.{module}"), cls)
        return Backend(spec, investigator(), announce=announce, closed_world=spec in CLOSED_WORLD,
                       deterministic=deterministic(spec))
    if kind == "replay":
        if not rest:
            raise UserError("replay needs a transcript: --llm replay:PATH")
        return Backend(spec, ReplayChatModel(responses=recorded_responses(rest)), announce=announce,
                       deterministic=deterministic(spec))
    backend = llm_backend(spec, compat, announce, timeout, max_retries, temperature, price, api_key_env)
    if backend is None:
        raise UserError(f"unknown --llm {spec!r}: use {', '.join(BUILT_IN)}, openai:MODEL, "
                        f"openai-compatible:MODEL@URL, {PROVIDER_FORMS} (any LangChain provider) or replay:TRANSCRIPT")
    return backend


def deterministic(spec: str) -> bool:
    """Whether the investigator a spec names answers the same prompt the same way (a built-in one, a
    replay); an LLM does only at temperature 0, which its settings say."""
    return spec in BUILT_IN or spec.startswith("replay:")


def backend_for(settings: EpisodeSettings, spec: Optional[str] = None) -> Backend:
    """The backend an episode's settings name (`spec` overrides their `llm`), with their temperature,
    `--price` and `--api-key-env`: how `eval` builds each episode's and `resume` rebuilds a session's."""
    return make_backend(spec or settings.llm, settings.compat, temperature=settings.temperature,
                        price=Price(*settings.price) if settings.price else None, api_key_env=settings.api_key_env)


def recorded_responses(path: str) -> list[AIMessage]:
    """The LLM responses a transcript recorded, in order, as the messages a chat model returns."""
    events, _ = read_transcript(path, strict=True)
    responses = [AIMessage(
        content=ev.text,
        tool_calls=[{"id": c.id, "name": c.name, "args": c.args if isinstance(c.args, dict) else {"__raw__": c.args}}
                    for c in ev.tool_calls],
        usage_metadata={"input_tokens": ev.usage.input_tokens, "output_tokens": ev.usage.output_tokens,
                        "total_tokens": ev.usage.input_tokens + ev.usage.output_tokens},
    ) for ev in events if isinstance(ev, LLMResponse)]
    if not responses:
        raise UserError(f"{path}: the transcript holds no LLM responses to replay")
    return responses
