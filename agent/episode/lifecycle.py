"""One episode: a subject, an LLM backend and a condition in; a transcript, a prediction and a score out.

Task (the subject), solver (the graph or the static dump) and scorer
(tracr_agent.agent.scoring.score) stay apart: this module only wires them and records.
"""

from __future__ import annotations

import datetime as _dt
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from tracr_agent.agent.episode import transcript as tr
from tracr_agent.agent.loop.graph import LLM_GRACE_SECONDS, Limits, Recorder, build_graph, initial_messages
from tracr_agent.agent.loop.prompts import OPENING, closed_set_labels, system_prompt
from tracr_agent.agent.scoring.sandbox import running_unsafe
from tracr_agent.tools.suite.base import ToolContext, check_condition, check_residual
from tracr_agent.tools.output_cap import DEFAULT_CAP_TOKENS


@dataclass
class EpisodeResult:
    transcript: Path
    status: str
    prediction: Optional[dict]
    score: Optional[dict]
    tool_calls: int = 0
    llm_turns: int = 0
    tokens: int = 0
    cost: float = 0.0
    duration_s: float = 0.0
    error: str = ""
    extra: dict = field(default_factory=dict)


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as v

    try:
        return v("tracr-agent")
    except PackageNotFoundError:
        return "dev"


def subject_ref(subject) -> tr.SubjectRef:
    return tr.SubjectRef(fingerprint=subject.fingerprint, kind=subject.kind, task_id=subject.truth.task_id,
                         source=subject.truth.task_id or subject.source)


def default_transcript_path(out_dir: Path, subject, condition: str, llm: str) -> Path:
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    name = subject.truth.task_id or subject.fingerprint[:8]
    safe_llm = "".join(ch if ch.isalnum() or ch in "-." else "_" for ch in llm.split("@")[0])[:40]
    return Path(out_dir) / f"{name}-{condition.replace('+', '_')}-{safe_llm}-{stamp}-{uuid.uuid4().hex[:4]}.jsonl"


def run_episode(subject, backend, *, condition: str = "full", limits: Optional[Limits] = None,
                transcript_path: Path, closed_set: bool = False, listeners: Optional[list] = None,
                seed: int = 0, cap_tokens: int = DEFAULT_CAP_TOKENS, score: bool = True, review=None,
                checkpointer=None, session_id: str = "", judge=None, static_hooks=None,
                static_inputs=None, residual: str = "labelled") -> EpisodeResult:
    check_condition(condition)
    check_residual(residual)
    limits = limits or Limits()
    subject.warm_up_async()  # TransformerLens loads while the LLM thinks about its first turn
    if Path(transcript_path).exists():
        Path(transcript_path).unlink()  # a new episode never appends to an old file
    writer = tr.TranscriptWriter(transcript_path)
    recorder = Recorder(writer, listeners)
    t0 = time.monotonic()
    recorder.emit(tr.Header(
        tracr_agent_version=version(), created=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        subject=subject_ref(subject), condition=condition, residual=residual, llm=backend.spec, limits=limits.model_dump(),
        cap_tokens=cap_tokens, seed=seed, closed_set=closed_set, session_id=session_id or uuid.uuid4().hex[:12],
        closed_world=bool(getattr(backend, "closed_world", False)),
        unsafe_sandbox=running_unsafe() or None))
    state: dict = {}
    try:
        if condition.startswith("static"):
            from tracr_agent.agent.investigators.static import run_static

            state = run_static(subject, backend, condition, recorder, closed_set=closed_set,
                               hooks=static_hooks, inputs=static_inputs, residual=residual,
                               remaining=lambda: limits.max_seconds + LLM_GRACE_SECONDS - (time.monotonic() - t0))
        else:
            ctx = ToolContext(condition=condition, cap_tokens=cap_tokens, residual=residual)
            labels = closed_set_labels() if closed_set else None
            graph = build_graph(subject, backend, ctx, limits, recorder, checkpointer=checkpointer, review=review)
            config = {"recursion_limit": 4 * (limits.max_llm_turns + limits.max_tool_calls) + 20,
                      "configurable": {"thread_id": session_id or "episode"}}
            state = graph.invoke({"messages": initial_messages(system_prompt(condition, subject, labels, residual), OPENING),
                                  "tool_calls": 0, "llm_turns": 0, "tokens": 0, "cost": 0.0}, config)
    except KeyboardInterrupt:
        state = {"status": "interrupted"}
    except Exception as e:  # the episode fails, the caller (and a batch) goes on
        recorder.emit(tr.ErrorEvent(message=f"{type(e).__name__}: {e}", where="episode"))
        state = {"status": "error", "error": f"{type(e).__name__}: {e}"}
    prediction = state.get("prediction")
    status = state.get("status") or ("prediction" if prediction else "no_prediction")
    score_dict = None
    if score and status != "interrupted":
        try:
            score_dict = score_episode(prediction, subject, closed_set=closed_set, judge=judge)
            recorder.emit(tr.ScoreEvent(score=score_dict))
        except Exception as e:  # a scorer failure is recorded; the transcript still closes
            recorder.emit(tr.ErrorEvent(message=f"scoring failed: {type(e).__name__}: {e}", where="score"))
    duration = time.monotonic() - t0
    recorder.emit(tr.EndEvent(status=status, tool_calls=state.get("tool_calls", 0), llm_turns=state.get("llm_turns", 0),
                              tokens=state.get("tokens", 0), cost=state.get("cost", 0.0), duration_s=round(duration, 2)))
    writer.close()
    return EpisodeResult(transcript=Path(transcript_path), status=status, prediction=prediction, score=score_dict,
                         tool_calls=state.get("tool_calls", 0), llm_turns=state.get("llm_turns", 0),
                         tokens=state.get("tokens", 0), cost=state.get("cost", 0.0), duration_s=duration,
                         error=state.get("error", ""))


def score_episode(prediction: Optional[dict], subject, closed_set: bool = False, judge=None) -> dict:
    from tracr_agent.agent.scoring.score import score_prediction

    task = None
    if subject.truth.task_id:
        from tracr_agent.tools.subjects.zoo import get_task

        task = get_task(subject.truth.task_id)
    return score_prediction(prediction, subject, task=task, closed_set=closed_set, judge_llm=judge).model_dump()
