"""The typed score: what scoring (score.py) produces and the transcript, results.jsonl, report, rescore,
live view and export read. Others extend it with optional fields only, so older files still read.

Kept apart from score.py so that reading a transcript never imports the scorer (sandbox, zoo).
"""

from __future__ import annotations

from typing import Optional

from pydantic import BaseModel

from tracr_agent.agent.scoring.explanation import Explanation

SCORER_VERSION = "2"


class LabelScore(BaseModel):
    correct: bool
    matched: Optional[str] = None
    """The task label (id, name or alias) the prediction matched."""
    family: Optional[str] = None
    """The task's family (None when the subject has none, e.g. an imported model)."""
    family_correct: Optional[bool] = None
    """Whether the label names that family (or the task, or a task of the same family)."""


class FunctionalScore(BaseModel):
    agreement: float
    n_inputs: int
    correct: bool
    error: Optional[str] = None
    first_mismatch: Optional[str] = None
    seconds: float = 0.0


class JudgeScore(BaseModel):
    correct: bool
    model: str
    rationale: str
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
