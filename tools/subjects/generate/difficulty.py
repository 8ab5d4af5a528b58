"""Difficulty, defined by what a program does: its steps, its distinct attention patterns, its depth.

All three are measured on the simplified program (no step that does nothing is
left, see simplify) and its behaviour on the domain:

- steps: the number of operations, every one of which does something;
- patterns: how many different selections its attention steps make (two
  steps selecting the same positions on every input count once);
- depth: the longest chain of steps from an input to the output (every step
  reaches the output, so this is the depth of the data flow that matters);
- attention depth (reported, not required): the most attention steps on one
  such chain, i.e. how many rounds of moving information between positions.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Optional

from tracr_agent.tools.subjects.generate.program import ATTENTION_KINDS, Program
from tracr_agent.tools.subjects.generate.trace import pattern_key


@dataclass(frozen=True)
class Level:
    steps: tuple[int, int]
    """Fewest and most steps."""
    patterns: int
    """Fewest distinct attention patterns."""
    depth: int
    """Shortest longest chain of steps to the output."""


DIFFICULTIES = {1: Level((1, 2), 0, 1), 2: Level((3, 4), 1, 2), 3: Level((4, 5), 2, 3), 4: Level((6, 8), 3, 5)}


@dataclass(frozen=True)
class Measures:
    steps: int
    patterns: int
    depth: int
    attention_depth: int

    def as_dict(self) -> dict:
        return asdict(self)


def measure(program: Program, patterns: dict[str, list]) -> Measures:
    """`patterns`: each attention step's selection on every input (a trace's or an evaluation's)."""
    depth: dict[str, int] = {}
    rounds: dict[str, int] = {}
    for op in program.ops:
        depth[op.var] = 1 + max((depth.get(v, 0) for v in op.inputs), default=0)
        rounds[op.var] = (op.kind in ATTENTION_KINDS) + max((rounds.get(v, 0) for v in op.inputs), default=0)
    distinct = {pattern_key(patterns[op.var]) for op in program.ops if op.kind in ATTENTION_KINDS}
    out = program.output.var
    return Measures(len(program.ops), len(distinct), depth[out], rounds[out])


def misfit(difficulty: int, m: Measures) -> Optional[str]:
    """Why measures `m` do not make a program of `difficulty`, or None when they do."""
    level = DIFFICULTIES[difficulty]
    lo, hi = level.steps
    if not lo <= m.steps <= hi:
        return f"{m.steps} step(s), difficulty {difficulty} has {lo} to {hi}"
    if m.patterns < level.patterns:
        return f"{m.patterns} attention pattern(s), difficulty {difficulty} needs {level.patterns}"
    if m.depth < level.depth:
        return f"data flow {m.depth} deep, difficulty {difficulty} needs {level.depth}"
    return None
