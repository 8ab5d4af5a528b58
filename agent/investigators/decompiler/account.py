"""The decompiler's account of a model: the label, description and implementation it submits.

The recovered program (program.py) is simplified into named primitives (simplify.py), its
variables named by role (naming.py), written as RASP-like Python (rasp_source.py) and described
(describe.py). A primitive equals its table on every recovered entry; off those entries it could
differ from the recovered program (an input value the model was never seen reading), so before
the account is given, the readable program is run beside the recovered one on the inputs given
(the probes and a sample of the input domain) on which no head compares a pair never observed: where a
step's values differ, that step is written with its recovered tables instead, until both agree on every
such input. On a pair never observed the recovered rule table only guesses, and a named comparison that
equals it on every observed pair is the better guess.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable

from tracr_agent.agent.investigators.decompiler.coverage import unseen_keys
from tracr_agent.agent.investigators.decompiler.describe import description, label
from tracr_agent.agent.investigators.decompiler.naming import variable_names
from tracr_agent.agent.investigators.decompiler.program import HeadStep, Program, source, trace
from tracr_agent.agent.investigators.decompiler.rasp_source import rasp_source
from tracr_agent.agent.investigators.decompiler.simplify import Readable, simplify
from tracr_agent.tools.subjects.compare import held_equal, outputs_equal

MAX_REPAIRS = 50


@dataclass
class Account:
    label: str
    description: str
    implementation: str
    readable: Readable
    names: dict[str, str]
    kept_tables: tuple[str, ...] = ()  # steps written as tables because a primitive differed off the recovered entries

    @property
    def named_share(self) -> float:
        steps = self.readable.steps
        return sum(not s.tables for s in steps) / len(steps) if steps else 1.0


@lru_cache(maxsize=8)
def _run(src: str):
    ns: dict = {}
    exec(compile(src, "<readable>", "exec"), ns)  # noqa: S102 - our own generated program
    return ns["f"]


def _agrees(a, b) -> bool:
    return held_equal(a, b) and (a is None) == (b is None)


def _differs(readable: Readable, names: dict[str, str], prog: Program, inputs: list[tuple]) -> tuple[bool, set[str]]:
    """(whether the readable output differs from the recovered one on some input, the recovered
    variables of the first steps whose values differ)."""
    recovered_src = source(prog)
    readable_trace = _run(rasp_source(readable, names, trace=True))
    output_differs = False
    culprits: set[str] = set()
    for x in inputs:
        try:
            want = trace(recovered_src, list(x))
        except Exception:  # noqa: BLE001 - the recovered program itself fails here: nothing to compare
            continue
        try:
            got = readable_trace(list(x))
        except Exception:  # noqa: BLE001 - a primitive raising where the table did not
            got = {}
        for s in readable.steps:
            if s.faithful is None:
                continue
            var, how = s.faithful
            theirs, mine = want.get(prog.ident(var)), got.get(s.name)
            if theirs is None:
                continue
            if mine is None:
                culprits.add(var)
                break
            if how == "fraction":
                mine = [None if w is None else 1.0 / (w + 1) for w in mine]
            elif how == "output":
                theirs = [prog.output_map.get(v) if v is not None else None for v in theirs]
            elif how == "encoded":
                mine = [readable.encodings[var].get(v) if v is not None else None for v in mine]
            if len(mine) != len(theirs) or not all(_agrees(a, b) for a, b in zip(mine, theirs)):
                culprits.add(var)
                break
        out = readable.output
        if out is not None and not culprits:
            mine = got.get(out)
            theirs = want.get(prog.ident(prog.output)) if prog.output else None
            if theirs is not None and prog.output_map:
                theirs = [prog.output_map.get(v) if v is not None else None for v in theirs]
            if mine is None or theirs is None or not outputs_equal(mine, theirs, prog.numerical_output):
                output_differs = True  # the output as the scorer compares it: a flag is not its number
        if culprits:
            return True, culprits
    return output_differs, culprits


def grounded(prog: Program, inputs: Iterable[tuple]) -> list[tuple]:
    """The inputs on which no head of the recovered program compares a pair of values never observed. A
    head's rule table fills such a pair with "not selected", a guess no better than the named comparison
    that equals the table on every observed pair — so a comparison is not rejected for differing there.
    (An MLP's table is another matter: reading a number it never saw as the nearest it did is what tracr's
    numerical MLPs do.)"""
    src = source(prog)
    out = []
    for x in inputs:
        try:
            got = trace(src, list(x))
        except Exception:  # noqa: BLE001 - the recovered program fails here: _differs skips it too
            continue
        if not any(_rule_pair(prog, key) for key in unseen_keys(prog, got)):
            out.append(x)
    return out


def _rule_pair(prog: Program, key) -> bool:
    """Whether an unseen entry (coverage.unseen_keys) is a (query, key) pair of a head's rule table."""
    i, entry = key
    return isinstance(i, int) and isinstance(prog.steps[i], HeadStep) and prog.steps[i].rule == "table" \
        and isinstance(entry, tuple) and len(entry) == 2 and entry[0] not in ("moved", "alternative")


def account(prog: Program, inputs: Iterable[tuple]) -> Account:
    """The label, description and readable implementation of a recovered program, checked to compute
    what the recovered program computes on `inputs` wherever it reaches only observed entries."""
    inputs = grounded(prog, inputs)
    keep: frozenset = frozenset()
    for _ in range(MAX_REPAIRS):
        readable = simplify(prog, keep)
        names = variable_names(readable)
        differs, culprits = _differs(readable, names, prog, inputs)
        if not differs:
            break
        if not culprits or culprits <= keep:
            keep = frozenset(s.out for s in prog.steps)  # every step as recovered
            readable = simplify(prog, keep)
            names = variable_names(readable)
            break
        keep = keep | culprits
    implementation = rasp_source(readable, names)
    if _differs(readable, names, prog, inputs)[0]:
        implementation = source(prog)  # the recovered program as it was read: nothing readable agrees with it
    title = label(readable, names)
    return Account(title, description(readable, names, title), implementation, readable, names, tuple(sorted(keep)))
