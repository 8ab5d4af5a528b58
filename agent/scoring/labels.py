"""The offline label matcher: does a label name the task (or its family) as a person would judge?

`match_label(label, task)` tries, in order:
- exact: the label, case, spaces and punctuation aside, is the task's id, name or an alias;
- concept: the label's reading (agent/scoring/lexicon.py) contains every concept of one of the
  task's forms and nothing the task contradicts (agent/scoring/concepts.py): "Sorting (ascending
  order)" and "stable sort" name sort, "sort descending" does not;
- name: for a task without a concept spec (an imported subject's labels, a task added to the zoo
  without one), its names with conservative noise words ("the", "task", "model", …) stripped.
Closed-set runs (the agent picks from a list) accept exact choices only.

`family_credit(label, family)` says whether a label names a family: a concept that names it
(FAMILY_CONCEPTS), a family phrase of the zoo (FAMILIES), or a zoo task of that family named
by the matcher. `program_family(program)` derives a generated program's family from its
structure (see its docstring), so generated subjects get a family verdict too.

The matcher's precision and recall are measured on agent/scoring/data/labels.jsonl (a labelled
set with a tuning and a held-out part; docs/scoring.md has the figures, tests/unit/test_labels.py checks them).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Optional

from tracr_agent.agent.scoring.concepts import ARITHMETIC, FAMILY_CONCEPTS, NEUTRAL, PARENT_WORDS, SPECS, Spec
from tracr_agent.agent.scoring.lexicon import NUMBERS, Reading, read, words_of
from tracr_agent.tools.subjects.zoo.base import FAMILIES, FAMILY_PARENTS, normalize_label


@dataclass(frozen=True)
class Verdict:
    correct: bool
    matched: Optional[str] = None
    """The task label (id, name or alias) the verdict refers to."""
    matched_by: Optional[str] = None
    """Which rule accepted it: "exact", "concept:A+B" or "name" (None when rejected)."""
    reason: str = ""


# Words that may pad a label without changing what it names (the rule for tasks without a spec).
PREFIX_NOISE = frozenset({"the", "a", "an", "task", "model", "program", "function", "make",
                          "rasp", "tracr", "compute", "computes", "computing", "sequence", "seq"})
SUFFIX_NOISE = frozenset({"the", "task", "model", "program", "function", "sequence", "seq", "operation",
                          "op", "transformer", "circuit", "algorithm"})


def _stripped(label: str) -> set[str]:
    """Normalized forms of `label` with noise words removed from either end (never empty)."""
    words = words_of(label)
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


def task_labels(task) -> tuple[Optional[str], tuple[str, ...]]:
    """(id, every label) for a zoo Task, a task id, or a SubjectTruth."""
    if isinstance(task, str):
        from tracr_agent.tools.subjects.tasks import get_task  # zoo or generated id; lazy: the zoo loads only here

        task = get_task(task)
    task_id = getattr(task, "id", None) or getattr(task, "task_id", None)
    labels = tuple(getattr(task, "labels", ()) or ())
    if task_id and task_id not in labels:
        labels = (task_id, *labels)
    return task_id, labels


def _zoo():
    from tracr_agent.tools.subjects.zoo import all_tasks

    return all_tasks()


def _other_task_labels(task_id: Optional[str]) -> set[str]:
    return {normalize_label(lbl) for t in _zoo() if t.id != task_id for lbl in t.labels}


def _vocab(task) -> tuple:
    vocab = getattr(task, "vocab", None)
    if vocab is None and getattr(task, "task_id", None):
        try:
            from tracr_agent.tools.subjects.zoo import get_task

            vocab = get_task(task.task_id).vocab
        except KeyError:
            vocab = ()
    return tuple(vocab or ())


def relevant(reading: Reading, spec: Spec, vocab: tuple) -> set[str]:
    """The reading's concepts that bear on this task: literals of tokens outside its vocabulary are
    variable names, numbers matter only to a task whose spec names one."""
    tokens = {str(v).lower() for v in vocab}
    named = set().union(*spec.forms) | spec.allows
    out = set()
    for c in reading.concepts:
        if c.startswith("lit:") and c[4:] not in tokens:
            continue
        if c in NUMBERS and not (NUMBERS & named):
            continue
        out.add(c)
    return out


def concept_match(label: str, spec: Spec, vocab: tuple) -> tuple[Optional[frozenset], str]:
    """(the form the label satisfies, or None; why)."""
    reading = read(label, vocab)
    concepts = relevant(reading, spec, vocab)
    allowed = set().union(*spec.forms) | spec.allows | NEUTRAL
    contra = sorted(concepts - allowed)
    words = {c: w for c, w in reading.evidence}
    if contra:
        return None, "contradicts the task: " + ", ".join(f"{c} ({words.get(c, c)!r})" for c in contra)
    denied = sorted(reading.negated & (allowed - NEUTRAL))  # "sort, not ascending": denies what the task is
    if denied:
        return None, "contradicts the task: negates " + ", ".join(denied)
    for form in spec.forms:
        if form <= concepts:
            return form, "names " + " + ".join(f"{c} ({words.get(c, c)!r})" for c in sorted(form))
    closest = max(spec.forms, key=lambda f: (len(f & concepts), -len(f)))
    missing = sorted(closest - concepts)
    negated = sorted(closest & reading.negated)
    why = f"does not name the task: needs {' + '.join(sorted(closest))}"
    if negated:
        return None, why + f" but negates {', '.join(negated)}"
    return None, why + (f" (missing {', '.join(missing)})" if concepts else " (names no concept)")


def match_label(label: Optional[str], task, closed_set: bool = False) -> Verdict:
    """Does `label` name `task` (a zoo Task, a task id, or a SubjectTruth)?"""
    if not isinstance(label, str) or not normalize_label(label):
        return Verdict(False, reason="no label")
    task_id, labels = task_labels(task)
    exact = {}
    for lbl in labels:
        exact.setdefault(normalize_label(lbl), lbl)
    norm = normalize_label(label)
    if norm in exact:
        return Verdict(True, exact[norm], "exact", f"is the task's {'id' if exact[norm] == task_id else 'name'} "
                       f"{exact[norm]!r}")
    if closed_set:
        return Verdict(False, reason="closed set: not one of the task's names")
    spec = SPECS.get(task_id or "")
    if spec is not None:
        form, why = concept_match(label, spec, _vocab(task))
        if form is None:
            return Verdict(False, reason=why)
        name = getattr(task, "name", None) or task_id
        return Verdict(True, name, "concept:" + "+".join(sorted(form)), why)
    return _name_match(label, task_id, labels, exact)


def _name_match(label: str, task_id, labels, exact: dict) -> Verdict:
    """Names with noise words stripped (never a substring): the rule for a task without a spec."""
    others = _other_task_labels(task_id)
    if normalize_label(label) in others:
        return Verdict(False, reason="names another zoo task")
    loose = dict(exact)
    for lbl in labels:
        for v in _stripped(lbl):
            if len(v) >= 4 and v not in others:
                loose.setdefault(v, lbl)
    for v in sorted(_stripped(label), key=len, reverse=True):
        if v in loose and v not in others:
            return Verdict(True, loose[v], "name", f"is {loose[v]!r} with noise words aside")
    return Verdict(False, reason="not one of the task's names")


# -- families ---------------------------------------------------------------------------

def _phrase_in(phrase: str, words: list[str]) -> bool:
    p = words_of(phrase)
    return any(words[i:i + len(p)] == p for i in range(len(words) - len(p) + 1))


@lru_cache(maxsize=4096)
def _names_zoo_task(label: str, family: str) -> Optional[str]:
    for t in _zoo():
        if t.family == family and match_label(label, t).correct:
            return t.id
    return None


def label_families(label: str) -> dict[str, str]:
    """The families `label` names, each with how: a zoo family phrase, a concept, or arithmetic alone."""
    words = words_of(label)
    concepts = read(label).concepts
    out: dict[str, str] = {}
    for fam, phrases in FAMILIES.items():
        hit = next((p for p in (fam, *phrases) if _phrase_in(p, words)), None)
        if hit:
            out[fam] = f"phrase:{hit}"
            continue
        named = sorted(concepts & FAMILY_CONCEPTS.get(fam, frozenset()))
        if named:
            out[fam] = f"concept:{named[0]}"
    if not out and concepts & ARITHMETIC:
        out["elementwise map"] = f"concept:{sorted(concepts & ARITHMETIC)[0]}"
    return out


def family_credit(label: Optional[str], family: str) -> Optional[str]:
    """How `label` names `family`, or None: a family phrase or concept, a zoo task of the family named
    by the matcher, or (counting is also an aggregation) the parent family's broad name."""
    if not isinstance(label, str) or not normalize_label(label):
        return None
    named = label_families(label)
    if family in named:
        return named[family]
    task_id = _names_zoo_task(label, family)
    if task_id:
        return f"task:{task_id}"
    parent = FAMILY_PARENTS.get(family)
    words = words_of(label)
    if parent and any(_phrase_in(p, words) for p in (parent, *PARENT_WORDS)):
        return f"parent:{parent}"
    return None


IDENTITY_SELECT = ("indices", "indices", "EQ")


def program_family(program) -> str:
    """The family of a generated program, from the last operation that mixes positions.

    A generated program is a chain of operations; what it computes is shaped by its last attention
    operation (later maps only transform that result position by position):
    selector width -> counting; numerical aggregate (a mean) -> aggregation; categorical aggregate
    -> permutation when it reads one position chosen by index (keys are indices, predicate EQ),
    else aggregation. An aggregate that reads each position's own value (indices == indices) mixes
    nothing. With no position-mixing operation the program is an elementwise map."""
    for op in reversed(program.ops):
        if op.kind == "selector_width":
            return "counting"
        if op.kind == "numerical_aggregate":
            return "aggregation"
        if op.kind == "aggregate":
            if (op.inputs[0], op.inputs[1], op.fn) == IDENTITY_SELECT:
                continue
            return "permutation" if op.inputs[0] == "indices" and op.fn == "EQ" else "aggregation"
    return "elementwise map"


def task_family(task) -> Optional[str]:
    """A zoo task's family, or a generated task's derived one (None for a subject without either)."""
    family = getattr(task, "family", None) or None
    if family:
        return family
    program = (getattr(task, "extra", None) or {}).get("program")
    return program_family(program) if program is not None else None
