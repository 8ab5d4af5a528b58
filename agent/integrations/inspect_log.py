"""An Inspect AI log of `tracr_agent/interp` read back as our episodes: transcript events and
results records, so `tracr-agent replay`, `rescore`, `report` and `view` show a run started in Inspect.

Each sample (one subject × epoch) becomes one episode: its store (`EpisodeStore`) gives the
header, its messages the LLM turns, tool calls and results, its model events the token usage and
times, our scorer's metadata the prediction and the typed score. `write_eval_dir` lays the
episodes out as an evaluation directory (results.jsonl, transcripts/, manifest.json), the format
every other command reads.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from tracr_agent.agent.records import transcript as tr
from tracr_agent.tools.errors import UserError
from tracr_agent.tools.untrusted.files import write_atomic

TASK_NAME = "tracr_agent/interp"
SCORER = "tracr_scorer"
STORE_PREFIX = "EpisodeStore:"
"""How Inspect names the fields of the task's StoreModel (inspect_tools.EpisodeStore) in a sample store."""
EXPORTED = "exported_by"
"""The eval metadata key marking a log written by `tracr-agent export --format inspect` (inspect_export.py)."""


@dataclass
class LogEpisode:
    sample: str
    """`ID` of the sample, with `:EPOCH` when the log has several epochs."""
    events: list
    record: object
    """The results.jsonl record (evaluation.batch.ResultRecord), transcript path not yet set."""


def is_inspect_log(path: Path) -> bool:
    """Whether PATH names an Inspect log file (.eval, or a .json that Inspect can read)."""
    path = Path(path)
    if not path.is_file() or path.suffix not in (".eval", ".json"):
        return False
    if path.suffix == ".eval":
        return True
    try:
        with open(path, encoding="utf-8") as fh:
            head = fh.read(4096)
    except (OSError, UnicodeDecodeError):
        return False
    return head.lstrip().startswith("{") and '"eval"' in head and '"version"' in head


def read_log(path: Path):
    """The whole log (samples included), or a UserError saying why it cannot be used."""
    try:
        from inspect_ai.log import read_eval_log
    except ImportError:
        raise UserError(f"{path} is an Inspect log: reading it needs inspect-ai (pip install 'tracr-agent[inspect]')") from None
    try:
        log = read_eval_log(str(path), resolve_attachments=True)
    except Exception as e:  # a cut or foreign file: Inspect raises many kinds
        raise UserError(f"{path}: not a readable Inspect log ({type(e).__name__}: {str(e)[:200]})") from None
    name = log.eval.task_registry_name or log.eval.task
    if name != TASK_NAME and not str(name).endswith("/interp"):
        raise UserError(f"{path} is an Inspect log of task {name!r}, not of {TASK_NAME}: tracr-agent reads only its own")
    return log


def _store(sample) -> dict:
    return {k[len(STORE_PREFIX):]: v for k, v in (sample.store or {}).items() if k.startswith(STORE_PREFIX)}


def _origin(text: str, error) -> str:
    if error is not None:
        return "invalid_call"  # Inspect refused the call (arguments not matching the schema, unknown tool)
    from tracr_agent.agent.integrations.inspect_tools import ALREADY_SUBMITTED, TOOL_LIMIT

    return {ALREADY_SUBMITTED: "already_submitted", TOOL_LIMIT: "tool_limit"}.get(text, "tool")


def _seconds(when, start) -> float:
    from datetime import datetime

    if when is None or start is None:
        return 0.0
    when = when if isinstance(when, datetime) else datetime.fromisoformat(str(when))
    start = start if isinstance(start, datetime) else datetime.fromisoformat(str(start))
    return round(max(0.0, (when - start).total_seconds()), 3)


def _usage(event) -> tr.Usage:
    u = getattr(getattr(event, "output", None), "usage", None)
    return tr.Usage(input_tokens=u.input_tokens, output_tokens=u.output_tokens) if u else tr.Usage()


def sample_events(log, sample) -> list:
    """One sample of a tracr_agent/interp log as transcript events (header … end)."""
    ep = _store(sample)
    if not ep.get("subject"):
        raise UserError(f"sample {sample.id} of {log.location} has no tracr-agent episode in its store "
                        "(its setup did not run): nothing to read back")
    score = (sample.scores or {}).get(SCORER)
    meta = (score.metadata or {}) if score else {}
    events: list = [tr.Header(
        tracr_agent_version=_version(), created=str(log.eval.created), subject=tr.SubjectRef(**ep["subject"]),
        condition=ep["condition"], residual=ep.get("residual", "labelled"), llm=log_llm(log),
        limits={"max_tool_calls": ep.get("max_tool_calls")}, cap_tokens=ep.get("cap_tokens"), seed=ep.get("seed", 0),
        closed_set=bool(ep.get("closed_set")), session_id=sample.uuid or f"{log.eval.run_id}-{sample.id}-{sample.epoch}")]
    model_events = [e for e in sample.events if getattr(e, "event", None) == "model"]
    start = sample.started_at or (model_events[0].timestamp if model_events else None)
    limit = ep.get("limit") or None
    prediction = meta.get("prediction")
    step, pending, tokens, predicted = 0, [], 0, False
    for m in sample.messages:
        if m.role in ("system", "user"):
            pending.append({"role": m.role, "content": m.text})
            continue
        if m.role == "assistant":
            event = model_events[step] if step < len(model_events) else None
            if limit and step == limit.get("step"):
                events.append(tr.LimitEvent(step=step, limit=limit["limit"], value=limit["value"]))
            step += 1
            t = _seconds(getattr(event, "completed", None) or getattr(event, "timestamp", None), start)
            usage = _usage(event)
            tokens += usage.input_tokens + usage.output_tokens
            events.append(tr.LLMRequest(step=step, messages=pending, t=t))
            pending = []
            calls = [tr.ToolCallRec(id=c.id, name=c.function, args=c.arguments) for c in m.tool_calls or []]
            events.append(tr.LLMResponse(step=step, text=m.text, tool_calls=calls, usage=usage, t=t, cost=0.0,
                                         latency_ms=round((getattr(event, "working_time", None) or 0) * 1000, 2)))
            events += [tr.ToolCallEvent(step=step, call_id=c.id, name=c.name, args=c.args, t=t) for c in calls]
        elif m.role == "tool":
            text = m.text if m.error is None else f"error: {m.error.message}"
            origin = _origin(text, m.error)
            events.append(tr.ToolResultEvent(step=step, call_id=m.tool_call_id or "", name=m.function or "", text=text,
                                             is_error=origin != "tool" or text.startswith("error:"), origin=origin,
                                             t=events[-1].t))
            if m.function == "submit_prediction" and origin == "tool" and not text.startswith("error:") and prediction:
                events.append(_prediction_event(step, prediction, bool(meta.get("forced")), events[-1].t))
                predicted = True
    if prediction and not predicted:  # answered in text (a static condition, or a swapped-in solver)
        events.append(_prediction_event(max(step, 1), prediction, False, events[-1].t))
    if sample.limit is not None:
        events.append(tr.LimitEvent(step=step, limit=f"inspect {sample.limit.type}", value=sample.limit.limit,
                                    t=events[-1].t))
    if sample.error is not None:
        events.append(tr.ErrorEvent(message=sample.error.message, where="episode", t=events[-1].t))
    typed = _typed_score(meta)
    if typed is not None:
        events.append(tr.ScoreEvent(score=typed, t=events[-1].t))
    status = "error" if sample.error is not None else "prediction" if prediction else "no_prediction"
    ending = {"forced": bool(meta.get("forced")) and bool(prediction)} if prediction or limit else {}
    events.append(tr.EndEvent(status=status, tool_calls=ep.get("tool_calls", 0), llm_turns=step, tokens=tokens,
                              duration_s=round(sample.total_time or events[-1].t, 2), t=events[-1].t,
                              limit=limit["limit"] if limit else None, **ending,
                              reason=None if typed is not None else "not scored (the sample has no tracr_scorer score)"))
    return events


def log_llm(log) -> str:
    """The LLM as records name it: `inspect:MODEL` for a run of Inspect, the original spec for a log that
    tracr-agent exported."""
    exported = (log.eval.metadata or {}).get(EXPORTED)
    return log.eval.model if exported else f"inspect:{log.eval.model}"


def _prediction_event(step: int, prediction: dict, forced: bool, t: float) -> tr.PredictionEvent:
    return tr.PredictionEvent(step=step, forced=forced, t=t, **{
        k: prediction.get(k, d) for k, d in (("label", ""), ("description", ""), ("implementation", ""),
                                              ("confidence", 0.0))})


def _typed_score(meta: dict):
    from tracr_agent.agent.scoring.verdicts import Score

    return Score.model_validate(meta["score"]) if meta.get("score") else None


def _version() -> str:
    from tracr_agent.agent.episode.lifecycle import version

    return version()


def log_episodes(path: Path, sample: Optional[str] = None, notes: Optional[list] = None) -> list[LogEpisode]:
    """The episodes of an Inspect log of tracr_agent/interp (or only sample `ID` / `ID:EPOCH`). A sample
    that never started its episode (its setup failed) is left out, with one line in `notes`."""
    from tracr_agent.agent.records.transcript import Counters
    from tracr_agent.agent.evaluation.batch import EpisodeSpec, record_from_score, replica_fields

    log = read_log(Path(path))
    samples = list(log.samples or [])
    several_epochs = len({s.epoch for s in samples}) > 1
    out = []
    for s in samples:
        name = f"{s.id}:{s.epoch}" if several_epochs else str(s.id)
        if sample is not None and sample not in (name, str(s.id), f"{s.id}:{s.epoch}"):
            continue
        try:
            events = sample_events(log, s)
        except UserError as e:
            if notes is None or sample is not None:
                raise
            notes.append(f"{e}{f' ({s.error.message.splitlines()[0][:200]})' if s.error else ''}")
            continue
        header, end = events[0], events[-1]
        ep = _store(s)
        spec = EpisodeSpec(ep["task"], header.condition, header.llm, s.epoch - 1, suite=ep.get("suite"),
                           model_dir=ep.get("model_dir"), residual=header.residual, transform=ep.get("transform"))
        score = next((e.score for e in events if isinstance(e, tr.ScoreEvent)), None)
        pred = next((e for e in events if isinstance(e, tr.PredictionEvent)), None)
        record = record_from_score(spec, score, status=end.status, label=pred.label if pred else None,
                                   **Counters.of(end.model_dump()).model_dump(),
                                   **tr.Ending.of(end.model_dump()).model_dump(exclude_none=True),
                                   **replica_fields(events), error=s.error.message if s.error else "")
        out.append(LogEpisode(name, events, record))
    if sample is not None and not out:
        names = ", ".join(f"{s.id}:{s.epoch}" if several_epochs else str(s.id) for s in samples)
        raise UserError(f"{path} has no sample {sample!r}; its samples: {names}")
    return out


def write_eval_dir(path: Path, out: Path, notes: Optional[list] = None) -> int:
    """Writes the log's episodes as an evaluation directory OUT (a new or empty one, or one written
    from this same log, which is refreshed); returns how many episodes it holds."""
    from tracr_agent.agent.evaluation.batch import EpisodeSpec, prepare_out_dir

    out = Path(out)
    source = out / "inspect-log.json"
    if out.is_dir() and any(out.iterdir()):
        try:
            same = json.loads(source.read_text()).get("log") == str(Path(path).resolve())
        except (OSError, ValueError):
            same = False
        if not same:
            raise UserError(f"{out} already holds other files: choose a new --out for the episodes of {path}")
        write_atomic(out / "results.jsonl", "")
    episodes = log_episodes(path, notes=notes)
    prepare_out_dir(out, resume=False)
    lines = []
    for e in episodes:
        r = e.record
        spec = EpisodeSpec(r.task, r.condition, r.llm, r.trial, suite=r.suite, residual=r.residual,
                           transform=r.transform)
        rel = Path("transcripts") / spec.filename()
        writer = tr.TranscriptWriter(out / rel, new=True)  # refreshed from the log, never appended to
        for ev in e.events:
            writer.write(ev)
        writer.close()
        lines.append(r.model_copy(update={"transcript": rel.as_posix()}).model_dump_json() + "\n")
    write_atomic(out / "results.jsonl", "".join(lines))
    write_atomic(source, json.dumps({"log": str(Path(path).resolve())}))
    return len(episodes)
