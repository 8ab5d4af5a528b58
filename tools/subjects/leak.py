"""The leak checks: does a text name the task it is about, or (raw mode) a residual variable?

Anything the agent can see (tool outputs, prompts, model info) must not carry
a task id, name, alias, or one of tracr's original SOp labels. Matching is
case-insensitive on whole words (an identifier like `max_seq_len` is one
word, so it does not trip `max`), with `_`, `-` and spaces inside a term
treated alike: `frac prevs` and `frac-prevs` both trip `frac_prevs`.

With `--residual raw` nothing may name a residual variable at all
(`find_label_leaks`): no label, true (`reverse_1:3`) or neutral (`tokens:a`,
`v3:2`, `v3.sw`), and no variable name used as one (`one=1`, `indices:`).
"""

from __future__ import annotations

import re

from tracr_agent.tools.subjects.anonymize import split_label
from tracr_agent.tools.protocol.raw import RAW_DIM

# tracr's generic auto-labels name the primitive, not the task.
_GENERIC = re.compile(r"^(map|sequence_map|aggregate|select|selector_width|numerical|categorical)_\d+$")


def forbidden_terms(truth) -> list[str]:
    """Every string that would identify this subject's task."""
    terms = set(truth.labels)
    names = (truth.provenance or {}).get("names", {})
    for original in names:
        base = original
        terms.add(base)
        stripped = re.sub(r"_\d+$", "", base)  # tracr appends a unique id: reverse_1
        if not _GENERIC.match(base):
            terms.add(stripped)
    if truth.task_id:
        terms.add(truth.task_id)
    return sorted(t for t in terms if t and len(t) >= 2)


def _pattern(term: str) -> re.Pattern:
    parts = [re.escape(p) for p in re.split(r"[\s_\-]+", term.strip()) if p]
    body = r"[\s_\-]?".join(parts)
    return re.compile(rf"(?<![A-Za-z0-9_]){body}(?![A-Za-z0-9_])", re.IGNORECASE)


def find_leaks(text: str, truth) -> list[str]:
    """The forbidden terms that occur in `text` (empty list: clean)."""
    return [t for t in forbidden_terms(truth) if _pattern(t).search(text)]


_INPUT_SPACES = ("tokens", "indices", "one")


def residual_labels_of(subject) -> set[str]:
    """Every residual label the subject has: the neutral ones on its card and tracr's originals."""
    labels = set(subject.card.residual_labels or ())
    labels |= set((subject.truth.provenance or {}).get("residual_labels", ()))
    return {l for l in labels if not RAW_DIM.fullmatch(l)}  # `d7` is the raw name itself, not a label


def find_label_leaks(text: str, subject) -> list[str]:
    """The residual labels and variable names of `subject` that occur in `text` (empty list: none).

    A full label (`tokens:a`, `v3:2`, `reverse_1:3`) is found anywhere it stands as one word;
    a program variable's name (`v3`, `v3.sw`, `reverse_1`) likewise; the input spaces tracr always
    has (`tokens`, `indices`, `one`) are ordinary words in prose, so they count only when used as
    a variable is printed: followed by `=` or by `:` and a value.
    """
    found = set()
    for label in residual_labels_of(subject):
        name, value = split_label(label)
        if value is not None and re.search(rf"(?<![\w.]){re.escape(label)}(?![\w])", text):
            found.add(label)
        if name in _INPUT_SPACES:
            if re.search(rf"(?<![\w.]){name}(=|:\S)", text):
                found.add(name)
        elif re.search(rf"(?<![\w.]){re.escape(name)}(?![\w])", text):
            found.add(name)
    return sorted(found)


def program_texts(task) -> list[str]:
    """A generated task's ground-truth texts: every statement of its program rendering and of its runnable
    RASP source, and every sentence of its auto-written description (short fragments like `output = v3`
    are left out)."""
    extra = getattr(task, "extra", None) or {}
    lines = [ln.strip() for ln in extra.get("rendering", "").splitlines() if not ln.startswith("#")]
    lines += [ln.strip() for ln in extra.get("source", "").splitlines() if "rasp." in ln and "import" not in ln]
    lines += [ln.strip() for ln in (task.description or "").splitlines()] if extra.get("rendering") else []
    return [ln for ln in lines if len(ln) >= 16]


def find_program_leaks(text: str, task) -> list[str]:
    """The rendering statements and description sentences of a generated task that occur in `text`."""
    flat = " ".join(text.split())
    return [ln for ln in program_texts(task) if " ".join(ln.split()) in flat]
