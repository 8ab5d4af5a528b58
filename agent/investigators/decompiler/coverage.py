"""Checking the decompiled program against what was observed, and finding inputs that fill its tables.

Both run the program's own Python source (`program.trace`): on the probe inputs, every variable it
computes is compared with the value the model's residual stream held; on candidate inputs, the
table entries (MLP keys, head-rule pairs) it would reach but has not observed are counted, and the
inputs reaching most of them are chosen for a further round of reading the model.
"""

from __future__ import annotations

from tracr_agent.agent.investigators.decompiler.mlps import key_of
from tracr_agent.agent.investigators.decompiler.program import COMPARATORS, HeadStep, MlpStep, Program, trace
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
    """The table entries (MLP keys, head-rule pairs, values moved) the program reaches on one input
    without having observed them, and the output variable's values its output map lacks (an aggregate
    of a value never seen aggregated: which output it decodes as is unknown until one is read)."""
    keys = set()
    held = got.get(prog.ident(prog.output)) if prog.output_open and prog.output else None
    if held is not None:
        keys |= {("output", v) for v in held if v is not None and v not in prog.output_map}
    for i, st in enumerate(prog.steps):
        if isinstance(st, HeadStep):
            keys |= moved_keys(prog, i, st, got)
            qs, ks = got.get(prog.ident(st.query)), got.get(prog.ident(st.key))
            if qs is None or ks is None:
                continue
            if st.rule == "table":
                keys |= {(i, (q, k)) for q in qs for k in ks if (q, k) not in st.table}
            elif st.query == st.key and prog.open_orders.get(st.query):
                # values ordered from comparisons that leave this pair open: an input holding both orders it
                pairs = prog.open_orders[st.query]
                keys |= {(i, ("order", a, b)) for a in set(qs) for b in set(ks) if (a, b) in pairs}
            for j, (qn, kn, rule, table) in enumerate(st.alternatives):
                aqs, aks = got.get(prog.ident(qn)), got.get(prog.ident(kn))
                if aqs is None or aks is None:
                    continue
                # a pair the other rule never observed, or one it selects otherwise
                for q, aq in zip(qs, aqs):
                    for k, ak in zip(ks, aks):
                        mine, theirs = _selects(st.rule, st.table, q, k), _selects(rule, table, aq, ak)
                        if theirs is None or (mine is not None and mine != theirs):
                            keys.add((i, ("alternative", j, (aq, ak), (q, k))))
        elif st.linear is None:
            cols = [got.get(prog.ident(v)) for v in st.inputs]
            if any(c is None for c in cols):
                continue
            keys |= mlp_keys(i, st, cols)
            n = len(next(iter(got.values()), []))
            mine = [key_of(vals) for vals in zip(*cols)] if cols else [None] * n  # None: a constant
            for j, (names, table) in enumerate(st.alternatives):
                alt = [got.get(prog.ident(v)) for v in names]
                if any(c is None for c in alt):
                    continue
                # an entry the other input set never observed, or one where it predicts another value
                keys |= {(i, ("alternative", j, a, m)) for a, m in zip(map(key_of, zip(*alt)), mine)
                         if a not in table or (m in st.table and repr(table[a]) != repr(st.table[m]))}
    return keys


def mlp_keys(i: int, st: MlpStep, cols: list) -> set:
    """(i, key) for the keys of MLP step i that its input columns reach and its table lacks."""
    return {(i, k) for k in map(key_of, zip(*cols)) if k not in st.table}


def moved_keys(prog: Program, i: int, st: HeadStep, got: dict) -> set:
    """(i, ("moved", v)) for the values head step i moves from a key its rule selects and was never
    seen moving (only where it renames what it moves)."""
    moved = got.get(prog.ident(st.value)) if st.vmap else None
    if moved is None:
        return set()
    return {(i, ("moved", v)) for v in moved_at_selected(st, got, prog, moved) if v is not None and v not in st.vmap}


def _selects(rule: str, table: dict, q, k):
    """Whether a head's rule selects key value k for query value q (None: a table entry never observed)."""
    if rule == "table":
        return table.get((q, k))
    try:
        return bool(COMPARATORS[rule](k, q))
    except TypeError:  # a missing value compares to nothing
        return False


def moved_at_selected(st: HeadStep, got: dict, prog: Program, moved: list) -> set:
    """The values of the moved variable at the keys the head's rule selects for some query."""
    qs, ks = got.get(prog.ident(st.query)), got.get(prog.ident(st.key))
    if qs is None or ks is None:
        return set(moved)
    return {moved[j] for q in qs for j, k in enumerate(ks) if _selects(st.rule, st.table, q, k)}


def covering_inputs(prog: Program, src: str, candidates: list[tuple], limit: int, by_length: bool = False,
                    known: tuple = ()) -> list[tuple]:
    """Up to `limit` inputs reaching table entries not yet observed, greedily most new entries first
    (`by_length`: most new entries per position, where every position read costs a dense vector); an
    entry reached on an input of `known` (one whose output was checked) counts as observed."""
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
    for x in known:
        try:
            covered |= unseen_keys(prog, trace(src, list(x)))
        except Exception:  # noqa: BLE001 - the program fails there: it reaches nothing to count
            continue
    while reach and len(chosen) < limit:
        x, k = max(reach, key=lambda e: (len(e[1] - covered) / ((len(e[0]) + 1) if by_length else 1), -len(e[0])))
        if not k - covered:
            break
        chosen.append(x)
        covered |= k
        reach = [e for e in reach if e[0] != x]
    return chosen

