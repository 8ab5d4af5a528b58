"""The typed score: what scoring (score.py) produces and the transcript, results.jsonl, report, rescore,
live view and export read. Others extend it with optional fields only, so older files still read.

Kept apart from score.py so that reading a transcript never imports the scorer (sandbox, zoo).
"""

from __future__ import annotations

from typing import Optional

from pydantic import BaseModel

from tracr_agent.agent.scoring.explanation import Explanation

SCORER_VERSION = "3"
"""3: labels read by the concept matcher (agent/scoring/labels.py), generated programs get a family."""


class LabelScore(BaseModel):
    correct: Optional[bool] = None
    """Whether the label names the task; None for a subject with no conventional name (a generated
    program), whose label is scored at the family level only."""
    matched: Optional[str] = None
    """The task label (id, name or alias) the prediction matched."""
    matched_by: Optional[str] = None
    """Which rule or judge accepted the label: "exact", "concept:A+B", "name" or "judge:MODEL"."""
    reason: Optional[str] = None
    """Why, in words: what the label names, what it contradicts or lacks, or the judge's reason."""
    family: Optional[str] = None
    """The task's family (None when the subject has none, e.g. an imported model)."""
    family_correct: Optional[bool] = None
    """Whether the label names that family (or the task, or a task of the same family)."""
    family_by: Optional[str] = None
    """How it names the family: "phrase:…", "concept:…", "task:ID", "parent:…" or "label"."""


class FunctionalScore(BaseModel):
    agreement: float
    n_inputs: int
    correct: bool
    error: Optional[str] = None
    first_mismatch: Optional[str] = None
    seconds: float = 0.0


class JudgeScore(BaseModel):
    correct: bool
    """The description's verdict."""
    model: str
    rationale: str
    """The judge's reasoning, on the label and the description."""
    label_correct: Optional[bool] = None
    """The label's verdict (None when the label was not asked about)."""
    error: Optional[str] = None
    """Set when the judge could not give a verdict (call failed, no VERDICT line)."""


class Score(BaseModel):
    label: Optional[LabelScore] = None
    functional: Optional[FunctionalScore] = None
    judge: Optional[JudgeScore] = None
    explanation: Optional[Explanation] = None
    explained: Optional[bool] = None
    """Functionally correct and not tabulated."""
    scorer_version: str = SCORER_VERSION
