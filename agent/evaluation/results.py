"""results.jsonl: one `ResultRecord` per finished episode — its format, reading and appending.

Kept apart from the batch runner (batch.py) so that what only reads results — the reports, `rescore`,
the viewer — loads no episode machinery (LLM clients, the graph).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Optional

from pydantic import BaseModel

from tracr_agent.agent.records.transcript import Counters
from tracr_agent.agent.scoring.verdicts import Score
from tracr_agent.tools.conditions import Residual
from tracr_agent.tools.errors import UserError


class _RecordHead(BaseModel):
    key: str
    task: str
    suite: Optional[str] = None
    """For a subject from `--tasks dir:PATH`: PATH's folder name (the task is the model's folder)."""
    condition: str
    residual: Residual = Residual.LABELLED
    """`labelled` or `raw` (`--residual`); results from before the field read as labelled."""
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


class ResultRecord(Counters, _RecordHead):
    """One line of results.jsonl: the episode's key and summary columns, its counters
    (transcript.Counters), and the typed score (older files' score objects read into it)."""

    transcript: str = ""
    error: str = ""
    score: Optional[Score] = None
    unsafe_sandbox: Optional[bool] = None
    """True when the submitted code was scored without OS-level isolation (--unsafe-sandbox)."""
    features: Optional[dict] = None
    """For a generated task: its features (operations by kind, layers, heads, numerical, difficulty)."""


def score_fields(score: Optional[Score]) -> dict:
    """The summary columns of a results line, from its score (all None when there is none)."""
    lab = score.label if score else None
    fn = score.functional if score else None
    return {"label_correct": lab.correct if lab else None, "functional_correct": fn.correct if fn else None,
            "agreement": fn.agreement if fn else None, "family_correct": lab.family_correct if lab else None,
            "explained": score.explained if score else None}


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
    data = (record.model_dump_json() + "\n").encode()
    with lock:
        fd = os.open(Path(out) / "results.jsonl", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
