"""One LLM turn, recorded: the LLMRequest, the call within the wall-time budget, the LLMResponse.

The graph's agent node and the static dump both call the model through `llm_turn`, so a turn
is recorded (and a failed call reported) the same way whichever investigator makes it.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

from tracr_agent.agent.backends.pricing import usage_of
from tracr_agent.agent.backends.reply import invoke_within
from tracr_agent.agent.records import transcript as tr
from tracr_agent.agent.records.recorder import Recorder, message_to_dict


@dataclass
class Turn:
    """What one LLM call gave: the AIMessage (None when the call failed), its usage and cost."""

    ai: object = None
    tokens: int = 0
    cost: Optional[float] = 0.0
    """USD; None when the model's price is unknown."""
    error: str = ""
    calls: list = field(default_factory=list)
    context: int = 0
    """The request's input tokens plus the reply's: the next request repeats them."""
    model: Optional[str] = None
    """The model snapshot the provider reported."""


def reported_model(ai) -> Optional[str]:
    """The model snapshot a reply names (OpenAI's and Anthropic's `model`, others' `model_name`)."""
    meta = getattr(ai, "response_metadata", None) or {}
    name = meta.get("model_name") or meta.get("model")
    return str(name) if name else None


def llm_turn(backend, model, messages: list, new_messages: list, step: int, recorder: Recorder,
             remaining: Optional[Callable[[], float]] = None, sent: Optional[list] = None) -> Turn:
    """Calls `model` on `messages` (prepared for the backend) and records it.

    `new_messages` are the ones the transcript has not seen yet (the LLMRequest records only those,
    in full). `sent`, when given, is what goes to the model instead of `messages` (older tool outputs
    trimmed: agent/loop/trim.py). A failure after the backend's retries is recorded as an
    ErrorEvent(where="llm") and comes back as `Turn(error=...)`; it never raises."""
    recorder.emit(tr.LLMRequest(step=step, messages=[message_to_dict(m) for m in new_messages]))
    t0 = time.perf_counter()
    try:
        ai = invoke_within(backend, model, backend.prepare(list(messages if sent is None else sent)), remaining)
    except Exception as e:  # retries happen in invoke_within; what is left is an episode error
        msg = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
        recorder.emit(tr.ErrorEvent(message=f"LLM call failed: {msg}", where="llm"))
        return Turn(error=msg)
    latency = (time.perf_counter() - t0) * 1000
    usage = usage_of(ai)
    tin, tout = usage.input_tokens, usage.output_tokens
    cost = backend.cost(usage)
    snapshot = reported_model(ai)
    calls = [tr.ToolCallRec(id=c["id"] or f"call_{step}_{i}", name=c["name"], args=c["args"])
             for i, c in enumerate(ai.tool_calls)]
    calls += [tr.ToolCallRec(id=c.get("id") or f"bad_{step}_{i}", name=c.get("name") or "", args=c.get("args") or "")
              for i, c in enumerate(ai.invalid_tool_calls)]
    text = ai.content if isinstance(ai.content, str) else json.dumps(ai.content)
    recorder.emit(tr.LLMResponse(step=step, text=text, tool_calls=calls, latency_ms=round(latency, 1),
                                 usage=tr.Usage(input_tokens=tin, output_tokens=tout, cache_read_tokens=usage.cache_read,
                                                cache_write_tokens=usage.cache_write),
                                 cost=cost, model=snapshot))
    return Turn(ai=ai, tokens=tin + tout, cost=cost, calls=calls, context=tin + tout, model=snapshot)
