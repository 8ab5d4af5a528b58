"""The labelled set the label matcher is measured on: loading it, and its precision and recall.

agent/scoring/data/labels.jsonl holds one label a line, as a person would write it, with the
verdict a researcher gives it: `{"task", "label", "accept", "split"}` for a zoo task (does the
label name the task?), plus `family` and `program` for a generated program (does the label name
the program's family? the program is stored as data, so the entry does not depend on the
generator's sampling). `split` is "tune" (the rules were tuned on it) or "test" (held out: written
before the matcher was run on it, never tuned on).

`python -m tracr_agent.agent.scoring.labelset` prints the figures per split and part, and every
label the matcher gets wrong.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from typing import Optional

DATA = "labels.jsonl"


@dataclass(frozen=True)
class Example:
    task: str
    label: str
    accept: bool
    split: str
    family: Optional[str] = None
    program: Optional[dict] = None

    @property
    def generated(self) -> bool:
        return self.program is not None


def load() -> list[Example]:
    text = resources.files("tracr_agent.agent.scoring").joinpath("data", DATA).read_text()
    return [Example(**json.loads(line)) for line in text.splitlines() if line.strip()]


def program_of(data: dict):
    from tracr_agent.tools.subjects.generate.program import Op, Program

    ops = tuple(Op(var, kind, tuple(inputs), fn, tuple(params), out) for var, kind, inputs, fn, params, out in data["ops"])
    return Program(vocab=tuple(data["vocab"]), max_seq_len=data["max_seq_len"], ops=ops, token_kind=data["token_kind"])


def verdict(ex: Example) -> bool:
    """The matcher's verdict: the label names the zoo task, or the generated program's family."""
    from tracr_agent.agent.scoring.labels import family_credit, match_label, program_family

    if ex.generated:
        return family_credit(ex.label, program_family(program_of(ex.program))) is not None
    from tracr_agent.tools.subjects.zoo import get_task

    return match_label(ex.label, get_task(ex.task)).correct


@dataclass
class Figures:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    @property
    def n(self) -> int:
        return self.tp + self.fp + self.fn + self.tn

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    def add(self, truth: bool, said: bool) -> None:
        if truth and said:
            self.tp += 1
        elif said:
            self.fp += 1
        elif truth:
            self.fn += 1
        else:
            self.tn += 1


def measure(examples: list[Example]) -> tuple[dict[tuple[str, str], Figures], list[tuple[Example, bool]]]:
    """Figures by (split, part) with part "zoo", "generated" or "all", and every miss (example, verdict)."""
    figures: dict[tuple[str, str], Figures] = {}
    misses = []
    for ex in examples:
        said = verdict(ex)
        part = "generated" if ex.generated else "zoo"
        for key in ((ex.split, part), (ex.split, "all"), ("all", part), ("all", "all")):
            figures.setdefault(key, Figures()).add(ex.accept, said)
        if said != ex.accept:
            misses.append((ex, said))
    return figures, misses


def main() -> None:
    figures, misses = measure(load())
    print(f"{'split':6} {'part':10} {'n':>4} {'accept':>6} {'precision':>9} {'recall':>7}")
    for (split, part), f in sorted(figures.items()):
        print(f"{split:6} {part:10} {f.n:4d} {f.tp + f.fn:6d} {100 * f.precision:8.1f}% {100 * f.recall:6.1f}%")
    for ex, said in misses:
        kind = "false accept" if said else "false reject"
        print(f"{ex.split:5} {kind:12} {ex.task:18} {ex.label!r}")


if __name__ == "__main__":
    main()
