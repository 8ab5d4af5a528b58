"""The episode lifecycle: every investigation, whoever runs it, is one `Episode`.

An `Episode` is a subject, its `EpisodeConfig` (agent/records/config.py) and one transcript.
`open()` writes the header (the config itself, plus the subject's identity), `recorder` is where
the investigator emits its events, and `finish(outcome)` scores the prediction and writes the score
and end events — the only place in tracr-agent where a header, a score or an end is written.
`suspend()` closes the file without an end (an episode left to resume), `reopen()` continues such
a transcript. Task (the subject), solver (the investigator) and scorer (agent/scoring/score.py)
stay apart: this module only wires them and records. agent/episode/drive.py pushes an episode
through a `Driver` from open to finish; see its docstring for plugging in a new investigator.
"""

from __future__ import annotations

import datetime as _dt
import time
import uuid
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _package_version
from pathlib import Path
from typing import Optional

from tracr_agent.agent.records import transcript as tr
from tracr_agent.agent.records.config import EpisodeConfig
from tracr_agent.agent.records.recorder import Recorder
from tracr_agent.tools.sandbox.runner import running_unsafe
from tracr_agent.agent.scoring.verdicts import Score
from tracr_agent.tools.subjects.spec import SubjectSpec

Outcome = dict
"""What an investigator returns: `prediction` (dict or None), `status` ("prediction",
"no_prediction", "error", "interrupted"; derived from the prediction when absent), `error`, and
the counters `tool_calls`, `llm_turns`, `tokens`, `cost` (the graph's final state is one)."""


class EpisodeResult(tr.Counters, tr.Ending):
    """What `finish` hands back: the end event's status, counters and ending (forced, the limit reached,
    the model snapshot), the prediction and the typed score."""

    transcript: Path
    status: str
    prediction: Optional[dict] = None
    score: Optional[Score] = None
    error: str = ""
    score_error: str = ""
    """Why scoring failed (also recorded as an ErrorEvent), or ""."""


def version() -> str:
    try:
        return _package_version("tracr-agent")
    except PackageNotFoundError:
        return "dev"


def subject_ref(subject, spec: SubjectSpec) -> tr.SubjectRef:
    """The header's identity of a loaded subject, and the spec that named it."""
    return tr.SubjectRef(fingerprint=subject.fingerprint, kind=subject.kind, task_id=subject.truth.task_id,
                         source=subject.truth.task_id or subject.source, spec=str(spec),
                         transform=getattr(subject, "transform", None))


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

    def __init__(self, subject, config: EpisodeConfig, *, transcript_path: Path, session_id: str = "",
                 actor: str = "agent", listeners: Optional[list] = None, judge=None, score: bool = True,
                 closed_world: bool = False):
        self.subject = subject
        self.config = config
        self.path = Path(transcript_path)
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
        self._attach(tr.TranscriptWriter(self.path, new=True))
        self.recorder.emit(tr.Header(
            tracr_agent_version=version(), created=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            subject=subject_ref(self.subject, self.config.subject), actor=self.actor, session_id=self.session_id,
            closed_world=bool(self.closed_world), unsafe_sandbox=running_unsafe() or None, **self.config.settings()))
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
                score = score_episode(prediction, self.subject, closed_set=self.config.closed_set, judge=self.judge)
                self.recorder.emit(tr.ScoreEvent(score=score))
            except KeyboardInterrupt:  # the transcript still closes, saying so
                if resumable:
                    raise
                status, reason = "interrupted", "interrupted (Ctrl-C) while scoring"
            except Exception as e:  # a scorer failure is recorded; the transcript still closes
                score_error = reason = f"scoring failed: {type(e).__name__}: {e}"
                self.recorder.emit(tr.ErrorEvent(message=score_error, where="score"))
        counters = tr.Counters.of(outcome).model_copy(update={"duration_s": round(self.elapsed(), 2)})
        ending = ending_of(outcome)
        self.recorder.emit(tr.EndEvent(status=status, reason=reason, **counters.model_dump(), **ending))
        self.writer.close()
        return EpisodeResult(transcript=self.path, status=status, prediction=prediction, score=score,
                             error=outcome.get("error", ""), score_error=score_error, **counters.model_dump(), **ending)


def ending_of(outcome: Outcome) -> dict:
    """The ending fields of an outcome: `forced` says whether its prediction came in the forced last
    turn (a limit reached), `limit` which limit was reached, `model` the snapshot the provider reported."""
    fields = tr.Ending.of(outcome).model_dump(exclude_none=True)
    if outcome.get("prediction") or outcome.get("limit"):
        fields["forced"] = bool(outcome.get("forced")) and bool(outcome.get("prediction"))
    return fields


def score_episode(prediction: Optional[dict], subject, closed_set: bool = False, judge=None) -> Score:
    # Imported here: scoring's label rules import the zoo, which an open-world episode on a model
    # directory never loads until it is scored (tests/integration/test_openworld.py runs one with score=False).
    from tracr_agent.agent.scoring.score import score_prediction

    # score_prediction looks the zoo task up itself, and only for a subject that is one
    return score_prediction(prediction, subject, task=subject.truth.task_id, closed_set=closed_set, judge_llm=judge)
