"""Scoring a prediction against the truth: label, function, and (optionally) an LLM judge.

The agent commits to `{label, description, implementation, confidence}`.
Three independent scores:

- label: does the label name the task? Normalized comparison against the
  task's id, name and aliases; open-set runs also forgive conservative noise
  words ("the", "task", "model", "make_", ...) at either end; closed-set runs
  need an exact choice of id or alias (case and punctuation aside). Never a
  substring match: "permutation" does not match "sort". Generated programs and imported
  models have no conventional name: their label verdict is None, shown "n/a", never "wrong".
- functional: the implementation `f` is run in the sandbox (tracr_agent.agent.scoring.sandbox) on
  the subject's domain (every input when there are at most 5000, else 2000
  sampled) and compared with the subject's own outputs using
  tracr_agent.tools.subjects.compare.outputs_equal (numerical tolerance NUM_TOL). Correct means 100%.
- family: does the label name the task's family (zoo `Task.family`: permutation, aggregation,
  counting, ...)? Credit when the label names the task itself, another task of the same
  family, or one of the family's phrases (zoo FAMILIES; counting also earns aggregation).
- explanation (agent/scoring/explanation.py): the implementation's AST size and its ratio to
  the reference's, and whether it is `tabulated` (enumerates inputs instead of a mechanism);
  `explained` = functionally correct and not tabulated.
- judge (optional): one call to a chat model comparing the description with
  the task's ground-truth description, verdict read from a final line
  `VERDICT: yes|no`.

Nothing here is ever shown to the investigating agent.
"""

from __future__ import annotations

import re
import time
from typing import Any, Iterable, Optional

from tracr_agent.agent.scoring.explanation import explain
from tracr_agent.agent.scoring.sandbox import run_implementation
from tracr_agent.tools.subjects.compare import outputs_equal
from tracr_agent.tools.subjects.zoo.base import FAMILIES, FAMILY_PARENTS, normalize_label

# The score's types live in verdicts.py (light: transcripts and results read them without the scorer).
from tracr_agent.agent.scoring.verdicts import (  # noqa: E402,F401 (re-exported)
    SCORER_VERSION,
    FunctionalScore,
    JudgeScore,
    LabelScore,
    Score,
)


# -- label ------------------------------------------------------------------------------

# Words that may pad a label without changing what it names. Only whole words at
# the very start or end are dropped, never text inside a word.
PREFIX_NOISE = frozenset({"the", "a", "an", "task", "model", "program", "function", "make",
                          "rasp", "tracr", "compute", "computes", "computing", "sequence", "seq"})
SUFFIX_NOISE = frozenset({"the", "task", "model", "program", "function", "sequence", "seq", "operation",
                          "op", "transformer", "circuit", "algorithm"})


def _words(label: str) -> list[str]:
    label = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", label)  # camelCase -> camel Case
    return re.findall(r"[a-z0-9]+", label.lower())


def _stripped(label: str) -> set[str]:
    """Normalized forms of `label` with noise words removed from either end (never empty)."""
    words = _words(label)
    out = set()
    for strip_prefix in (False, True):
        for strip_suffix in (False, True):
            w = list(words)
            while strip_prefix and len(w) > 1 and w[0] in PREFIX_NOISE:
                w.pop(0)
            while strip_suffix and len(w) > 1 and w[-1] in SUFFIX_NOISE:
                w.pop()
            if w:
                out.add("".join(w))
    return out


def _task_labels(task) -> tuple[Optional[str], tuple[str, ...]]:
    """(id, every label) for a zoo Task, a task id, or a SubjectTruth."""
    if isinstance(task, str):
        from tracr_agent.tools.subjects.tasks import get_task

        task = get_task(task)
    task_id = getattr(task, "id", None) or getattr(task, "task_id", None)
    labels = tuple(getattr(task, "labels", ()) or ())
    if task_id and task_id not in labels:
        labels = (task_id, *labels)
    return task_id, labels


def _other_task_labels(task_id: Optional[str]) -> set[str]:
    """Normalized labels of every other zoo task (to keep noise stripping from crossing tasks)."""
    try:
        from tracr_agent.tools.subjects.zoo import all_tasks
    except Exception:  # pragma: no cover - zoo unavailable
        return set()
    return {normalize_label(lbl) for t in all_tasks() if t.id != task_id for lbl in t.labels}


def score_label(label: Optional[str], task, closed_set: bool = False) -> LabelScore:
    """Does `label` name `task` (a zoo Task, a task id, or a SubjectTruth)?"""
    if not isinstance(label, str) or not normalize_label(label):
        return LabelScore(correct=False, matched=None)
    task_id, labels = _task_labels(task)
    exact = {}
    for lbl in labels:
        exact.setdefault(normalize_label(lbl), lbl)
    norm = normalize_label(label)
    if norm in exact:
        return LabelScore(correct=True, matched=exact[norm])
    if closed_set:
        return LabelScore(correct=False, matched=None)

    others = _other_task_labels(task_id)
    if norm in others:  # the label names another task outright
        return LabelScore(correct=False, matched=None)
    loose = dict(exact)
    for lbl in labels:
        for v in _stripped(lbl):
            if len(v) >= 4 and v not in others:
                loose.setdefault(v, lbl)
    for v in sorted(_stripped(label), key=len, reverse=True):
        if v in loose and v not in others:
            return LabelScore(correct=True, matched=loose[v])
    return LabelScore(correct=False, matched=None)


def _phrase_in(phrase: str, words: list[str]) -> bool:
    p = _words(phrase)
    return any(words[i:i + len(p)] == p for i in range(len(words) - len(p) + 1))


def score_family(label: Optional[str], task, label_correct: bool = False) -> tuple[Optional[str], Optional[bool]]:
    """(the task's family, whether `label` names it); (None, None) when the task has no family."""
    family = getattr(task, "family", None) or None
    if family is None:
        return None, None
    if label_correct:
        return family, True
    if not isinstance(label, str) or not normalize_label(label):
        return family, False
    accepted = [family] + ([FAMILY_PARENTS[family]] if family in FAMILY_PARENTS else [])
    words = _words(label)
    for fam in accepted:
        if any(_phrase_in(p, words) for p in (fam, *FAMILIES.get(fam, ()))):
            return family, True
    try:  # the label names another zoo task of the same family
        from tracr_agent.tools.subjects.zoo import all_tasks
    except Exception:  # pragma: no cover - zoo unavailable
        return family, False
    norm = normalize_label(label)
    same = any(norm in {normalize_label(x) for x in t.labels} for t in all_tasks() if t.family == family)
    return family, same


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

    `limits` go to tracr_agent.agent.scoring.sandbox.run_implementation (cpu_seconds, memory_mb, wall_seconds).
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


# -- judge ------------------------------------------------------------------------------

JUDGE_SYSTEM = (
    "You grade descriptions of what a small transformer computes. You are given the ground-truth "
    "description of the function it implements and a candidate description written by someone "
    "who studied the model. Decide whether the candidate identifies the same input-to-output "
    "function. How the model computes it (layers, attention, MLPs) does not matter, and wording "
    "may differ freely; what matters is that someone implementing the candidate description would "
    "produce the ground-truth outputs on ordinary inputs. A description that names a different "
    "function, or is too vague to pin the function down, does not match."
)

JUDGE_TEMPLATE = """Ground truth{name}:
{truth}

Candidate description:
{candidate}

Does the candidate describe the same function as the ground truth? Explain in at most three sentences, then end with a final line that is exactly `VERDICT: yes` or `VERDICT: no`."""

_VERDICT = re.compile(r"verdict\s*[:=]?\s*[*_`\"']*\s*(yes|no)\b", re.IGNORECASE)


def model_name(chat_model) -> str:
    chat_model = getattr(chat_model, "chat_model", chat_model)  # a Backend names its chat model
    for attr in ("model_name", "model", "model_id", "deployment_name"):
        value = getattr(chat_model, attr, None)
        if isinstance(value, str) and value:
            return value
    llm_type = getattr(chat_model, "_llm_type", None)
    if isinstance(llm_type, str) and llm_type:
        return llm_type
    return type(chat_model).__name__


def _message_text(message) -> str:
    content = getattr(message, "content", message)
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for block in content:
            if isinstance(block, str):
                parts.append(block)
            elif isinstance(block, dict) and block.get("type") == "text":
                parts.append(str(block.get("text", "")))
        return "".join(parts)
    return str(content)


def parse_verdict(text: str) -> Optional[bool]:
    """True/False from the last `VERDICT: yes|no` (the final line preferred); None if absent."""
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    if lines:
        m = _VERDICT.search(lines[-1])
        if m:
            return m.group(1).lower() == "yes"
    found = _VERDICT.findall(text)
    return found[-1].lower() == "yes" if found else None


def _ask_judge(judge, messages: list):
    """The judge's reply. A Backend (make_backend) gets the agent's retry policy (invoke_within:
    timeouts, 5xx, 429, empty replies retried) within one request timeout of wall time in all;
    a bare chat model is called once."""
    if not hasattr(judge, "chat_model"):
        return judge.invoke(messages)
    from tracr_agent.agent.backends.reply import invoke_within

    deadline = time.monotonic() + (judge.timeout or 0)
    return invoke_within(judge, judge.chat_model, judge.prepare(messages), lambda: deadline - time.monotonic())


def judge_description(description: Optional[str], task, chat_model) -> JudgeScore:
    """One LLM call: does `description` match the task's ground-truth description?

    `chat_model` is a Backend (the CLI's `--judge-llm`) or a bare LangChain chat model."""
    from langchain_core.messages import HumanMessage, SystemMessage

    name = model_name(chat_model)
    if not isinstance(description, str) or not description.strip():
        return JudgeScore(correct=False, model=name, rationale="no description")
    truth = getattr(task, "description", None)
    if not truth:
        return JudgeScore(correct=False, model=name, rationale="", error="the task has no ground-truth description")
    task_name = getattr(task, "name", None)
    prompt = JUDGE_TEMPLATE.format(name=f" ({task_name})" if task_name else "", truth=truth.strip(),
                                   candidate=description.strip())
    try:
        reply = _ask_judge(chat_model, [SystemMessage(content=JUDGE_SYSTEM), HumanMessage(content=prompt)])
    except Exception as e:
        return JudgeScore(correct=False, model=name, rationale="", error=f"judge call failed: {type(e).__name__}: {e}")
    text = _message_text(reply).strip()
    verdict = parse_verdict(text)
    rationale = "\n".join(ln for ln in text.splitlines() if not _VERDICT.search(ln)).strip()[:2000]
    if verdict is None:
        return JudgeScore(correct=False, model=name, rationale=rationale or text[:2000],
                          error="the judge gave no VERDICT line")
    return JudgeScore(correct=verdict, model=name, rationale=rationale)


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
    # A generated or imported subject has no conventional name: its label verdict is None ("n/a").
    labelled = task is not None and has_label(task)
    if prediction is None:
        family = getattr(task, "family", None) or None
        return Score(
            label=(LabelScore(correct=False, matched=None, family=family, family_correct=False if family else None)
                   if labelled else None),
            functional=FunctionalScore(agreement=0.0, n_inputs=0, correct=False, error="no prediction"),
            explained=False,
            judge=(JudgeScore(correct=False, model=model_name(judge_llm), rationale="no prediction")
                   if judge_llm is not None else None),
        )
    if hasattr(prediction, "model_dump"):
        prediction = prediction.model_dump()
    label = score_label(prediction.get("label"), task, closed_set) if labelled else None
    if label is not None:
        label.family, label.family_correct = score_family(prediction.get("label"), task, label.correct)
    functional = score_functional(prediction.get("implementation"), subject, inputs, **limits)
    explanation = explain(prediction.get("implementation"), subject.vocab, subject.max_seq_len,
                          reference_source(task))
    judge = None
    if judge_llm is not None and task is not None and getattr(task, "description", None):
        judge = judge_description(prediction.get("description"), task, judge_llm)
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
