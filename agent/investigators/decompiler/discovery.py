"""Finding the variables in a label-free (raw) residual stream, from activations alone.

Tracr's residual space is a concatenation of one-hot blocks (categorical variables, one dim per
value, values in sorted order, blocks in name order) and single dims (numerical variables). From the
residual streams read on the probes, with each dim's first stage on the scanned inputs:
- a dim whose values are all 0 or 1 is one-hot material; others are numerical variables;
- adjacent one-hot dims written at the same stage and never hot together form one categorical
  variable; a lone 0/1 dim is a numerical variable holding 0 or 1 (tracr's numerical flags);
- among the embedding's variables, the dim hot at every position is `one`, the block whose hot
  dim follows the input token is `tokens`, the block that follows the position is `indices`.
Other variables are named r1, r2, … in dim order; their values are the ordinals of their dims
(tracr sorts a variable's values, so the ordinal order is the value order). Dims never non-zero
on any probe are left out (a value never seen).
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from tracr_agent.agent.investigators.decompiler.variables import Variable
from tracr_agent.tools.subjects.compare import ONE_HOT_TOL, nonzero, within  # one-hot: within 0.02 of 0 or 1


def discover(final_resids: list[tuple[tuple, np.ndarray]], dim_stage: dict[int, int]) -> list[Variable]:
    """Variables from (input, residual [positions, d_model]) pairs and each dim's first stage."""
    if not final_resids:
        return []
    R = np.concatenate([r for _, r in final_resids])
    d = R.shape[1]
    seen = np.any(nonzero(R, ONE_HOT_TOL), axis=0)
    binary = np.all(within(R, 0, ONE_HOT_TOL) | within(R, 1, ONE_HOT_TOL), axis=0)
    unit = np.all((R > -ONE_HOT_TOL) & (R < 1 + ONE_HOT_TOL), axis=0)
    hot = R > 0.5
    groups: list[list[int]] = []
    numerical: set[int] = set()
    current: list[int] = []

    def close():
        if current:
            groups.append(list(current))
            current.clear()

    for j in range(d):
        if not seen[j]:
            continue
        stage = dim_stage.get(j)
        # a categorical aggregate may average one-hots where it selects several keys, and a selector
        # width's MLP is not exact for wide selections: such dims are fractions in [0, 1] summing to 0
        # or 1 with their block (checked below); any other fractional dim is numerical
        soft = unit[j] and stage is not None
        if not binary[j] and not soft:
            close()
            numerical.add(j)
            groups.append([j])
            continue
        # a dim not seen on the scanned inputs has no stage: it may join either side
        same_stage = stage is None or _stage(current, dim_stage) in (None, stage)
        if current and same_stage and np.all(R[:, current + [j]].sum(axis=1) < 1 + ONE_HOT_TOL):
            current.append(j)
        else:
            close()
            current.append(j)
    close()
    # (Adjacent numerical 0/1 flags written together, e.g. "token is x" and "token is y", stay one
    # block: a head averaging one of them is read as averaging that value's indicator.)
    # A block of fractions must sum to 0 or 1 on every row to be one averaged categorical variable.
    split = []
    for dims in groups:
        sums = R[:, dims].sum(axis=1)
        mixed = not np.all(binary[dims]) and not np.all(within(sums, 0, ONE_HOT_TOL) | within(sums, 1, ONE_HOT_TOL))
        if len(dims) > 1 and mixed:
            split += [[j] for j in dims]
            numerical |= {j for j in dims if not binary[j]}
        else:
            split.append(dims)
    return _name(split, numerical, final_resids, hot, dim_stage)


def _stage(dims: list[int], dim_stage: dict[int, int]) -> Optional[int]:
    return next((dim_stage[j] for j in dims if j in dim_stage), None)


def _follows(final_resids, dims: list[int], key) -> Optional[dict]:
    """dim -> the value key(input, position) whenever that dim is hot (positions ≥ 1), if a bijection."""
    seen: dict = {}
    back: dict = {}
    for x, r in final_resids:
        for p in range(1, r.shape[0]):
            on = [j for j in dims if r[p, j] > 0.5]
            if len(on) != 1:
                return None
            v = key(x, p)
            if seen.setdefault(on[0], v) != v or back.setdefault(repr(v), on[0]) != on[0]:
                return None
    return seen


def _name(groups, numerical, final_resids, hot, dim_stage) -> list[Variable]:
    out: list[Variable] = []
    k = 0
    for dims in groups:
        everywhere = bool(np.all(hot[:, dims[0]])) if len(dims) == 1 else False
        if len(dims) == 1 and everywhere and dims[0] not in numerical:
            out.append(Variable("one", "categorical", (dims[0],), (1,)))
            continue
        if dims[0] in numerical or len(dims) == 1:
            k += 1
            out.append(Variable(f"r{k}", "numerical", (dims[0],)))
            continue
        if _stage(dims, dim_stage) == 0:
            toks = _follows(final_resids, dims, lambda x, p: x[p - 1])
            if toks is not None and not any(v.name == "tokens" for v in out):
                out.append(Variable("tokens", "categorical", tuple(dims), tuple(toks.get(j, "BOS") for j in dims)))
                continue
            pos = _follows(final_resids, dims, lambda x, p: p - 1)
            if pos is not None and not any(v.name == "indices" for v in out):
                out.append(Variable("indices", "categorical", tuple(dims), tuple(pos.get(j, -1) for j in dims)))
                continue
        k += 1
        out.append(Variable(f"r{k}", "categorical", tuple(dims), tuple(range(len(dims)))))
    return out


def output_map(var: Variable, output_values: list, d_model: int, used: set[int]) -> dict:
    """Ordinal -> output value for the output variable: its dims, widened over adjacent dims no
    variable holds (values never seen) to as many dims as the model has output values, read in order."""
    if var.kind != "categorical" or not output_values:
        return {}
    n = len(output_values)
    lo, hi = min(var.dims), max(var.dims)
    for start in range(max(0, hi - n + 1), lo + 1):
        window = list(range(start, start + n))
        if window[-1] >= d_model:
            break
        if all(j in var.dims or j not in used for j in window):
            return {i: output_values[window.index(j)] for i, j in enumerate(var.dims)}
    return {}
