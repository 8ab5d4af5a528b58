"""The task record: what a zoo entry knows about one RASP program.

A task holds everything needed to compile it (the RASP builder), to know the
truth about it (a plain-Python reference function and a description), and to
score a prediction against it (id and aliases). Builders import tracr lazily so
listing the zoo stays instant.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Literal, Sequence

OutputKind = Literal["categorical", "numerical"]


@dataclass(frozen=True)
class Task:
    id: str
    name: str
    description: str
    category: str
    vocab: tuple
    max_seq_len: int
    build: Callable[[], Any]
    """Returns the RASP SOp (imports tracr inside)."""
    reference: Callable[[list], list]
    """Plain Python: tokens (no BOS) -> outputs; None where the program is undefined."""
    output: OutputKind = "categorical"
    aliases: tuple[str, ...] = ()
    origin: str = "zoo"
    """'seed' (the prior study), 'tracr-lib' (tracr's compiler/lib.py) or 'zoo' (written here)."""
    extra: dict = field(default_factory=dict, compare=False)
    family: str = ""
    """What kind of computation it is, one of FAMILIES (label scoring gives family-level credit)."""

    @property
    def labels(self) -> tuple[str, ...]:
        """Every string that names this task (for scoring and leak checks)."""
        return (self.id, self.name, *self.aliases)

    def reference_source(self) -> str:
        """The reference function's source, renamed to `f` (a valid submission)."""
        src = inspect.getsource(self.reference)
        return re.sub(r"^def \w+\(", "def f(", src.lstrip(), count=1)

    def domain_size(self) -> int:
        v = len(self.vocab)
        return sum(v**n for n in range(1, self.max_seq_len + 1))


FAMILIES: dict[str, tuple[str, ...]] = {
    # family -> phrases that name it in a label (matched as whole words, case and punctuation aside)
    "permutation": ("permutation", "permute", "permuted", "reordering", "reorder", "reordered", "rearrangement",
                    "rearrange", "shift", "shifted", "rotation", "rotate"),
    "aggregation": ("aggregation", "aggregate", "broadcast", "reduction", "reduce", "average", "mean"),
    "counting": ("counting", "count", "counts", "tally", "histogram"),
    "elementwise map": ("elementwise", "element wise", "pointwise", "per token", "tokenwise", "token wise",
                        "token map", "per position map"),
    "predicate": ("predicate", "check", "boolean check", "membership", "validity", "recognizer", "recogniser"),
    "pattern": ("pattern", "pattern detection", "flag", "flags", "matching", "match"),
}
"""Each zoo task's `family`. Counting is also an aggregation (FAMILY_PARENTS): the prior study
credited "aggregation" for length."""
FAMILY_PARENTS = {"counting": "aggregation"}


def normalize_label(label: str) -> str:
    """Lower-case, strip punctuation and separators: 'Sort-Unique' -> 'sortunique'."""
    return re.sub(r"[^a-z0-9]", "", label.lower())


class TaskRegistry:
    def __init__(self, tasks: Sequence[Task]):
        self._tasks: dict[str, Task] = {}
        for t in tasks:
            if t.id in self._tasks:
                raise ValueError(f"duplicate task id {t.id!r}")
            if t.family not in FAMILIES:
                raise ValueError(f"task {t.id!r}: family {t.family!r} is not one of {', '.join(FAMILIES)}")
            self._tasks[t.id] = t

    def __iter__(self):
        return iter(self._tasks.values())

    def __len__(self):
        return len(self._tasks)

    def ids(self) -> list[str]:
        return list(self._tasks)

    def get(self, task_id: str) -> Task:
        if task_id in self._tasks:
            return self._tasks[task_id]
        norm = normalize_label(task_id)
        for t in self._tasks.values():
            if norm in {normalize_label(x) for x in t.labels}:
                return t
        import difflib

        close = difflib.get_close_matches(task_id, self.ids(), n=3)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise KeyError(f"unknown task {task_id!r}.{hint} See `tracr-agent tasks` for the list.")
