"""Transcripts written from real tool calls on a real subject, for the views' tests (the live view, the
viewer, export): `recorded(path, subject, calls)`. Not a test module."""

from __future__ import annotations

from pathlib import Path

from tracr_agent.agent.records import transcript as tr
from tracr_agent.tools.suite.base import ToolContext, call_tool


def recorded(path: Path, subject, calls: list[tuple[str, dict]], prompt: str = "", condition: str = "whitebox") -> Path:
    """A transcript of these tool calls as the tools answered them in `condition` (and a first prompt, when
    given), ending without a prediction."""
    w = tr.TranscriptWriter(path)
    w.write(tr.Header(subject=tr.SubjectRef(fingerprint=subject.fingerprint, task_id="reverse"), condition=condition,
                      llm="script"))
    if prompt:
        w.write(tr.LLMRequest(step=1, messages=[{"role": "user", "content": prompt}]))
    w.write(tr.LLMResponse(step=1, text="Reading."))
    for i, (name, args) in enumerate(calls):
        res = call_tool(subject, name, args, ToolContext(condition=condition))
        assert not res.is_error, res.text
        w.write(tr.ToolCallEvent(step=1, call_id=f"c{i}", name=name, args=args))
        w.write(tr.ToolResultEvent(step=1, call_id=f"c{i}", name=name, text=res.text))
    w.write(tr.EndEvent(status="no_prediction"))
    w.close()
    return path
