"""Rescoring: every score recomputed from the evaluation directory's own transcripts, trusting nothing
recorded (`rescore` writes the result to results.jsonl; `report` builds its tables from it).

For each record of results.jsonl, only its transcript counts: read from inside the evaluation
directory (`..`, an absolute path or a symlink leading out is refused), its last prediction scored
afresh against a subject rebuilt from the zoo or the generator's seeds (or, for a suite's model, the
model directory the user names with `--models`, checked against the transcript's fingerprint), its
status and counters taken from its own end event. A record that cannot be scored that way — no
transcript, one outside the directory, one torn or cut before its prediction, one about another
subject — is *unscorable*: it keeps no score, is never correct, and says why (`unscorable`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from tracr_agent.agent.evaluation.results import ResultRecord, read_results, score_fields, stated_confidence
from tracr_agent.agent.records import transcript as tr
from tracr_agent.agent.scoring.judge import make_judge
from tracr_agent.agent.scoring.score import score_prediction
from tracr_agent.tools.errors import UserError
from tracr_agent.tools.sandbox.runner import running_unsafe
from tracr_agent.tools.untrusted.files import inside, write_atomic
from tracr_agent.tools.untrusted.text import shown
from tracr_agent.tools.subjects.spec import PROGRAM_SUITE, SubjectSpec, names_a_path, program_member_name
from tracr_agent.tools.subjects.transforms import parse_transform


class Unscorable(Exception):
    """A record its own transcript cannot score; the message says why (one line)."""


def transcript_events(out: Path, rec: ResultRecord) -> list:
    """The events of the record's transcript, read from inside `out` only; up to its damage, if any."""
    if not rec.transcript:
        raise Unscorable("no transcript recorded")
    path = inside(out, rec.transcript)
    if path is None:
        raise Unscorable(f"its transcript {shown(rec.transcript, one_line=True)} is outside the evaluation directory")
    if not path.is_file():
        if rec.status == "error" and rec.error:  # an episode that failed before its transcript began
            raise Unscorable(f"its transcript is missing (the episode failed: {shown(rec.error, one_line=True)[:200]})")
        raise Unscorable(f"its transcript {shown(rec.transcript, one_line=True)} is missing")
    try:
        events, problem = tr.read_transcript(path, strict=False)
    except (UserError, OSError) as e:
        raise Unscorable(f"its transcript is unreadable ({shown(e, one_line=True)})") from None
    if not events or not isinstance(events[0], tr.Header):
        raise Unscorable("its transcript has no header")
    ended = any(isinstance(e, tr.EndEvent) for e in events)
    if not ended and not any(isinstance(e, tr.PredictionEvent) for e in events):
        # a kill or a cut before the prediction: whether the agent predicted is unknown
        raise Unscorable("its transcript ends before its prediction" + (f" ({problem})" if problem else ""))
    return events


def prediction_of(events: list) -> Optional[dict]:
    """The transcript's last prediction (None: the episode ended without one)."""
    preds = [e for e in events if isinstance(e, tr.PredictionEvent)]
    if not preds:
        return None
    p = preds[-1]
    return {"label": p.label, "description": p.description, "implementation": p.implementation,
            "confidence": p.confidence}


def subject_spec(rec: ResultRecord, header: tr.Header, models: Optional[Path], programs: tuple = ()) -> SubjectSpec:
    """The subject to score against, under the record's transform: the record's zoo or generated task,
    which its transcript must be about; a suite's model, from the folder the user named (`models`); or
    one of the user's programs (`programs`, FILE.py:FUNC as `eval --program` took them) — never a path
    or a program the transcript or the record names."""
    return _untransformed(rec, header, models, programs).with_transform(_transform(rec))


def _transform(rec: ResultRecord):
    try:
        return parse_transform(rec.transform) if rec.transform else None
    except UserError as e:
        raise Unscorable(shown(e, one_line=True)) from None


def _untransformed(rec: ResultRecord, header: tr.Header, models: Optional[Path], programs: tuple) -> SubjectSpec:
    if rec.suite == PROGRAM_SUITE:
        for text in programs:
            spec = SubjectSpec.parse(f"program:{text}")
            if program_member_name(spec) == rec.task:
                return spec
        raise Unscorable(f"its subject is your program {shown(rec.task, one_line=True)}: name its file with "
                         "--program FILE.py:FUNC (a program a record names is never imported)")
    if rec.suite:
        if models is None:
            raise Unscorable(f"its model is in suite {shown(rec.suite)}: name the suite's folder with --models PATH")
        root = Path(models)
        where = root if rec.task == rec.suite and (root / "model.json").is_file() else \
            inside(root, rec.task, links_out=True)
        if where is None or not (where / "model.json").is_file():
            raise Unscorable(f"--models {root} holds no model {shown(rec.task, one_line=True)}")
        return SubjectSpec(kind="model_dir", ref=str(where.resolve()))
    if names_a_path(rec.task):  # never a folder to search or a file to import because a record says so
        raise Unscorable("its subject is not a zoo or generated task")
    try:
        spec = SubjectSpec.parse(rec.task)
    except UserError as e:
        raise Unscorable(shown(e, one_line=True)) from None
    if spec.kind != "task" or spec.transform is not None:
        raise Unscorable("its subject is not a zoo or generated task")
    recorded = header.subject.task_id
    if header.subject.kind != "task" or recorded != spec.ref:
        raise Unscorable(f"its transcript is about another subject ({shown(recorded or header.subject.kind)}, "
                         f"the record says {shown(rec.task)})")
    return spec


def rescore_record(out: Path, rec: ResultRecord, subjects: dict, judge=None,
                   models: Optional[Path] = None, programs: tuple = ()) -> ResultRecord:
    """The record scored afresh from its own transcript, or marked unscorable (module docstring)."""
    try:
        events = transcript_events(Path(out), rec)
        header: tr.Header = events[0]
        for field in ("condition", "llm"):
            if str(getattr(header, field)) != str(getattr(rec, field)):
                raise Unscorable(f"its transcript's {field} is {shown(getattr(header, field))}, the record says "
                                 f"{shown(getattr(rec, field))}")
        spec = subject_spec(rec, header, models, programs)
        if spec not in subjects:
            try:
                subjects[spec] = spec.load()
            except UserError as e:
                subjects[spec] = Unscorable(shown(e, one_line=True))
        subject = subjects[spec]
        if isinstance(subject, Unscorable):
            raise subject
        if (spec.kind != "task" or spec.transform is not None) and subject.fingerprint != header.subject.fingerprint:
            given = {"model_dir": "--models holds", "program": "--program names"}.get(spec.kind, "the record names")
            raise Unscorable(f"{given} a different model {shown(rec.task)}{'@' + rec.transform if rec.transform else ''} "
                             f"(fingerprint {subject.fingerprint}, the transcript's is {shown(header.subject.fingerprint)})")
    except Unscorable as e:
        return unscorable(rec, str(e))
    prediction = prediction_of(events)
    end = next((e for e in reversed(events) if isinstance(e, tr.EndEvent)), None)
    score = score_prediction(prediction, subject, task=spec.ref if spec.kind == "task" else None,
                             closed_set=bool(header.closed_set), judge_llm=judge)
    counters = tr.Counters.of(end.model_dump()).model_dump() if end else {}
    status = end.status if end else "prediction"
    return rec.model_copy(update={"score": score, **score_fields(score), "label": (prediction or {}).get("label"),
                                  "status": status, **counters, "unscorable": None,
                                  "confidence": stated_confidence(prediction),
                                  "unsafe_sandbox": running_unsafe() or None})


def unscorable(rec: ResultRecord, why: str) -> ResultRecord:
    """The record with no score, never correct, saying why."""
    return rec.model_copy(update={"score": None, **score_fields(None), "unscorable": why, "unsafe_sandbox": None})


def fresh_records(out: Path, judge_llm: Optional[str] = None, models: Optional[Path] = None,
                  keep: frozenset = frozenset(), programs: tuple = ()) -> tuple[list[ResultRecord], list[ResultRecord]]:
    """(records as results.jsonl holds them, each rescored from its own transcript). `keep`: keys of
    records this process scored itself moments ago (an eval's own episodes), taken as they are."""
    judge = make_judge(judge_llm) if judge_llm else None
    records = read_results(out, strict=True)  # a line it cannot read would vanish in a rewrite
    subjects: dict = {}
    return records, [r if r.key in keep else rescore_record(out, r, subjects, judge, models, programs) for r in records]


def rescore_dir(out: Path, judge_llm: Optional[str] = None, models: Optional[Path] = None,
                programs: tuple = ()) -> tuple[int, int, list]:
    """(episodes rescored, scores changed, every record as rescored, unscorable ones included);
    results.jsonl is rewritten through a temporary file and a rename."""
    records, new = fresh_records(out, judge_llm, models, programs=programs)

    def summary(r: ResultRecord) -> tuple:
        return r.label_correct, r.functional_correct, r.agreement, r.family_correct, r.explained, r.unscorable

    changed = sum(summary(a) != summary(b) for a, b in zip(records, new))
    write_atomic(Path(out) / "results.jsonl", "".join(r.model_dump_json() + "\n" for r in new), "the results")
    return sum(not r.unscorable for r in new), changed, new
