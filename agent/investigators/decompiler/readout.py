"""What the unembedding reads: which variable the output is, and which output value each of its values is.

With decoded outputs (`run_model`, in `full`) this is read, not assumed: the output at every position
read is a function of some decompiled variable(s) there, found like an MLP's inputs (a table over
their values, or an exact linear formula for a numerical output), and becomes the program's last
step, the `Readout`. That holds whatever the model's conventions: its columns in any order, columns
no value uses, values with no column (no output), another variable read than the last one written.

Without them (`whitebox`) the output variable is inferred (decompiler/analysis.py) and its values
named by what can be known: names carried along by the steps that move values (a head picking
tokens holds tokens), or, where the basis is tracr's own, the order of its dimensions, which tracr
sorts like the output values. Anything else is a guess, and says so (`whitebox_map`'s second value):
a rotated basis keeps no order.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from itertools import combinations
from typing import Optional

import numpy as np

from tracr_agent.agent.investigators.decompiler.mlps import key_of
from tracr_agent.agent.investigators.decompiler.program import HeadStep, MlpStep
from tracr_agent.agent.investigators.decompiler.observations import hook_kind
from tracr_agent.tools.subjects.compare import value_equal, within

OUTPUT = "output"
MAX_INPUTS = 2
COEF_DENOMINATOR = 1000
COEF_SNAP = 1e-4


@dataclass
class Readout(MlpStep):
    """The unembedding as the program's last step: the output as a function of the variable(s) it reads."""

    @property
    def where(self) -> str:
        return "the unembedding"


# -- with decoded outputs ---------------------------------------------------------------------------

def read_outputs(dec, outputs: dict[tuple, list], info: dict) -> Optional[Readout]:
    """The readout that reproduces every decoded output observed on an input whose variables were read,
    preferring the output variable the program names, then the variables written last; None when no
    variable (or pair) at the same position determines the output."""
    numerical = bool(info.get("numerical"))
    rows = []
    for x, vals in dec.values.items():
        ys = outputs.get(tuple(x))
        if ys is None:
            continue
        for p, y in enumerate(ys, 1):
            rows.append(({n: v[p] for n, v in vals.items()}, y))
    if not rows:
        return None
    names = [v.name for v in dec.variables]
    order = sorted(names, key=lambda n: (n != dec.program.output, -dec.stages.get(n, 0), n))
    for size in range(1, MAX_INPUTS + 1):
        for combo in combinations(order, size) if size > 1 else [(n,) for n in order]:
            step = _fit(rows, combo, numerical, info["n_layers"])
            if step is not None:
                return step
    return None


def _fit(rows, names: tuple[str, ...], numerical: bool, n_layers: int) -> Optional[Readout]:
    if numerical and all(all(isinstance(r[n], (int, float)) and not isinstance(r[n], bool) for r, _ in rows)
                         for n in names):
        X = np.array([[float(r[n]) for n in names] + [1.0] for r, _ in rows])
        y = np.array([float(v) if v is not None else np.nan for _, v in rows])
        if not np.any(np.isnan(y)):
            coef = [_exact(c) for c in np.linalg.lstsq(X, y, rcond=None)[0]]
            if np.all(within(X @ np.array(coef), y)):
                return Readout(n_layers, OUTPUT, list(names), linear=coef, default=0.0)
    table: dict = {}
    for r, y in rows:
        k = key_of(tuple(r[n] for n in names))
        if k in table and not value_equal(table[k], y, numerical):
            return None
        table.setdefault(k, y)
    return Readout(n_layers, OUTPUT, list(names), table=table, default=0.0 if numerical else None)


def _exact(c: float) -> float:
    """A least-squares coefficient as the simple fraction it is when that close to one (outputs are
    printed at 4 decimals, so a fitted 1.000004 is 1)."""
    c = float(c)
    f = float(Fraction(c).limit_denominator(COEF_DENOMINATOR))
    return f if within(f, c, COEF_SNAP) else c


# -- without decoded outputs ------------------------------------------------------------------------

def whitebox_map(dec, info: dict, obs) -> tuple[dict, str]:
    """(output variable value -> output value, why the map is a guess or "" when it is not) for a
    categorical output found without labels; ({}, "") when the values are the output's already."""
    prog = dec.program
    var = next((v for v in dec.variables if v.name == prog.output), None)
    values = list(info.get("output_values") or [])
    if var is None:
        return {}, "no output variable was found"
    if info.get("numerical"):
        return {}, ("the output's scale is not known without decoded outputs" if var.free_scale else "")
    if not values:
        return {}, ""
    observed = sorted({v for vals in dec.values.values() for v in vals.get(var.name, [])[1:] if v is not None},
                      key=repr)
    named = names_of(prog, var.name, dec)
    listed = {repr(v): v for v in values}
    columns: dict = {}
    if named and all(v in named for v in observed):
        # a named value with no listed column decodes as no value (`.get` gives None), as with labels
        columns = {v: listed[repr(named[v])] for v in observed if repr(named[v]) in listed}
        if len(columns) == len(observed):
            return columns, ""
    found = next((f for f in getattr(dec, "found", None) or [] if f.var.name == var.name), None)
    dims = _dims(found)
    if dims is not None:
        # a categorical variable's values are its ordinals; one read as a number holds one value
        keys = [found.names[i] for i in range(len(dims))] if var.kind == "categorical" else \
            [v for v in observed if v not in (0, 0.0)][:1]
        if len(keys) == len(dims):
            by_dims = _by_dims(dims, keys, _sorted(values), obs, info)
            # names only partly listed (a width carried through a map the program folded away) are
            # weaker evidence than tracr's sorted dimensions, when those place the values in one way
            if not columns or (by_dims[0] and not by_dims[1]):
                return by_dims
    if len(columns) * 2 > len(observed):
        return columns, ""
    order = _sorted(values)
    if var.kind == "categorical" and len(var.values) == len(order):
        return dict(zip(var.values, order)), "the output's values were matched to its clusters in no known order"
    return {}, "the output variable's values could not be named"


def labelled_map(dec, info: dict) -> dict:
    """For an output variable named by labels: {value: output value} when some value it holds has no
    column among the listed output values (that value decodes as no value: `.get` gives None), else {}."""
    var = next((v for v in dec.variables if v.name == dec.program.output), None)
    listed = {repr(v): v for v in info.get("output_values") or []}
    if var is None or var.kind != "categorical" or not listed:
        return {}
    held = [v for v in var.values if v is not None and v != "BOS"]
    if all(repr(v) in listed for v in held):
        return {}
    return {v: listed[repr(v)] for v in held if repr(v) in listed}


def readout_unseen(dec, info: dict) -> str:
    """Without decoded outputs: why the unembedding's reading of the output variable is an assumption
    the listed output values do not confirm, or "" when they do: the variable the program ends in
    (written, read by no step), each of its values a listed column."""
    prog = dec.program
    var = next((v for v in dec.variables if v.name == prog.output), None)
    if var is None:
        return "no output variable was found"
    if info.get("numerical"):
        return "the output is taken to be the variable's value as it is: its scale and offset in the unembedding are not observed"
    if prog.output not in {s.out for s in prog.steps}:
        return "the output is taken to be an input variable, whose values the output lists"
    if prog.output in _read(prog):
        return "the output is taken to be a variable later steps read (the one the program ends in holds other values)"
    if dec.found:  # found without labels: its values are named by `whitebox_map`, which says when that is a guess
        observed = {v for vals in dec.values.values() for v in vals.get(var.name, [])[1:] if v is not None}
        if prog.output_map and not observed <= set(prog.output_map):
            return "some of the output variable's values have no listed column: they are taken to decode as no value"
        named = names_of(prog, var.name, dec)
        if prog.output_map and any(repr(prog.output_map[v]) != repr(named[v]) for v in observed
                                   if v in named and v in prog.output_map):
            # tracr's sorted dims placed them; the values the program computes say otherwise (a map folded
            # away, or a column the unembedding dropped): only decoded outputs tell which
            return ("the output's values are placed by the residual's dimensions, where the values the program "
                    "computes would name them otherwise")
        every = {"tokens": info.get("vocab"), "indices": range(info.get("max_seq_len", 0))}.get(_carries(prog, var.name))
        listed = {repr(v) for v in info.get("output_values") or []}
        if every is not None and listed and {repr(v) for v in every} != listed:
            # a variable that carries the input tokens (or positions) holds every one of them
            return "the output variable carries the input's values, and the listed columns are other values"
        return ""
    listed = list(info.get("output_values") or [])
    held = [v for v in var.values if v is not None and v != "BOS"]
    if not {repr(v) for v in held} <= {repr(v) for v in listed}:  # columns no value uses decode nothing
        return (f"the output variable holds {len(held)} values and the output lists {len(listed)}: which value each "
                "column decodes is assumed")
    return ""


def _carries(prog, name: str):
    """'tokens' or 'indices' when `name` is that variable or is picked from it by a chain of heads (each
    value written its own point: a one-to-one renaming); else None."""
    seen: set[str] = set()
    while name not in ("tokens", "indices") and name not in seen:
        seen.add(name)
        step = next((s for s in prog.steps if s.out == name), None)
        if not isinstance(step, HeadStep) or step.mode != "pick" or not step.value or \
                len(set(map(repr, step.vmap.values()))) != len(step.vmap):
            return None
        name = step.value
    return name if name in ("tokens", "indices") else None


def _read(prog) -> set[str]:
    """The variables some step reads."""
    out: set[str] = set()
    for st in prog.steps:
        out |= {st.query, st.key, st.value} if isinstance(st, HeadStep) else set(st.inputs)
    return out


def names_of(prog, name: str, dec) -> dict:
    """Value -> the input value it carries, for a variable a chain of heads picks from tokens or indices."""
    if name in ("tokens", "indices"):
        return {v: v for vals in dec.values.values() for v in vals.get(name, [])[1:] if v is not None}
    step = next((s for s in prog.steps if s.out == name), None)
    if isinstance(step, MlpStep):
        return widths(prog, step)
    if not isinstance(step, HeadStep) or step.mode != "pick" or not step.value:
        return {}
    below = names_of(prog, step.value, dec)
    if not below:
        return {}
    if not step.vmap:
        return below
    out = {}
    for held, written in step.vmap.items():
        if held in below and out.setdefault(written, below[held]) != below[held]:
            return {}
    return out


def widths(prog, step: MlpStep) -> dict:
    """Value -> the selector width it stands for, for an MLP whose one input is a selector-width head's
    fraction 1/(w+1) and whose table gives each width its own value: the second half of tracr's
    SelectorWidth, which writes the width as a categorical value."""
    src = next((s for s in prog.steps if s.out == (step.inputs or [None])[0]), None)
    if len(step.inputs) != 1 or step.linear is not None or not isinstance(src, HeadStep) or src.mode != "width":
        return {}
    out: dict = {}
    for frac, value in step.table.items():
        if not isinstance(frac, (int, float)) or isinstance(frac, bool) or not 0 < frac <= 1:
            return {}
        w = int(round(1 / frac - 1))
        if out.setdefault(value, w) != w:
            return {}
    return out if len(set(out.values())) == len(out) else {}


def _dims(found) -> Optional[list[int]]:
    """The residual dimension of each value, when the variable's points are tracr's one-hot ones (a
    point mixing two values counts as the one it mostly is)."""
    if found is None:
        return None
    if found.centres is not None:
        pts = [found.centres[j] for j in found.dominant]
    elif found.direction is not None:
        pts = [found.direction]
    else:
        return None
    dims = [int(np.argmax(p)) for p in pts]
    pure = {j for p, j in zip(pts, dims) if p[j] >= 0.6 and np.all(p > -0.05)}
    return dims if set(dims) <= pure else None


def _by_dims(dims: list[int], keys: list, values: list, obs, info: dict) -> tuple[dict, str]:
    """Values in the order of their dimensions, over a window of as many dimensions as the output has
    values that holds the variable's and otherwise only dimensions never seen holding anything (values
    never observed)."""
    n, d = len(values), info["d_model"]
    used = set()  # every dimension any read of the residual stream or of a write to it shows holding something
    for acts in obs.acts.values():
        for hook, a in acts.items():
            if hook_kind(hook) in ("resid", "component", "embedding") and a.ndim == 2 and a.shape[1] == d:
                used |= set(np.nonzero(np.any(np.abs(a) > 0.02, axis=0))[0].tolist())
    mine = set(dims)
    windows = [list(range(s, s + n)) for s in range(max(0, max(dims) - n + 1), min(dims) + 1)
               if s + n <= d and all(j in mine or j not in used for j in range(s, s + n))]
    if not windows:
        return {}, "the output variable has more values than the output"
    # tracr packs variables into adjacent blocks: a window whose ends meet another variable's dimensions
    # (or the ends of the residual stream) is likelier than one that leaves unused dimensions beside it
    def fit(w):
        return (w[0] == 0 or w[0] - 1 in used) + (w[-1] == d - 1 or w[-1] + 1 in used)
    best = max(fit(w) for w in windows)
    windows = [w for w in windows if fit(w) == best]
    w = windows[0]
    omap = {key: values[w.index(j)] for key, j in zip(keys, dims)}
    guess = "" if len(windows) == 1 else "the output's values were aligned with its dimensions in one of several ways"
    return omap, guess


def _sorted(values: list) -> list:
    try:
        return sorted(values)
    except TypeError:
        return list(values)
