"""The leak check: does a text name the task it is about?

Anything the agent can see (tool outputs, prompts, model info) must not carry
a task id, name, alias, or one of tracr's original SOp labels. Matching is
case-insensitive on whole words (an identifier like `max_seq_len` is one
word, so it does not trip `max`), with `_`, `-` and spaces inside a term
treated alike: `frac prevs` and `frac-prevs` both trip `frac_prevs`.
"""

from __future__ import annotations

import re

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
