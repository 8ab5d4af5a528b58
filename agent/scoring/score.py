"""Scoring a prediction against the truth: label, function, and (optionally) an LLM judge.

The agent commits to `{label, description, implementation, confidence}`.
Three independent scores:

- label: does the label name the task, as a person would judge? The offline matcher
  (agent/scoring/labels.py) accepts the task's id, name or an alias (case and punctuation aside)
  and any label whose concepts name the task without contradicting it ("Sorting (ascending
  order)", "stable sort"; not "sort descending"); closed-set runs need an exact choice. The score
  records which rule accepted it (`matched_by`) and why (`reason`). Generated programs have no
  conventional name: their label verdict is None ("n/a") and their label is scored at the family
  level, against the family derived from the program. An imported model without known names
  has no label score.
- functional: the implementation `f` is run in the sandbox (tracr_agent.tools.sandbox.runner) on
  the subject's domain (every input when there are at most 5000, else 2000
  sampled) and compared with the subject's own outputs using
  tracr_agent.tools.subjects.compare.outputs_equal (numerical tolerance NUM_TOL). Correct means 100%.
- family: does the label name the task's family (zoo `Task.family`, or a generated program's
  derived one: permutation, aggregation, counting, ...)? Credit when the label names the task
  itself, another task of the same family, or the family (its phrases and concepts; counting
  also earns the broad name "aggregation").
- explanation (agent/scoring/explanation.py): the implementation's AST size and its ratio to
  the reference's, and whether it is `tabulated` (enumerates inputs instead of a mechanism);
  `explained` = functionally correct and not tabulated.
- judge (optional, agent/scoring/judge.py): one call to any configured chat model grading the
  label and the description against the ground truth; its verdicts and reasoning are recorded,
  and a label it accepts counts as correct (`matched_by = "judge:MODEL"`) where the matcher
  rejected it (open-set runs only).

Nothing here is ever shown to the investigating agent.
"""

from __future__ import annotations

import time
from typing import Any, Iterable, Optional

from tracr_agent.agent.scoring.explanation import explain
from tracr_agent.agent.scoring.judge import judge_description, judge_prediction, model_name, parse_verdict  # noqa: F401
from tracr_agent.agent.scoring.labels import family_credit, match_label, task_family
from tracr_agent.tools.sandbox.runner import run_implementation
from tracr_agent.tools.subjects.compare import outputs_equal

# The score's types live in verdicts.py (light: transcripts and results read them without the scorer).
from tracr_agent.agent.scoring.verdicts import (  # noqa: E402,F401 (re-exported)
    SCORER_VERSION,
    FunctionalScore,
    JudgeScore,
    LabelScore,
    Score,
)


# -- label ------------------------------------------------------------------------------

def score_label(label: Optional[str], task, closed_set: bool = False) -> LabelScore:
    """Does `label` name `task` (a zoo Task, a task id, or a SubjectTruth)?"""
    v = match_label(label, task, closed_set)
    return LabelScore(correct=v.correct, matched=v.matched, matched_by=v.matched_by, reason=v.reason)


def score_family(label: Optional[str], task, label_correct: bool = False) -> tuple[Optional[str], Optional[bool]]:
    """(the task's family, whether `label` names it); (None, None) when the task has no family."""
    family, ok, _ = family_verdict(label, task, label_correct)
    return family, ok


def family_verdict(label: Optional[str], task, label_correct: bool = False) -> tuple[Optional[str], Optional[bool], Optional[str]]:
    """(family, whether `label` names it, how); a generated program's family is derived from its program."""
    family = task_family(task)
    if family is None:
        return None, None, None
    if label_correct:
        return family, True, "label"
    how = family_credit(label, family)
    return family, how is not None, how


# -- functional -------------------------------------------------------------------------

def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    return repr(value)


def score_functional(implementation: Optional[str], subject, inputs: Optional[Iterable] = None,
                     **limits) -> FunctionalScore:
    """Runs `implementation` in the sandbox on the domain and compares with the subject.

    `limits` go to tracr_agent.tools.sandbox.runner.run_implementation (cpu_seconds, memory_mb, wall_seconds).
    """
    start = time.monotonic()
    if not isinstance(implementation, str) or not implementation.strip():
        return FunctionalScore(agreement=0.0, n_inputs=0, correct=False, error="no implementation")
    inputs = subject.domain() if inputs is None else [subject.check_input(list(x)) for x in inputs]
    n = len(inputs)
    numerical = subject.output_kind == "numerical"
    expected = subject.run(inputs)
    result = run_implementation(implementation, inputs, **limits)
    if result.outputs is None:
        return FunctionalScore(agreement=0.0, n_inputs=n, correct=False, error=result.error,
                               seconds=time.monotonic() - start)
    failed = set(result.failed)
    agree, first = 0, None
    for i, (x, want) in enumerate(zip(inputs, expected)):
        got = None if i in failed else result.outputs[i]
        if i not in failed and outputs_equal(got, want, numerical):
            agree += 1
        elif first is None:
            got_text = "f failed" if i in failed else f"got {_fmt(got)}"
            first = f"input {_fmt(x)}: expected {_fmt(want)}, {got_text}"
    agreement = agree / n if n else 0.0
    return FunctionalScore(agreement=agreement, n_inputs=n, correct=n > 0 and agree == n,
                           error=result.error, first_mismatch=first,
                           seconds=time.monotonic() - start)


# -- everything -------------------------------------------------------------------------

def has_label(task) -> bool:
    """Is there a conventional name to score a label against? Not for generated programs."""
    return getattr(task, "origin", None) != "generated"


def _task_of(subject):
    task_id = getattr(getattr(subject, "truth", None), "task_id", None)
    if not task_id:
        truth = getattr(subject, "truth", None)
        return truth if truth is not None and getattr(truth, "labels", None) else None
    from tracr_agent.tools.subjects.tasks import get_task

    try:
        return get_task(task_id)
    except KeyError:
        return subject.truth


def score_prediction(prediction: Optional[dict], subject, task=None, closed_set: bool = False,
                     judge_llm=None, inputs: Optional[Iterable] = None, **limits) -> Score:
    """Label, functional and (with `judge_llm`) judge scores for one committed prediction.

    `task` defaults to the zoo task named by `subject.truth`; a None prediction
    ("no prediction") scores incorrect everywhere with error "no prediction".
    """
    if isinstance(task, str):
        from tracr_agent.tools.subjects.tasks import get_task

        task = get_task(task)
    if task is None:
        task = _task_of(subject)
    # A generated subject has no conventional name: its label verdict is None ("n/a") and its label is
    # scored at the family level; an imported model's subject has neither.
    labelled = task is not None and has_label(task)
    family = task_family(task) if task is not None else None
    if prediction is None:
        return Score(
            label=(LabelScore(correct=False if labelled else None, reason="no prediction", family=family,
                              family_correct=False if family else None) if labelled or family else None),
            functional=FunctionalScore(agreement=0.0, n_inputs=0, correct=False, error="no prediction"),
            explained=False,
            judge=(JudgeScore(correct=False, model=model_name(judge_llm), rationale="no prediction")
                   if judge_llm is not None else None),
        )
    if hasattr(prediction, "model_dump"):
        prediction = prediction.model_dump()
    text = prediction.get("label")
    label = None
    if labelled:
        label = score_label(text, task, closed_set)
    elif family is not None:
        label = LabelScore(correct=None, reason="no conventional name: the label is scored at the family level")
    functional = score_functional(prediction.get("implementation"), subject, inputs, **limits)
    explanation = explain(prediction.get("implementation"), subject.vocab, subject.max_seq_len,
                          reference_source(task), prediction.get("description"))
    judge = None
    if judge_llm is not None and task is not None and getattr(task, "description", None):
        judge = judge_prediction(text, prediction.get("description"), task, judge_llm, ask_label=label is not None)
        if labelled and not closed_set and not label.correct and judge.label_correct:
            label = label.model_copy(update={
                "correct": True, "matched": getattr(task, "name", None), "matched_by": f"judge:{judge.model}",
                "reason": f"the judge accepted it ({judge.rationale[:300]}); the rules did not: {label.reason}"})
    if label is not None:
        label.family, label.family_correct, label.family_by = family_verdict(text, task, bool(label.correct))
    return Score(label=label, functional=functional, judge=judge, explanation=explanation,
                 explained=functional.correct and not explanation.tabulated)


def reference_source(task) -> Optional[str]:
    """The reference implementation's source: a generated task's program rendering (RASP in Python
    syntax), else a zoo task's reference function."""
    if task is None:
        return None
    rendering = (getattr(task, "extra", None) or {}).get("rendering")
    if isinstance(rendering, str):  # a generated task: its RASP program as Python-syntax pseudo-code
        return rendering
    ref = getattr(task, "reference_source", None)
    try:
        ref = ref() if callable(ref) else ref
    except (OSError, TypeError):  # source not available (e.g. a lambda built at run time)
        ref = None
    return ref if isinstance(ref, str) else None
