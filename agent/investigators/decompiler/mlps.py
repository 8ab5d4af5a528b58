"""MLPs: each variable an MLP layer writes, as a function of the values of variables it reads.

Tracr MLPs are elementwise: a variable written by the MLP of layer L is a function of one or more
variables present before it, at the same position. The decompiler looks for the smallest set of
such variables that determines the output on every observed position, preferring the set whose
observed values cover most of its value space (the table then generalizes; the other sets that fit
are kept, and coverage reads inputs that tell them apart), and writes the
function as an exact linear formula when one fits numerical values, else as a table over values.
"""

from __future__ import annotations

from collections import Counter
from itertools import combinations
from typing import Optional

import numpy as np

from tracr_agent.agent.investigators.decompiler.program import MlpStep
from tracr_agent.agent.investigators.decompiler.variables import Variable
from tracr_agent.tools.subjects.compare import within

MAX_INPUTS = 3
MAX_ALTERNATIVES = 6
"""Other input sets kept for an MLP whose observations several explain (coverage tells them apart)."""


def key_of(vals: tuple):
    vals = tuple(round(v, 3) if isinstance(v, float) else v for v in vals)
    return vals[0] if len(vals) == 1 else vals


def _table(rows, names: tuple[str, ...], out: str) -> Optional[dict]:
    table: dict = {}
    for vals in rows:
        k = key_of(tuple(vals[n] for n in names))
        if table.setdefault(k, vals[out]) != vals[out]:
            return None
    return table


def _linear(rows, names: tuple[str, ...], out: str) -> Optional[list[float]]:
    X = np.array([[float(r[n]) for n in names] + [1.0] for r in rows])
    y = np.array([float(r[out]) for r in rows])
    coef, *_ = np.linalg.lstsq(X, y, rcond=None)
    coef = [round(float(c), 4) for c in coef]
    if not np.all(within(X @ np.array(coef), y)):
        return None
    return coef


def explain_mlp(rows, layer: int, out: Variable, available: list[Variable], order: dict[str, int]):
    """(MlpStep, None) or (None, reason). rows: one {variable: value} per observed position."""
    values = [r[out.name] for r in rows]
    if not rows:
        return None, f"MLP {layer}: no observations of {out.name}"
    cands = [v for v in available if v.name != "one" and v.name != out.name]
    if len(set(map(repr, values))) == 1:
        # one value on every observation: what the MLP computes was not seen (tracr compiles no
        # constant MLP). The latest variables it may read are kept as the inputs to vary: coverage
        # seeks their value combinations not observed yet
        latest = tuple(v.name for v in sorted(cands, key=lambda v: order.get(v.name, 0))[-2:])
        seen = _table(rows, latest, out.name) if latest else None
        return MlpStep(layer, out.name, [], default=values[0],
                       alternatives=[(list(latest), seen)] if seen else []), None
    for size in range(1, MAX_INPUTS + 1):
        fits = []
        for combo in combinations(cands, size):
            names = tuple(v.name for v in combo)
            table = _table(rows, names, out.name)
            if table is None:
                continue
            space = 1
            for v in combo:
                space *= len(v.values) if v.kind == "categorical" else max(1, len({r[v.name] for r in rows}))
            fits.append(((len(table) / space, sum(order.get(n, 0) for n in names)), names, table))
        if not fits:
            continue
        fits.sort(key=lambda f: f[0], reverse=True)
        _, names, table = fits[0]
        others = [(list(n), t) for _, n, t in fits[1:MAX_ALTERNATIVES + 1]]
        linear = None
        if out.kind == "numerical" and all(v.kind == "numerical" for v in available if v.name in names):
            linear = _linear(rows, names, out.name)
        default = Counter(map(repr, table.values())).most_common(1)[0][0]
        default = next(v for v in table.values() if repr(v) == default)
        return MlpStep(layer, out.name, list(names), table=table if linear is None else {},
                       default=default, linear=linear, alternatives=others if linear is None else []), None
    return None, f"MLP {layer}: {out.name} is not a function of up to {MAX_INPUTS} earlier variables at the same position"
