"""Rescoring: recompute scores from saved transcripts, never calling the agent's model.

The prediction comes from each transcript's last `prediction` event, the
subject is loaded afresh, and results.jsonl is rewritten atomically.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

from tracr_agent.agent.evaluation.results import ResultRecord, read_results, score_fields
from tracr_agent.agent.scoring.judge import make_judge
from tracr_agent.agent.records import transcript as tr
from tracr_agent.tools.sandbox.runner import running_unsafe
from tracr_agent.agent.scoring.score import score_prediction
from tracr_agent.tools.subjects.spec import SubjectSpec


class Unreadable(Exception):
    """A transcript torn before any prediction: whether the agent predicted is unknown."""


def prediction_of(path: Path) -> tuple[Optional[dict], bool]:
    """(last prediction, closed_set) from a transcript; a torn tail after a prediction is tolerated,
    one before any prediction raises Unreadable (scoring it as "no prediction" would lose a score)."""
    events, problem = tr.read_transcript(path, strict=False)
    closed = bool(events and isinstance(events[0], tr.Header) and events[0].closed_set)
    preds = [e for e in events if isinstance(e, tr.PredictionEvent)]
    if not preds:
        if problem:
            raise Unreadable(problem)
        return None, closed
    p = preds[-1]
    return {"label": p.label, "description": p.description, "implementation": p.implementation,
            "confidence": p.confidence}, closed


def rescore_record(out: Path, rec: ResultRecord, subjects: dict, judge=None) -> Optional[ResultRecord]:
    """The record with a fresh score, or None when its transcript is missing or torn before any
    prediction (the caller keeps the record as it was)."""
    path = Path(out) / rec.transcript
    if rec.suite:  # a model directory of a `dir:PATH` suite: the transcript header says which
        if not path.is_file():
            return None
        events, _ = tr.read_transcript(path, strict=False)
        key, task = SubjectSpec(kind="model_dir", ref=events[0].subject.source), None
    else:
        key = SubjectSpec.parse(rec.task)
        task = key.ref if key.kind == "task" else None
    if key not in subjects:
        subjects[key] = key.load()
    if not path.is_file():
        return None
    try:
        prediction, closed = prediction_of(path)
    except Unreadable:
        return None
    score = score_prediction(prediction, subjects[key], task=task, closed_set=closed,
                             judge_llm=judge)
    return rec.model_copy(update={"score": score, **score_fields(score), "label": (prediction or {}).get("label"),
                                  "unsafe_sandbox": running_unsafe() or None})


def rescore_dir(out: Path, judge_llm: Optional[str] = None) -> tuple[int, int]:
    """(episodes rescored, scores changed). A record whose transcript is missing or torn before
    its prediction is kept as it was and not counted as rescored."""
    judge = None
    if judge_llm:
        judge = make_judge(judge_llm)
    records = read_results(out, strict=True)  # a line it cannot read would vanish in the rewrite below
    subjects: dict = {}
    fresh = [rescore_record(out, r, subjects, judge) for r in records]
    new = [f or r for f, r in zip(fresh, records)]
    def summary(r: ResultRecord) -> tuple:
        return r.label_correct, r.functional_correct, r.agreement, r.family_correct, r.explained

    changed = sum(summary(a) != summary(b) for a, b in zip(records, new))
    tmp = Path(out) / "results.jsonl.tmp"
    tmp.write_text("".join(r.model_dump_json() + "\n" for r in new))
    os.replace(tmp, Path(out) / "results.jsonl")
    return sum(f is not None for f in fresh), changed
