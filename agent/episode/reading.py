"""Reading transcripts for people: load one (refusing files that are not transcripts) and summarize it
in one record (subject, condition, LLM, calls, tokens, prediction, score, status) for `transcripts` and `view`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from tracr_agent.agent.records import transcript as tr
from tracr_agent.agent.records.transcript import TranscriptError, read_transcript


def load_events(path: Path, strict: bool = False):
    """(events, problem) like `read_transcript`, but a file without a single valid event is refused
    as not being a transcript (rather than reported as a corrupt line 1)."""
    path = Path(path)
    if path.is_dir():
        raise TranscriptError(f"{path} is a directory, not a transcript file (`tracr-agent transcripts DIR` lists one)")
    events, problem = read_transcript(path, strict=False)
    if not events:
        why = " (its first line is not a valid header event)" if problem else " (the file is empty)"
        raise TranscriptError(f"{path} is not a tracr-agent transcript{why}")
    if problem and strict:
        raise TranscriptError(problem)
    return events, problem


def summarize_transcript(path: Path, root: Optional[Path] = None) -> dict:
    events, problem = load_events(path)
    return summarize_events(events, problem, str(path.relative_to(root)) if root else str(path))


def summarize_events(events, problem: Optional[str], file: str) -> dict:
    """One record for a loaded transcript (see `summarize_transcript`)."""
    header: tr.Header = events[0]
    end = next((e for e in events if isinstance(e, tr.EndEvent)), None)
    pred = next((e for e in events if isinstance(e, tr.PredictionEvent)), None)
    score = next((e for e in events if isinstance(e, tr.ScoreEvent)), None)
    tokens = sum(e.usage.input_tokens + e.usage.output_tokens for e in events if isinstance(e, tr.LLMResponse))
    n_calls = sum(isinstance(e, tr.ToolCallEvent) for e in events)
    label_ok = functional_ok = None
    if score is not None:
        label_ok = score.score.label.correct if score.score.label else None
        functional_ok = score.score.functional.correct if score.score.functional else None
    if end is not None:
        status = end.status
        duration = end.duration_s
        n_calls = end.tool_calls or n_calls
        tokens = end.tokens or tokens
    else:
        status = "corrupt" if problem else "incomplete"
        duration = max((e.t for e in events), default=0.0)
    return {
        "file": file,
        "task": header.subject.task_id,
        "subject": header.subject.name,
        "transform": header.subject.transform.applied if header.subject.transform else None,
        "fingerprint": header.subject.fingerprint,
        "condition": header.condition,
        "llm": header.llm,
        "actor": header.actor,
        "created": header.created,
        "tool_calls": n_calls,
        "tokens": tokens,
        "prediction": pred.label if pred else None,
        "label_correct": label_ok,
        "functional_correct": functional_ok,
        "duration_s": round(duration, 2),
        "status": status,
        "problem": problem,
        "unsafe_sandbox": bool(getattr(header, "unsafe_sandbox", False)),
    }
