"""The episode lifecycle: every investigation, whoever runs it, is one `Episode`.

An `Episode` owns one transcript. `open()` writes the header, `recorder` is where the
investigator emits its events, and `finish(outcome)` scores the prediction and writes the
score and end events — the only place in tracr-agent where a header, a score or an end is
written. `suspend()` closes the file without an end (an episode left to resume: a plain run,
agent/episode/resumable.py, an interactive session or a lab), `reopen()` continues such a
transcript. Task (the subject), solver (the investigator) and scorer
(tracr_agent.agent.scoring.score) stay apart: this module only wires them and records.

Plugging in a new investigator:

- A "chat model" that emits tool calls (the baselines in agent/investigators/, an open-world
  baseline, a decompiler, any LLM): give it a spec in `make_backend` (agent/backends/llm.py).
  `run_episode` drives it through the graph (agent/loop/graph.py) with the condition's tools,
  limits, transcript and score; nothing else to write.
- Another way to investigate (like the static dump, agent/investigators/static.py): a function
  `(episode, backend) -> Outcome` that emits its events to `episode.recorder` and returns the
  outcome; `investigate()` picks it (by the condition's declaration).
- A person's side (agent/interactive/session.py, agent/interactive/lab.py): open an `Episode`,
  emit to `episode.recorder`, and end with `episode.finish(outcome)`.
"""

from __future__ import annotations

import datetime as _dt
import time
import uuid
from pathlib import Path
from typing import Optional

from tracr_agent.agent.episode import transcript as tr
from tracr_agent.agent.episode.limits import Limits
from tracr_agent.agent.episode.recorder import Recorder
from tracr_agent.agent.scoring.verdicts import Score
from tracr_agent.tools.output_cap import DEFAULT_CAP_TOKENS

Outcome = dict
"""What an investigator returns: `prediction` (dict or None), `status` ("prediction",
"no_prediction", "error", "interrupted"; derived from the prediction when absent), `error`, and
the counters `tool_calls`, `llm_turns`, `tokens`, `cost` (the graph's final state is one)."""


class EpisodeResult(tr.Counters):
    """What `finish` hands back: the end event's status and counters, the prediction and the typed score."""

    transcript: Path
    status: str
    prediction: Optional[dict] = None
    score: Optional[Score] = None
    error: str = ""
    score_error: str = ""
    """Why scoring failed (also recorded as an ErrorEvent), or ""."""


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


def outcome_status(outcome: Outcome) -> str:
    """An interrupted episode stays interrupted; otherwise a prediction wins (a question after it may
    have failed); otherwise what the investigator said, or no_prediction."""
    if outcome.get("status") == "interrupted":
        return "interrupted"
    if outcome.get("prediction"):
        return "prediction"
    return outcome.get("status") or "no_prediction"


class Episode:
    """One transcript from header to end; see the module docstring."""

    def __init__(self, subject, *, condition: str, llm: str, transcript_path: Path, residual: str = "labelled",
                 limits: Optional[Limits] = None, cap_tokens: int = DEFAULT_CAP_TOKENS, seed: int = 0,
                 closed_set: bool = False, session_id: str = "", actor: str = "agent",
                 listeners: Optional[list] = None, judge=None, score: bool = True, closed_world: bool = False):
        self.subject = subject
        self.condition = condition
        self.residual = residual
        self.llm = llm
        self.path = Path(transcript_path)
        self.limits = limits
        """None for an episode that runs without a budget (the lab); the header then records {}."""
        self.cap_tokens = cap_tokens
        self.seed = seed
        self.closed_set = closed_set
        self.session_id = session_id or uuid.uuid4().hex[:12]
        self.actor = actor
        self.listeners = listeners if listeners is not None else []
        self.judge = judge
        self.score = score
        self.closed_world = closed_world
        """The investigator knows the zoo's answers (`baseline-closed`): its score is a lookup."""
        self.writer: Optional[tr.TranscriptWriter] = None
        self.recorder: Optional[Recorder] = None

    def open(self) -> "Episode":
        """Starts the transcript (a new episode never appends to an old file) with its header."""
        from tracr_agent.agent.scoring.sandbox import running_unsafe

        if self.path.exists():
            self.path.unlink()
        self._attach(tr.TranscriptWriter(self.path))
        self.recorder.emit(tr.Header(
            tracr_agent_version=version(), created=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            subject=subject_ref(self.subject), condition=self.condition, residual=self.residual, llm=self.llm,
            actor=self.actor,
            limits=self.limits.model_dump() if self.limits else {}, cap_tokens=self.cap_tokens, seed=self.seed,
            closed_set=self.closed_set, session_id=self.session_id, closed_world=bool(self.closed_world),
            unsafe_sandbox=running_unsafe() or None))
        return self

    def reopen(self, elapsed: float) -> "Episode":
        """Continues a suspended transcript: events append, their times go on from `elapsed` seconds."""
        self._attach(tr.TranscriptWriter(self.path, start=time.monotonic() - elapsed))
        return self

    def _attach(self, writer: tr.TranscriptWriter) -> None:
        self.writer = writer
        self.recorder = Recorder(writer, self.listeners)

    def elapsed(self) -> float:
        return time.monotonic() - self.writer.start

    def suspend(self) -> None:
        """Closes the transcript without an end event: the episode is left to be resumed."""
        if self.writer is not None:
            self.writer.close()

    def pause(self, step: int, what: str) -> None:
        """Records why the episode stopped and how to go on (a `pause` event), then suspends it: the
        one place a run, an interactive session or a lab is left to `tracr-agent resume`."""
        self.recorder.emit(tr.HumanEvent(step=step, action="pause",
                                         text=f"{what}; resume with: tracr-agent resume {self.session_id}"))
        self.suspend()

    def finish(self, outcome: Outcome, resumable: bool = False) -> EpisodeResult:
        """Scores the prediction (not for an interrupted episode), writes score and end, closes.

        `resumable`: the episode is checkpointed, so a Ctrl-C while scoring propagates (the caller
        suspends the episode, and its resume scores it) instead of ending it as interrupted."""
        prediction = outcome.get("prediction")
        status = outcome_status(outcome)
        # Every episode ends with a score event or, in the end event, the reason why there is none.
        score, score_error, reason = None, "", None
        if status == "interrupted":
            reason = "interrupted (Ctrl-C) before the prediction was scored"
        elif not self.score:
            reason = "not scored: scoring was switched off for this episode"
        else:
            try:
                score = score_episode(prediction, self.subject, closed_set=self.closed_set, judge=self.judge)
                self.recorder.emit(tr.ScoreEvent(score=score))
            except KeyboardInterrupt:  # the transcript still closes, saying so
                if resumable:
                    raise
                status, reason = "interrupted", "interrupted (Ctrl-C) while scoring"
            except Exception as e:  # a scorer failure is recorded; the transcript still closes
                score_error = reason = f"scoring failed: {type(e).__name__}: {e}"
                self.recorder.emit(tr.ErrorEvent(message=score_error, where="score"))
        counters = tr.Counters.of(outcome).model_copy(update={"duration_s": round(self.elapsed(), 2)})
        self.recorder.emit(tr.EndEvent(status=status, reason=reason, **counters.model_dump()))
        self.writer.close()
        return EpisodeResult(transcript=self.path, status=status, prediction=prediction, score=score,
                             error=outcome.get("error", ""), score_error=score_error, **counters.model_dump())


def investigate(episode: Episode, backend, *, review=None, checkpointer=None, static_hooks=None,
                static_inputs=None, resumed: Optional[list] = None) -> Outcome:
    """Runs the investigator the condition calls for on an open episode; returns its outcome.

    With a `checkpointer` the graph saves every step under the episode's session id; `resumed`
    (the transcript's events so far) continues such an episode from its last checkpoint: the
    wall-time clock goes on from the time it had used, a step cut short is done again (its tool
    results already recorded are reused, not re-run), and an episode whose investigation had
    finished (cut short while scoring) returns its outcome at once."""
    from tracr_agent.tools.suite.base import ToolContext, get_condition

    subject, condition = episode.subject, episode.condition
    if not get_condition(condition).has_tools:
        from tracr_agent.agent.investigators.static import run_static, static_outcome

        from tracr_agent.agent.loop.graph import LLM_GRACE_SECONDS

        # a static episode is one step: resumed, it has its answer already or asks again
        done = static_outcome(resumed) if resumed else None
        return done or run_static(subject, backend, condition, episode.recorder, closed_set=episode.closed_set,
                                  hooks=static_hooks, inputs=static_inputs, residual=episode.residual,
                                  remaining=lambda: episode.limits.max_seconds + LLM_GRACE_SECONDS - episode.elapsed())
    from tracr_agent.agent.loop.graph import build_graph, opening_state, recursion_limit

    ctx = ToolContext(condition=condition, cap_tokens=episode.cap_tokens, residual=episode.residual)
    config = {"recursion_limit": recursion_limit(episode.limits),
              "configurable": {"thread_id": episode.session_id}}
    saved = checkpointer.get_tuple(config) if checkpointer is not None and resumed is not None else None
    values = (saved.checkpoint.get("channel_values") or {}) if saved else {}
    graph = build_graph(subject, backend, ctx, episode.limits, episode.recorder, checkpointer=checkpointer,
                        review=review, elapsed_before=float(values.get("agent_s", 0.0)),
                        answered=cut_short_results(resumed or []))
    sync = {"durability": "sync"} if checkpointer is not None else {}  # a kill loses no finished step
    if saved is not None:
        from tracr_agent.agent.backends.replay import skip_used

        snap = graph.get_state(config)
        skip_used(backend, snap.values)
        return graph.invoke(None, config, **sync) if snap.next else snap.values
    return graph.invoke(opening_state(subject, condition, episode.closed_set, episode.residual), config, **sync)


def cut_short_results(events: list) -> dict:
    """call id -> ToolResultEvent for the results recorded after the transcript's last LLM response:
    the step a resumed episode does again (its checkpoint is from before it) already has these."""
    last = max((i for i, e in enumerate(events) if isinstance(e, tr.LLMResponse)), default=None)
    if last is None:
        return {}
    return {e.call_id: e for e in events[last + 1:] if isinstance(e, tr.ToolResultEvent)}


def run_episode(subject, backend, *, condition: str = "full", limits: Optional[Limits] = None,
                transcript_path: Path, closed_set: bool = False, listeners: Optional[list] = None,
                seed: int = 0, cap_tokens: int = DEFAULT_CAP_TOKENS, score: bool = True, review=None,
                checkpointer=None, session_id: str = "", judge=None, static_hooks=None,
                static_inputs=None, residual: str = "labelled") -> EpisodeResult:
    """One whole episode, headless or live: open, investigate, finish. Never raises for a failing
    investigator (the error is recorded and the result says so)."""
    from tracr_agent.tools.suite.base import check_condition, check_residual

    check_condition(condition)
    check_residual(residual)
    episode = Episode(subject, condition=condition, residual=residual, llm=backend.spec,
                      transcript_path=transcript_path, limits=limits or Limits(), cap_tokens=cap_tokens, seed=seed,
                      closed_set=closed_set, session_id=session_id, listeners=listeners, judge=judge, score=score,
                      closed_world=getattr(backend, "closed_world", False)).open()
    return drive_episode(episode, backend, review=review, checkpointer=checkpointer, static_hooks=static_hooks,
                         static_inputs=static_inputs)


def drive_episode(episode: Episode, backend, *, resumable: bool = False, resumed: Optional[list] = None,
                  review=None, checkpointer=None, static_hooks=None, static_inputs=None) -> EpisodeResult:
    """Investigates on an open (or reopened) episode and finishes it. A failing investigator is
    recorded as an error. A Ctrl-C ends the episode as interrupted — unless it is `resumable`
    (checkpointed in the session store): then it propagates and the caller suspends the episode."""
    # TransformerLens loads while the investigator thinks about its first turn. Not in interactive
    # sessions or the lab: a Ctrl-C at their first prompt then waited for the import to finish.
    episode.subject.warm_up_async()
    try:
        outcome = investigate(episode, backend, review=review, checkpointer=checkpointer, resumed=resumed,
                              static_hooks=static_hooks, static_inputs=static_inputs)
    except KeyboardInterrupt:
        if resumable:
            raise
        outcome = {"status": "interrupted"}
    except Exception as e:  # the episode fails, the caller (and a batch) goes on
        episode.recorder.emit(tr.ErrorEvent(message=f"{type(e).__name__}: {e}", where="episode"))
        outcome = {"status": "error", "error": f"{type(e).__name__}: {e}"}
    return episode.finish(outcome, resumable=resumable)


def score_episode(prediction: Optional[dict], subject, closed_set: bool = False, judge=None) -> Score:
    from tracr_agent.agent.scoring.score import score_prediction

    task = None
    if subject.truth.task_id:
        from tracr_agent.tools.subjects.zoo import get_task

        task = get_task(subject.truth.task_id)
    return score_prediction(prediction, subject, task=task, closed_set=closed_set, judge_llm=judge)
