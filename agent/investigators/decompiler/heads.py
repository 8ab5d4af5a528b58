"""Attention heads: which variables a head reads (query side, key side) and moves, and its rule.

From the head's attention pattern on each probe input: the keys each query selects (the keys
sharing the top weight; BOS alone means none). The rule is a table over (query value, key value)
— recognized as a comparison when one fits every observation — for the pair of variables that
explains every selection (the other pairs that explain them as well are kept: coverage reads inputs
that tell them apart); the variable it moves is the one whose values, picked (categorical) or
averaged (numerical) over the selected keys, give the variable the layer wrote.
"""

from __future__ import annotations

from itertools import product
from typing import Optional

import numpy as np

from tracr_agent.agent.investigators.decompiler.orders import names_from_match
from tracr_agent.agent.investigators.decompiler.program import COMPARATORS, HeadStep
from tracr_agent.agent.investigators.decompiler.variables import Variable
from tracr_agent.tools.subjects.compare import ATTENTION_SHARE_TOL, NOISY_NUM_TOL, nonzero, within


NOISY_SELECT = 0.25
"""In a compressed model, no key below this share of the query's top weight is selected."""


def _noisy_keys(row: np.ndarray) -> list[int]:
    """The keys a compressed model's query selects. Its scores drift: a selected key is seen at 0.16
    beside 0.32 (half the top weight would drop it), while a query selecting nothing leaks 0.27 beside
    BOS's 0.73. So from the top down, each next key is selected while it holds at least half the weight
    of the last one selected (and NOISY_SELECT of the top): a step down by half ends the selection."""
    order = sorted(range(len(row)), key=lambda k: -row[k])
    top = row[order[0]]
    keys, last = [order[0]], top
    for k in order[1:]:
        if row[k] < 0.5 * last or row[k] < NOISY_SELECT * top or not nonzero(row[k]):
            break
        keys.append(k)
        last = row[k]
    return sorted(keys)


def selections(pattern: np.ndarray, noisy: bool = False) -> tuple[list[list[int]], bool]:
    """(selected keys ≥ 1 per query 1..n, whether BOS shares every query's weight equally). `noisy` (a
    compressed model): a selector width's head gives BOS and the selected keys only roughly equal shares
    (0.206 beside 0.278, 0.42 beside 0.58 are seen), so BOS selected at every query is enough — beside a
    selection that is not a width's, BOS gets next to nothing."""
    share = 1.0 if noisy else ATTENTION_SHARE_TOL
    sel, bos_always = [], True
    n_pos = pattern.shape[0]
    for q in range(1, n_pos):
        row = pattern[q]
        top = row.max()
        keys = _noisy_keys(row) if noisy else [k for k in range(n_pos) if row[k] >= 0.5 * top and nonzero(row[k])]
        if 0 not in keys or (len(keys) > 1 and not within(row[0], top, share * top)):
            bos_always = False
        sel.append([k for k in keys if k != 0])
    return sel, bos_always


def _comparable(a, b) -> bool:
    return a is not None and b is not None and (type(a) is type(b) or {type(a), type(b)} <= {int, float})


def fit_rule(table: dict) -> Optional[str]:
    """A comparison (key value ? query value) that reproduces every observed selection, if one does."""
    for name in ("true", "false", "==", "!=", "<", "<=", ">", ">="):
        fn = COMPARATORS[name]
        ok = True
        for (qv, kv), s in table.items():
            if name not in ("true", "false", "==", "!=") and not _comparable(qv, kv):
                ok = False
                break
            try:
                if bool(fn(kv, qv)) != s:
                    ok = False
                    break
            except TypeError:
                ok = False
                break
        if ok:
            return name
    return None


MAX_ALTERNATIVES = 6
"""Other (query, key) pairs kept for a head whose selections several explain (coverage tells them apart)."""


def explain_selection(probes, layer: int, head: int, candidates: list[Variable]):
    """The (query var, key var, rule, table, alternatives) explaining the head's selections on every
    probe, or None; alternatives: the other (query var, key var, rule, table) that explain them too.
    probes: [(values {var: [v at pos 0..n]}, selections per query 1..n)]."""
    fits = []
    sizes = {v.name: _n_values(v, probes) for v in candidates}
    for qv, kv in product(candidates, candidates):
        table: dict = {}
        ok = True
        for vals, sel in probes:
            qs, ks = vals[qv.name], vals[kv.name]
            n = len(qs) - 1
            for q in range(1, n + 1):
                chosen = set(sel[q - 1])
                for k in range(1, n + 1):
                    key = (qs[q], ks[k])
                    s = k in chosen
                    if table.setdefault(key, s) != s:
                        ok = False
                        break
                if not ok:
                    break
            if not ok:
                break
        if not ok:
            continue
        rule = fit_rule(table)
        possible = max(1, sizes[qv.name] * sizes[kv.name])
        # a table pairing a variable one to one with the token or position names that variable's values
        # (decompiler/output.py), after which the rule is `==` or `!=`: as good as a rule found
        score = (rule is not None or _matches_known(qv.name, kv.name, table), len(table) / possible)
        fits.append((score, qv.name, kv.name, rule or "table", table))
    if not fits:
        return None
    fits.sort(key=lambda f: f[0], reverse=True)  # stable: the first pair tried wins a tie
    return (*fits[0][1:], [f[1:] for f in fits[1:MAX_ALTERNATIVES + 1]])


def _matches_known(q: str, k: str, table: dict) -> bool:
    known = ("tokens", "indices")
    if (q in known) == (k in known):
        return False
    return names_from_match(table, q in known) is not None


def _n_values(v: Variable, probes) -> int:
    """How many values a variable can take: its categorical values, else the distinct ones observed."""
    if v.kind == "categorical" and v.values:
        return len(v.values)
    return max(1, len({x for vals, _ in probes for x in vals[v.name][1:]}))


def _selectable(v: Variable, probes) -> bool:
    """Whether a variable can be a selector's query or key: categorical, or a number taking few values
    (a categorical variable seen with a single value is read as a number when found without labels)."""
    return v.name != "one" and (v.kind == "categorical" or _n_values(v, probes) <= 2)


def _means(probes, out: str, value: str, indicator) -> Optional[list[tuple[float, float]]]:
    """(written, mean of the value var over the selection) at every query of every probe, None when a
    selected key holds no value."""
    pairs = []
    for vals, sel in probes:
        xs = vals[value] if indicator is None else [1.0 if x == indicator else 0.0 for x in vals[value]]
        for q, keys in enumerate(sel, 1):
            if any(xs[k] is None for k in keys):
                return None
            m = sum(xs[k] for k in keys) / len(keys) if keys else 0.0
            pairs.append((vals[out][q], m))
    return pairs


def _factor(pairs: list[tuple], free: bool, noisy: bool = False) -> Optional[float]:
    """The factor f with written == f * computed at every pair (1 unless the written variable's scale is
    free), or None when no factor fits; `noisy`: within NOISY_NUM_TOL of the largest written value."""
    if any(w is None for w, _ in pairs):
        return None
    f = 1.0
    if free:
        num = sum(w * c for w, c in pairs)
        den = sum(c * c for _, c in pairs)
        if den <= 0 or abs(num) <= 0:
            return None
        f = num / den
    if noisy:
        tol = NOISY_NUM_TOL * max((abs(w) for w, _ in pairs), default=0.0)
        return f if all(within(w, f * c, tol) for w, c in pairs) else None
    return f if all(within(w, f * c) for w, c in pairs) else None


def _median_factor(pairs: list[tuple], free: bool) -> Optional[float]:
    """The median of written / computed where the written variable's scale is free (else 1); None when
    a value is missing or the factor is not positive."""
    if any(w is None for w, _ in pairs) or not pairs:
        return None
    ratios = sorted(w / c for w, c in pairs)
    f = ratios[len(ratios) // 2] if free else 1.0
    return f if f > 0 else None


def _soft_factor(pairs: list[tuple], free: bool) -> Optional[float]:
    """Selector width's fraction 1/(w+1) written through an attention softer than tracr meant (a
    little weight leaking past BOS, seen as 0.867 for 1): the factor when every written value is
    nearer its own fraction than the next one's, as the width's MLP reads it (thresholds half-way
    between them); None otherwise."""
    f = _median_factor(pairs, free)
    if f is None:
        return None
    for w, c in pairs:
        k = round(1 / c - 1)  # the width
        gap = min(1 / (k + 1) - 1 / (k + 2), 1 / k - 1 / (k + 1) if k else 1.0) / 2
        if not within(w / f, c, gap):
            return None
    return f


def _separated_factor(pairs: list[tuple], free: bool) -> Optional[float]:
    """A compressed model's selector width: BOS's share drifts with the compression (0.62 and 0.42 are
    seen for 1/2, 0.417 for 1/3), but the MLP after it still reads the width, so the shares written at
    each width lie in their own interval, in the width's order (a larger width, a smaller share). The
    factor (the median ratio where the scale is free) when the intervals are disjoint and ordered and at
    least two widths were seen; None otherwise."""
    f = _median_factor(pairs, free)
    if f is None:
        return None
    by_width: dict[int, list[float]] = {}
    for w, c in pairs:
        by_width.setdefault(round(1 / c - 1), []).append(w / f)
    widths = sorted(by_width)
    if len(widths) < 2:
        return None
    ok = all(max(by_width[b]) < min(by_width[a]) for a, b in zip(widths, widths[1:]))
    return f if ok else None


def explain_value(probes, out: Variable, candidates: list[Variable], width_mode: bool, noisy: bool = False):
    """(mode, value var, vmap, indicator, factor) such that aggregating the value var over the selections
    gives `out` (times factor, for a variable whose scale is free), or None."""
    if width_mode:
        if out.kind != "numerical":
            return None
        pairs = [(vals[out.name][q], 1.0 / (len(keys) + 1)) for vals, sel in probes for q, keys in enumerate(sel, 1)]
        f = _factor(pairs, out.free_scale, noisy) or _soft_factor(pairs, out.free_scale) \
            or (_separated_factor(pairs, out.free_scale) if noisy else None)
        return None if f is None else ("width", None, {}, None, f)
    picks = []
    for v in candidates:
        if out.kind == "numerical":
            # a numerical value, or (a label-free residual may show numerical 0/1 flags as one block)
            # the indicator of one value of a categorical variable
            options = [None] if v.kind == "numerical" else list(v.values)
            for ind in options:
                pairs = _means(probes, out.name, v.name, ind)
                f = None if pairs is None else _factor(pairs, out.free_scale or (v.free_scale and ind is None), noisy)
                if f is not None:
                    return ("mean", v.name, {}, ind, f)
        elif out.kind == "categorical" and v.kind == "categorical":
            vmap: dict = {}
            ok = True
            for vals, sel in probes:
                for q, keys in enumerate(sel, 1):
                    got = vals[out.name][q]
                    held = {vals[v.name][k] for k in keys}
                    if not keys or held == {None}:  # nothing selected, or it holds no value
                        if got is not None:
                            ok = False
                    elif len(held) != 1 or got is None or vmap.setdefault(next(iter(held)), got) != got:
                        ok = False
                    if not ok:
                        break
                if not ok:
                    break
            if ok:
                ident = all(a == b for a, b in vmap.items())
                picks.append(("pick", v.name, {} if ident else vmap, None, 1.0))
    # a variable moved as it is before one whose values the head would rename: an aggregate keeps its
    # values (a renaming is a map, of another variable, that the pick would hide)
    return next((p for p in picks if not p[2]), picks[0] if picks else None)


def explain_head(probes, layer: int, head: int, written: list[Variable], available: list[Variable],
                 noisy: bool = False):
    """(HeadStep, None, factor) for one head, or (None, reason, None); factor: the written variable's
    values are factor times what the step computes (1 unless its scale is free). `noisy`: a number written
    is only near what the head computes (a compressed model)."""
    if not probes:
        return None, f"head {layer}.{head}: no attention patterns observed", None
    width_mode = all(bos for _, _, bos in probes)
    pr = [(vals, sel) for vals, sel, _ in probes]
    value = None
    for out in written:
        value = explain_value(pr, out, available, width_mode, noisy)
        if value:
            break
    if not value:
        return None, f"head {layer}.{head}: no variable written in layer {layer} is an aggregate of its selection", None
    cats = [v for v in available if _selectable(v, pr)]
    found = explain_selection(pr, layer, head, cats)
    if found is None:
        return None, f"head {layer}.{head}: no pair of variables explains its selection", None
    qn, kn, rule, table, others = found
    mode, vname, vmap, indicator, factor = value
    step = HeadStep(layer=layer, head=head, out=out.name, query=qn, key=kn, rule=rule,
                    table=table if rule == "table" else {}, mode=mode, value=vname, vmap=vmap, indicator=indicator,
                    alternatives=others)
    return step, None, factor


def computed(step: HeadStep, vals: dict, sel: list[list[int]]) -> Optional[list]:
    """What a numerical head step computes at positions 0..n of one probe (None at BOS): the selector width's
    1/(w+1), or the mean of its value (or of one value's indicator) over the selected keys."""
    if step.mode == "width":
        return [None] + [1.0 / (len(keys) + 1) for keys in sel]
    if step.mode != "mean" or step.value is None:
        return None
    xs = vals[step.value] if step.indicator is None else [1.0 if x == step.indicator else 0.0 for x in vals[step.value]]
    return [None] + [sum(xs[k] for k in keys) / len(keys) if keys else 0.0 for keys in sel]
