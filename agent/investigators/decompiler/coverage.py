"""Checking the decompiled program against what was observed, and finding inputs that fill its tables.

Both run the program's own Python source (`program.trace`): on the probe inputs, every variable it
computes is compared with the value the model's residual stream held; on candidate inputs, the
table entries (MLP keys, head-rule pairs) it would reach but has not observed are counted, and the
inputs reaching most of them are chosen for a further round of reading the model.
"""

from __future__ import annotations

from tracr_agent.agent.investigators.decompiler.mlps import key_of
from tracr_agent.agent.investigators.decompiler.program import HeadStep, Program, trace
from tracr_agent.tools.subjects.compare import held_equal


def agreement(prog: Program, src: str, observed: dict[tuple, dict[str, list]]) -> tuple[int, int, list[str]]:
    """(inputs where every decompiled variable matches the model, inputs checked, variables that differ)."""
    ok, bad = 0, set()
    for x, vals in observed.items():
        try:
            got = trace(src, list(x))
        except Exception:
            bad.add("the program raised")
            continue
        good = True
        for st in prog.steps:
            mine, theirs = got.get(prog.ident(st.out)), vals.get(st.out)
            if mine is None or theirs is None:
                continue
            if len(mine) != len(theirs) - 1 or not all(held_equal(a, b) for a, b in zip(mine, theirs[1:])):
                good = False
                bad.add(st.out)
        ok += good
    return ok, len(observed), sorted(bad)


def unseen_keys(prog: Program, got: dict) -> set:
    keys = set()
    for i, st in enumerate(prog.steps):
        if isinstance(st, HeadStep):
            if st.vmap and got.get(prog.ident(st.value)) is not None:  # values moved but never seen moved
                keys |= {(i, ("moved", v)) for v in got[prog.ident(st.value)] if v is not None and v not in st.vmap}
            if st.rule != "table":
                continue
            qs, ks = got.get(prog.ident(st.query)), got.get(prog.ident(st.key))
            if qs is None or ks is None:
                continue
            keys |= {(i, (q, k)) for q in qs for k in ks if (q, k) not in st.table}
        elif st.inputs and st.linear is None:
            cols = [got.get(prog.ident(v)) for v in st.inputs]
            if any(c is None for c in cols):
                continue
            keys |= {(i, key_of(vals)) for vals in zip(*cols) if key_of(vals) not in st.table}
    return keys


def covering_inputs(prog: Program, src: str, candidates: list[tuple], limit: int, by_length: bool = False) -> list[tuple]:
    """Up to `limit` inputs reaching table entries not yet observed, greedily most new entries first
    (`by_length`: most new entries per position, where every position read costs a dense vector)."""
    reach = []
    for x in candidates:
        try:
            got = trace(src, list(x))
        except Exception:
            continue
        k = unseen_keys(prog, got)
        if k:
            reach.append((x, k))
    chosen: list[tuple] = []
    covered: set = set()
    while reach and len(chosen) < limit:
        x, k = max(reach, key=lambda e: (len(e[1] - covered) / ((len(e[0]) + 1) if by_length else 1), -len(e[0])))
        if not k - covered:
            break
        chosen.append(x)
        covered |= k
        reach = [e for e in reach if e[0] != x]
    return chosen
