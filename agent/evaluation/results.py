"""results.jsonl: one `ResultRecord` per finished episode — its format, reading and appending.

Kept apart from the batch runner (batch.py) so that what only reads results — the reports, `rescore`,
the viewer — loads no episode machinery (LLM clients, the graph).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Optional

from pydantic import BaseModel, model_validator

from tracr_agent.agent.records.transcript import Counters, Ending
from tracr_agent.agent.scoring.verdicts import Score
from tracr_agent.tools.conditions import Residual
from tracr_agent.tools.errors import UserError
from tracr_agent.tools.untrusted.files import open_regular


class _RecordHead(BaseModel):
    key: str
    task: str
    suite: Optional[str] = None
    """For a subject from `--tasks dir:PATH`: PATH's folder name (the task is the model's folder)."""
    condition: str
    residual: Residual = Residual.LABELLED
    """`labelled` or `raw` (`--residual`); results from before the field read as labelled."""
    transform: Optional[str] = None
    """The subject's transform (`rotated`, `compressed:12`; `eval --transforms`, or an `ID@…` task); None:
    untransformed."""
    llm: str
    llm_name: Optional[str] = None
    """The name the LLM is shown by in reports and the viewer (`eval --llm-name`); None: from its spec."""
    trial: int
    status: str
    label: Optional[str] = None
    label_correct: Optional[bool] = None
    functional_correct: Optional[bool] = None
    agreement: Optional[float] = None
    family_correct: Optional[bool] = None
    explained: Optional[bool] = None
    """Functionally correct and not tabulated (agent/scoring/explanation.py)."""
    confidence: Optional[float] = None
    """The confidence the prediction stated (for the report's calibration table)."""

    @model_validator(mode="after")
    def _transform_in_its_column(self):
        # `--tasks reverse@rotated` once named the task with its transform: the transform has its own column
        if self.transform is None and not self.suite and "@" in self.task:
            self.task, _, self.transform = self.task.rpartition("@")
        return self


class ResultRecord(Counters, Ending, _RecordHead):
    """One line of results.jsonl: the episode's key and summary columns, its counters
    (transcript.Counters), how it ended (transcript.Ending: forced, the limit reached, the model
    snapshot), and the typed score (older files' score objects read into it)."""

    transcript: str = ""
    error: str = ""
    score: Optional[Score] = None
    unscorable: Optional[str] = None
    """Why `rescore`/`report` could not score the episode from its own transcript (missing, torn
    before its prediction, outside the evaluation directory, …): such a record is never correct."""
    unsafe_sandbox: Optional[bool] = None
    """True when the submitted code was scored without OS-level isolation (--unsafe-sandbox)."""
    features: Optional[dict] = None
    """For a generated task: its features (operations by kind, layers, heads, numerical, difficulty)."""
    temperature: Optional[float] = None
    """The sampling temperature sent (None: the provider's default)."""
    prompt_sha: Optional[str] = None
    """A hash of the first request's messages and the sampling settings: trials that share it were
    asked the same thing the same way."""
    replicable: Optional[bool] = None
    """Whether the investigator answers the same prompt the same way (a built-in or replayed one, or an
    LLM at temperature 0): such trials with one prompt_sha are replicas (the report warns)."""


def score_fields(score: Optional[Score]) -> dict:
    """The summary columns of a results line, from its score (all None when there is none)."""
    lab = score.label if score else None
    fn = score.functional if score else None
    return {"label_correct": lab.correct if lab else None, "functional_correct": fn.correct if fn else None,
            "agreement": fn.agreement if fn else None, "family_correct": lab.family_correct if lab else None,
            "explained": score.explained if score else None}


def stated_confidence(prediction: Optional[dict]) -> Optional[float]:
    """The prediction's stated confidence as a number in [0, 1], or None when it states none."""
    try:
        c = float((prediction or {}).get("confidence"))
    except (TypeError, ValueError):
        return None
    return c if 0.0 <= c <= 1.0 else None


def results_lines(path: Path):
    """(line number, text) of each non-blank line of a results file; bytes that are not UTF-8
    (a cut copy, a stray editor) become U+FFFD, so such a line reads as corrupt, not as a crash."""
    for lineno, line in enumerate(Path(path).read_bytes().decode("utf-8", errors="replace").splitlines(), 1):
        if line.strip():
            yield lineno, line


def corrupt_line(path: Path, lineno: int, e: ValueError) -> UserError:
    """The one line a reader that must see every record (report, rescore, view) stops with: a line
    that is not JSON (torn, cut, not UTF-8), or JSON that is not a results record."""
    from pydantic import ValidationError

    err = e.errors()[0] if isinstance(e, ValidationError) else None
    if err is None or err["type"] == "json_invalid":
        why = err["msg"] if err else getattr(e, "msg", str(e))
        return UserError(f"{path}:{lineno}: corrupt results line ({why}); move it aside "
                         "(or run `tracr-agent eval … --resume`, which sets a torn last line aside)")
    return UserError(f"{path}:{lineno}: not a results record: {'.'.join(map(str, err['loc']))}: {err['msg']}")


def read_results(out: Path, strict: bool = False) -> list[ResultRecord]:
    """The records of OUT/results.jsonl. Lenient (eval --resume): an unreadable line, a torn last
    line from a crash, is an episode not done. `strict` (report, rescore): the first unreadable
    line is a UserError naming it, so nothing is summarised or rewritten without it."""
    path = Path(out) / "results.jsonl"
    if not path.is_file():
        return []
    records = []
    for lineno, line in results_lines(path):
        try:
            records.append(ResultRecord.model_validate_json(line))
        except ValueError as e:
            if strict:
                raise corrupt_line(path, lineno, e) from None
    return records


def append_result(out: Path, record: ResultRecord, lock: threading.Lock) -> None:
    data = record.model_dump_json() + "\n"
    with lock, open_regular(Path(out) / "results.jsonl", "a", "the results") as fh:  # never through a symlink
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
