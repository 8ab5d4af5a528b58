"""The recorder: every event of an episode goes through it to the transcript writer and the listeners.

Investigators never write the transcript themselves; they emit events to the `Recorder` the
`Episode` (agent/episode/lifecycle.py) hands them.
"""

from __future__ import annotations

import json
import time
from typing import Optional

from tracr_agent.agent.records import transcript as tr


class Recorder:
    """Fans events out to the transcript writer and any listeners (the live view)."""

    def __init__(self, writer: Optional[tr.TranscriptWriter] = None, listeners: Optional[list] = None):
        self.writer = writer
        self.listeners = listeners or []
        self.start = writer.start if writer else time.monotonic()

    def emit(self, event) -> None:
        if not event.t:
            event.t = round(time.monotonic() - self.start, 3)
        if self.writer:
            self.writer.write(event)
        for fn in self.listeners:
            fn(event)


def message_to_dict(m) -> dict:
    """A langchain message as the transcript's LLMRequest records it."""
    from langchain_core.messages import ToolMessage

    d = {"role": {"system": "system", "human": "user", "ai": "assistant", "tool": "tool"}.get(m.type, m.type),
         "content": m.content if isinstance(m.content, str) else json.dumps(m.content)}
    if isinstance(m, ToolMessage):
        d["tool_call_id"] = m.tool_call_id
        d["name"] = m.name
    return d
