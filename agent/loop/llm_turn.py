"""One LLM turn, recorded: the LLMRequest, the call within the wall-time budget, the LLMResponse.

The graph's agent node and the static dump both call the model through `llm_turn`, so a turn
is recorded (and a failed call reported) the same way whichever investigator makes it.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

from tracr_agent.agent.backends.reply import invoke_within
from tracr_agent.agent.records import transcript as tr
from tracr_agent.agent.records.recorder import Recorder, message_to_dict


@dataclass
class Turn:
    """What one LLM call gave: the AIMessage (None when the call failed), its usage and cost."""

    ai: object = None
    tokens: int = 0
    cost: float = 0.0
    error: str = ""
    calls: list = field(default_factory=list)


def llm_turn(backend, model, messages: list, new_messages: list, step: int, recorder: Recorder,
             remaining: Optional[Callable[[], float]] = None) -> Turn:
    """Calls `model` on `messages` (prepared for the backend) and records it.

    `new_messages` are the ones the transcript has not seen yet (the LLMRequest records only those).
    A failure after the backend's retries is recorded as an ErrorEvent(where="llm") and comes back
    as `Turn(error=...)`; it never raises."""
    recorder.emit(tr.LLMRequest(step=step, messages=[message_to_dict(m) for m in new_messages]))
    t0 = time.perf_counter()
    try:
        ai = invoke_within(backend, model, backend.prepare(list(messages)), remaining)
    except Exception as e:  # retries happen in invoke_within; what is left is an episode error
        msg = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
        recorder.emit(tr.ErrorEvent(message=f"LLM call failed: {msg}", where="llm"))
        return Turn(error=msg)
    latency = (time.perf_counter() - t0) * 1000
    usage = ai.usage_metadata or {}
    tin, tout = int(usage.get("input_tokens", 0)), int(usage.get("output_tokens", 0))
    cost = backend.cost(tin, tout)
    calls = [tr.ToolCallRec(id=c["id"] or f"call_{step}_{i}", name=c["name"], args=c["args"])
             for i, c in enumerate(ai.tool_calls)]
    calls += [tr.ToolCallRec(id=c.get("id") or f"bad_{step}_{i}", name=c.get("name") or "", args=c.get("args") or "")
              for i, c in enumerate(ai.invalid_tool_calls)]
    text = ai.content if isinstance(ai.content, str) else json.dumps(ai.content)
    recorder.emit(tr.LLMResponse(step=step, text=text, tool_calls=calls, latency_ms=round(latency, 1),
                                 usage=tr.Usage(input_tokens=tin, output_tokens=tout), cost=cost))
    return Turn(ai=ai, tokens=tin + tout, cost=cost, calls=calls)
