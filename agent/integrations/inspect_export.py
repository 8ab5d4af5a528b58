"""tracr-agent episodes written as Inspect AI logs (`tracr-agent export PATH --format inspect`), so a run
started in tracr-agent is browsed in `inspect view` as if `tracr_agent/interp` had run it.

Each transcript becomes one sample of task `tracr_agent/interp`: its LLM requests and responses the
messages, its tool results the tool messages, its header the sample store (`EpisodeStore`, as the
task's setup writes it), its score the `tracr_scorer` score (value, label, one line, the typed score
in the metadata). The logs read back into tracr-agent like any log of the task (inspect_log.py).
An evaluation directory becomes one log per (LLM, condition, residual mode): Inspect gives a log one
model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from tracr_agent.agent.records import transcript as tr
from tracr_agent.tools.errors import UserError
from tracr_agent.tools.untrusted.files import inside, replace_with


def _messages(events: list) -> list:
    from inspect_ai.model import ChatMessageAssistant, ChatMessageSystem, ChatMessageTool, ChatMessageUser
    from inspect_ai.tool import ToolCall

    out: list = []
    for e in events:
        if isinstance(e, tr.LLMRequest):
            for m in e.messages:  # tool results come from their own events, in the order they happened
                role, text = m.get("role"), str(m.get("content", ""))
                if role == "system":
                    out.append(ChatMessageSystem(content=text))
                elif role == "user":
                    out.append(ChatMessageUser(content=text))
                elif role == "assistant":
                    out.append(ChatMessageAssistant(content=text))
        elif isinstance(e, tr.LLMResponse):
            calls = [ToolCall(id=c.id, function=c.name, arguments=c.args if isinstance(c.args, dict) else {})
                     for c in e.tool_calls]
            out.append(ChatMessageAssistant(content=e.text, tool_calls=calls or None))
        elif isinstance(e, tr.ToolResultEvent):
            out.append(ChatMessageTool(content=e.text, tool_call_id=e.call_id, function=e.name))
    return out


def episode_sample(events: list, sample_id: str, epoch: int, task: Optional[str] = None, suite: Optional[str] = None):
    """One transcript as an Inspect EvalSample of tracr_agent/interp (`task`, `suite`: its results record's;
    a transformed subject's sample id ends in its transform, `reverse@rotated`, as the task names it)."""
    from inspect_ai.log import EvalSample
    from inspect_ai.model import ModelOutput, ModelUsage

    from tracr_agent.agent.integrations.inspect_log import SCORER, STORE_PREFIX
    from tracr_agent.agent.integrations.inspect_task import inspect_score
    from tracr_agent.tools.suite.base import get_condition

    header: tr.Header = events[0]
    end = next((e for e in events if isinstance(e, tr.EndEvent)), None)
    pred = next((e for e in reversed(events) if isinstance(e, tr.PredictionEvent)), None)
    typed = next((e.score for e in reversed(events) if isinstance(e, tr.ScoreEvent)), None)
    prediction = {k: getattr(pred, k) for k in ("label", "description", "implementation", "confidence")} if pred else None
    limit = next((e for e in events if isinstance(e, tr.LimitEvent)), None)
    ref = header.subject
    transform = ref.named_transform
    store = {"task": task or ref.task_id or ref.source, "suite": suite,
             "model_dir": None if ref.kind == "task" else ref.source, "transform": transform,
             "condition": header.condition, "residual": header.residual, "cap_tokens": header.cap_tokens,
             "closed_set": header.closed_set, "max_tool_calls": header.limits.max_tool_calls if header.limits else None,
             "seed": header.seed, "subject": ref.model_dump(), "tool_calls": end.tool_calls if end else 0,
             "prediction": prediction if get_condition(header.condition).has_tools else None,
             "forced": bool(pred and pred.forced),
             "limit": {"limit": limit.limit, "value": limit.value, "step": limit.step} if limit else None}
    messages = _messages(events)
    usage = [e.usage for e in events if isinstance(e, tr.LLMResponse)]
    n_in, n_out = sum(u.input_tokens for u in usage), sum(u.output_tokens for u in usage)
    last = next((m for m in reversed(messages) if m.role == "assistant"), None)
    first_user = next((m.text for m in messages if m.role == "user"), "")
    return EvalSample(
        id=f"{sample_id}@{transform}" if transform else sample_id, epoch=epoch, input=first_user, target="",
        messages=messages,
        output=ModelOutput.from_content(header.llm, last.text if last else ""),
        scores={SCORER: inspect_score(typed, prediction, pred.forced if pred else None)} if typed else None,
        metadata={"tracr_agent": {k: store[k] for k in ("task", "suite", "model_dir", "condition", "residual",
                                                        "cap_tokens", "closed_set", "max_tool_calls")}},
        store={f"{STORE_PREFIX}{k}": v for k, v in store.items()},
        model_usage={header.llm: ModelUsage(input_tokens=n_in, output_tokens=n_out, total_tokens=n_in + n_out)},
        total_time=end.duration_s if end else None,
        error=None if not end or end.status != "error" else _error(events))


def _error(events: list):
    from inspect_ai.log import EvalError

    message = next((e.message for e in events if isinstance(e, tr.ErrorEvent)), "the episode ended in an error")
    return EvalError(message=message, traceback="", traceback_ansi="")


def write_log(samples: list, llm: str, created: str, dest: Path) -> None:
    """Samples of one LLM as an Inspect log of tracr_agent/interp, with its headline metrics."""
    from inspect_ai.log import (EvalConfig, EvalDataset, EvalLog, EvalMetric, EvalResults, EvalScore, EvalSpec,
                                write_eval_log)

    from tracr_agent.agent.integrations.inspect_log import EXPORTED, SCORER, TASK_NAME

    scored = [s.scores[SCORER].value for s in samples if s.scores]
    metrics = {}
    for part in ("functional", "explained", "agreement"):
        values = [v[part] for v in scored]
        metrics[part] = EvalMetric(name="mean" if part == "agreement" else "accuracy",
                                   value=sum(values) / len(values) if values else 0.0)
    if not created:
        import datetime as _dt

        created = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    spec = EvalSpec(created=created, task=TASK_NAME, task_registry_name=TASK_NAME, model=llm,
                    metadata={EXPORTED: "tracr-agent"},
                    dataset=EvalDataset(name="tracr-agent", samples=len({s.id for s in samples})),
                    config=EvalConfig(epochs=max(s.epoch for s in samples)))
    results = EvalResults(total_samples=len(samples), completed_samples=len(samples),
                          scores=[EvalScore(name=SCORER, scorer=SCORER, metrics=metrics)])
    log = EvalLog(version=2, status="success", eval=spec, results=results, samples=samples)
    replace_with(dest, lambda tmp: write_eval_log(log, str(tmp)), "the Inspect log")


def export_inspect(path: Path, dest: Optional[Path] = None) -> list[Path]:
    """PATH (one transcript, or an evaluation directory) as Inspect logs; returns the files written."""
    from tracr_agent.agent.episode.reading import load_events

    path = Path(path)
    try:
        import inspect_ai  # noqa: F401
    except ImportError:
        raise UserError("--format inspect needs inspect-ai: pip install 'tracr-agent[inspect]'") from None
    if path.is_file():
        events, _ = load_events(path)
        h = events[0]
        out = dest or path.with_suffix(".eval")
        write_log([episode_sample(events, h.subject.task_id or h.subject.fingerprint[:12], h.seed + 1)],
                  h.llm, h.created, out)
        return [out]
    from tracr_agent.agent.evaluation.results import read_results

    if not (path / "results.jsonl").is_file():
        raise UserError(f"{path} is neither a transcript nor an evaluation directory (no results.jsonl)")
    groups: dict = {}
    for rec in read_results(path, strict=True):
        where = inside(path, rec.transcript)  # a record's transcript is read only inside its eval directory
        if where is None or not where.is_file():
            continue
        events, _ = load_events(where)
        sample_id = f"{rec.suite}/{rec.task}" if rec.suite else rec.task
        groups.setdefault((rec.llm, rec.condition, rec.residual), []).append(
            (episode_sample(events, sample_id, rec.trial + 1, rec.task, rec.suite), events[0].created))
    if not groups:
        raise UserError(f"{path} holds no episode with a transcript to export")
    folder = dest or path / "inspect"
    written = []
    for (llm, condition, residual), items in sorted(groups.items()):
        safe = "".join(ch if ch.isalnum() or ch in "-." else "_" for ch in f"{condition}-{residual}-{llm}")[:120]
        out = folder / f"{safe}.eval"
        write_log([s for s, _ in items], llm, min(c for _, c in items), out)
        written.append(out)
    return written
