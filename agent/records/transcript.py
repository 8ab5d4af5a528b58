"""The transcript format: one JSON event per line, schema defined once here (pydantic), versioned.

A transcript starts with a `header` event, then events in the order they
happened, and normally closes with `end`. Each event is flushed when written,
so a crash leaves a readable prefix. See docs/transcript-format.md.

A transcript is data anyone could have written: lines are read with their nesting bounded
(tools/untrusted/jsonio.py), and the file is written only where it is a regular file, never
through a symlink (tools/untrusted/files.py).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any, Literal, Optional, Union

from pydantic import BaseModel, Field, TypeAdapter, ValidationError, model_serializer, model_validator

from tracr_agent.agent.records.config import EpisodeConfig, EpisodeSettings
from tracr_agent.agent.records.limits import Limits
from tracr_agent.agent.scoring.verdicts import Score
from tracr_agent.tools.errors import UserError
from tracr_agent.tools.subjects.spec import SubjectSpec
from tracr_agent.tools.subjects.transforms.record import TransformRecord
from tracr_agent.tools.untrusted import jsonio
from tracr_agent.tools.untrusted.files import open_regular, write_error

SCHEMA_VERSION = 1
SUPPORTED_VERSIONS = (1,)
SCHEMA_MINOR = 5
"""Additive revision within SCHEMA_VERSION, stamped on every header written (docs/transcript-format.md):
0 = the first release; 1 = `tool_result.origin`; 2 = the header holds the whole EpisodeConfig
(`subject.spec`, `compat`, `static_hooks`, `static_inputs`); 3 = `subject.transform`, the transform's
record (tools/subjects/transforms/record.py); 4 = sampling and budget settings in the
header (`temperature`, `reasoning_effort`, `max_output_tokens`, `price`, `trim_tool_outputs`,
`static_style`, `limits.max_context_tokens`), cached tokens and the reported `model` on llm_response
(whose `cost` is null when unknown), and `forced`, `limit`, `model`, `cost_unknown` on end;
5 = `api_key_env` in the header."""


class _Event(BaseModel):
    t: float = 0.0
    """Seconds since the episode started."""


class SubjectRef(BaseModel):
    fingerprint: str
    kind: Literal["task", "program", "model_dir"] = "task"
    task_id: Optional[str] = None
    """Ground truth for scoring: never shown to the agent."""
    source: str = ""
    spec: Optional[str] = None
    """The SubjectSpec that named it (tools/subjects/spec.py, canonical text); absent before revision 1.2."""
    transform: Optional[TransformRecord] = None
    """A transformed subject's transform, as applied (its seed; compressed: D, the training, the search).
    For the people running the study: never shown to the investigator. Absent before revision 1.3."""

    @property
    def named_transform(self) -> Optional[str]:
        """The transform as the subject was named (`rotated:3`, `compressed`: what `eval --transforms` and
        a results record call it), or None."""
        from tracr_agent.tools.subjects.spec import split_transform

        transform = split_transform(self.spec)[1] if self.spec else None
        return None if transform is None else str(transform)

    @property
    def name(self) -> str:
        """What people's views call the subject: its task id (or fingerprint), with the transform applied."""
        base = self.task_id or self.fingerprint
        return base if self.transform is None else f"{base}@{self.transform.applied}"

    def subject_spec(self) -> SubjectSpec:
        """How to load the subject again: its recorded spec, or (older files) one made from kind and source."""
        if self.kind == "task":
            if not (self.spec or self.task_id):
                raise TranscriptError("the header names a task subject without a task_id: cannot reload it")
            return SubjectSpec.parse(self.spec or self.task_id)
        prog_file = self.source.rpartition(":")[0]
        if self.kind == "program" and prog_file.endswith(".py") and Path(prog_file).is_file():
            spec = SubjectSpec(kind="program", ref=self.source)
        elif self.source and Path(self.source).is_dir():  # a model directory, or a compiled program's cache entry
            spec = SubjectSpec(kind="model_dir", ref=self.source)
        else:
            raise TranscriptError(f"cannot reload the {self.kind} subject: its recorded source {self.source!r} "
                                  "no longer exists")
        return SubjectSpec.parse(self.spec) if self.spec else spec


class Header(_Event, EpisodeSettings):
    """The first event: the episode's settings (EpisodeSettings, records/config.py), the loaded subject's
    identity, and who ran it when."""

    type: Literal["header"] = "header"
    schema_version: int = SCHEMA_VERSION
    schema_minor: int = 0
    """The additive revision the writer used (TranscriptWriter stamps SCHEMA_MINOR); 0 when absent."""
    tracr_agent_version: str = ""
    created: str = ""
    subject: SubjectRef
    actor: Literal["agent", "human"] = "agent"
    limits: Optional[Limits] = None
    """The budget; absent for an episode without one (the lab)."""
    closed_world: Optional[bool] = None
    """True when the investigator knows the zoo's answers (`baseline-closed`): its score is a lookup.
    Absent in transcripts written before the open-world baseline: there `llm: baseline` was the zoo
    lookup, so it reads as True (see `_old_baseline_was_closed_world`)."""
    session_id: str = ""
    unsafe_sandbox: Optional[bool] = None
    """True when the submission was allowed to run without OS-level isolation (`--unsafe-sandbox`)."""

    @model_validator(mode="after")
    def _old_baseline_was_closed_world(self):
        if self.closed_world is None and self.llm == "baseline":
            self.closed_world = True
        return self

    @model_serializer(mode="wrap")
    def _event_fields_first(self, handler):
        # a header reads like every event: its time and type first, then its settings
        data = handler(self)
        first = ("t", "type", "schema_version", "schema_minor", "tracr_agent_version", "created", "subject")
        return {k: data[k] for k in first if k in data} | data

    def config(self) -> EpisodeConfig:
        """The EpisodeConfig the episode ran with (the subject as its spec)."""
        return EpisodeConfig(subject=self.subject.subject_spec(), **self.settings())


class ToolCallRec(BaseModel):
    id: str
    name: str
    args: Any = None


class LLMRequest(_Event):
    type: Literal["llm_request"] = "llm_request"
    step: int
    messages: list[dict]
    """The messages new since the previous request (system prompt included on the first)."""


class Usage(BaseModel):
    input_tokens: int = 0
    """Every input token of the request, cached ones included."""
    output_tokens: int = 0
    cache_read_tokens: int = 0
    """Input tokens read from the provider's prompt cache."""
    cache_write_tokens: int = 0
    """Input tokens written to the provider's prompt cache."""


class LLMResponse(_Event):
    type: Literal["llm_response"] = "llm_response"
    step: int
    text: str = ""
    tool_calls: list[ToolCallRec] = Field(default_factory=list)
    usage: Usage = Field(default_factory=Usage)
    latency_ms: float = 0.0
    cost: Optional[float] = None
    """USD; absent (None) when the model's price is unknown (no table entry, no --price)."""
    model: Optional[str] = None
    """The model snapshot the provider said answered (its reply's `model`), when it said."""


class ToolCallEvent(_Event):
    type: Literal["tool_call"] = "tool_call"
    step: int
    call_id: str
    name: str
    args: Any = None


ResultOrigin = Literal["tool", "denied", "already_submitted", "forced_turn", "tool_limit", "invalid_call"]
"""Who wrote a tool result: `tool` when `call_tool` ran the call; otherwise the loop refused it
itself — the user denied it, a prediction was already submitted, only submit_prediction was
allowed (forced turn after a limit), the tool-call limit was reached, or its arguments were not
valid JSON. `replay --rerun` re-executes only `tool` results."""


class ToolResultEvent(_Event):
    type: Literal["tool_result"] = "tool_result"
    step: int
    call_id: str
    name: str
    text: str
    is_error: bool = False
    latency_ms: float = 0.0
    origin: Optional[ResultOrigin] = None
    """Absent in transcripts of schema 1.0: read it with `result_origin()`."""


# The loop's refusals as revision 1.0 worded them (frozen: 1.0 files never change), for results
# recorded without `origin`.
_V1_0_REFUSALS: tuple[tuple[str, str], ...] = (
    ("error: the user denied this call", "denied"),
    ("error: a prediction was already submitted", "already_submitted"),
    ("error: the limit is reached; only submit_prediction is allowed now", "forced_turn"),
    ("error: tool-call limit reached", "tool_limit"),
    ("error: the arguments of your ", "invalid_call"),
)


def result_origin(event: ToolResultEvent) -> str:
    """The event's `origin`; for a result recorded without one (schema 1.0), inferred from the
    frozen wording of that revision's refusals."""
    if event.origin is not None:
        return event.origin
    for prefix, origin in _V1_0_REFUSALS:
        if event.text.startswith(prefix) and (origin != "invalid_call" or " call are not valid JSON" in event.text):
            return origin
    return "tool"


class LimitEvent(_Event):
    type: Literal["limit"] = "limit"
    step: int
    limit: str
    value: float


class HumanEvent(_Event):
    type: Literal["human"] = "human"
    step: int
    action: Literal["approve", "edit", "deny", "hint", "question", "pause", "resume", "tool"]
    text: str = ""
    call_id: Optional[str] = None
    args: Any = None


class PredictionEvent(_Event):
    type: Literal["prediction"] = "prediction"
    step: int
    label: str
    description: str
    implementation: str
    confidence: float
    forced: bool = False


class ScoreEvent(_Event):
    type: Literal["score"] = "score"
    score: Score
    """The typed score (agent/scoring/score.py); older transcripts' score objects read into it."""


class ErrorEvent(_Event):
    type: Literal["error"] = "error"
    message: str
    where: str = ""


class Counters(BaseModel):
    """An episode's counters, declared once: the end event, the episode's result, each results.jsonl
    record and the graph's state (agent/loop/graph.py) all carry these fields."""

    tool_calls: int = 0
    llm_turns: int = 0
    tokens: int = 0
    cost: float = 0.0
    """USD of the calls whose price is known."""
    cost_unknown: bool = False
    """Some call's price was unknown (no table entry, no --price): `cost` leaves it out."""
    duration_s: float = 0.0

    @classmethod
    def of(cls, values) -> "Counters":
        """The counters found in a mapping (a graph state, an outcome); missing ones are 0."""
        return cls(**{k: values[k] for k in cls.model_fields if values.get(k) is not None})


def cost_text(cost: float, unknown: bool) -> str:
    """A cost as people read it: `$0.0123`, `unknown` when no call was priced, `$0.0123 + unknown` when
    only some were (their price unknown: no table entry, no --price)."""
    if unknown:
        return f"${cost:.4f} + unknown" if cost else "unknown"
    return f"${cost:.4f}"


class _EndHead(_Event):
    type: Literal["end"] = "end"
    status: Literal["prediction", "no_prediction", "error", "interrupted"]


class Ending(BaseModel):
    """How an investigation ended besides its status, declared once: the end event, the episode's
    result and each results.jsonl record carry these fields."""

    forced: Optional[bool] = None
    """Whether the prediction was made in the forced last turn, after a limit was reached."""
    limit: Optional[str] = None
    """The limit that was reached (e.g. "tool-call", "context (tokens)"), if one was."""
    model: Optional[str] = None
    """The model snapshot the provider reported (the last reply's), when it did."""

    @classmethod
    def of(cls, values) -> "Ending":
        return cls(**{k: values.get(k) for k in cls.model_fields if values.get(k) is not None})


class EndEvent(Counters, Ending, _EndHead):
    """The last event: how the episode ended and its counters (fields in the order t, type, status, …)."""

    reason: Optional[str] = None
    """Why the episode has no score event (interrupted, scoring failed or switched off); absent when scored."""


Event = Annotated[
    Union[Header, LLMRequest, LLMResponse, ToolCallEvent, ToolResultEvent, LimitEvent, HumanEvent,
          PredictionEvent, ScoreEvent, ErrorEvent, EndEvent],
    Field(discriminator="type"),
]
EVENT_ADAPTER: TypeAdapter = TypeAdapter(Event)


class TranscriptError(UserError):
    pass


class TranscriptWriter:
    """Appends events to a JSONL file, flushing each one. `new`: the file starts empty (a new episode
    never appends to an old file). A symlink or a file that is not a regular one (a device, a pipe) is
    refused with one UserError line, and nothing there is touched."""

    def __init__(self, path: Path, start: Optional[float] = None, new: bool = False):
        self.path = Path(path)
        self._fh = open_regular(self.path, "w" if new else "a", "the transcript")
        self.start = start if start is not None else time.monotonic()

    def write(self, event) -> None:
        if isinstance(event, Header):
            event.schema_minor = SCHEMA_MINOR
        if not event.t:
            event.t = round(time.monotonic() - self.start, 3)
        try:
            self._fh.write(event.model_dump_json(exclude_none=True) + "\n")
            self._fh.flush()
        except OSError as e:  # a full or read-only disk: one line naming the transcript
            raise write_error(e, self.path) from None

    def close(self) -> None:
        if not self._fh.closed:
            try:
                self._fh.close()
            except OSError:  # the flush of a line a full disk refused: `write` has raised it already
                pass


def drop_torn_tail(path: Path) -> bool:
    """Cuts a last line that a kill left half-written (no newline) off the file, so a resumed episode
    appends whole events after whole events. Returns whether there was one."""
    with open(path, "rb+") as fh:
        data = fh.read()
        if not data or data.endswith(b"\n"):
            return False
        fh.truncate(data.rfind(b"\n") + 1)
    return True


def read_transcript(path: Path, strict: bool = True) -> tuple[list, Optional[str]]:
    """Returns (events, problem). With strict=True a problem raises TranscriptError;
    otherwise the valid prefix comes back with the problem described."""
    path = Path(path)
    if not path.is_file():
        raise TranscriptError(f"{path}: no such transcript file")
    events: list = []
    problem = None
    with open(path, encoding="utf-8", errors="replace") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                data = jsonio.loads(line)
            except ValueError as e:  # not JSON, or nested deeper than anything a transcript holds
                problem = f"{path}:{lineno}: corrupt or truncated line ({getattr(e, 'msg', e)})"
                break
            if lineno == 1 or not events:
                if not isinstance(data, dict) or data.get("type") != "header":
                    raise TranscriptError(f"{path} is not a tracr-agent transcript (line 1 is not a header event)")
                version = data.get("schema_version")
                if version not in SUPPORTED_VERSIONS:
                    raise TranscriptError(
                        f"{path}: transcript schema version {version!r} is not supported "
                        f"(this tracr-agent reads versions {', '.join(map(str, SUPPORTED_VERSIONS))})")
            try:
                events.append(EVENT_ADAPTER.validate_python(data))
            except ValidationError as e:
                err = e.errors()[0]
                kind = data.get("type", "event") if isinstance(data, dict) else "event"
                problem = f"{path}:{lineno}: invalid {kind!r} event: {'.'.join(map(str, err['loc']))}: {err['msg']}"
                break
    if problem and strict:
        raise TranscriptError(problem)
    return events, problem
