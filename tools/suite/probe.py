"""probe: is a property of the input linearly readable at a hook, and in how many directions?

A linear probe is fitted to the activations of one hook at the chosen positions, over a
seeded sample of the subject's input domain, to a property the caller names: the token
at the position read, the position itself, or a Python expression over `(tokens, i)`
(evaluated in the sandbox, tools/sandbox/runner.py). A quarter of the sampled
inputs is held out. A categorical property (not all numbers, or at most
MAX_CLASSES values) is fitted by least squares onto one-hot targets and read by argmax
(held-out accuracy, beside always guessing the most common value); a numerical one by
least squares (held-out R²). The directions it needs are the smallest rank of the
reduced-rank probe (the full probe's fitted values, projected on their top singular
directions) that keeps the held-out score. Nothing here depends on a residual basis:
the probe reads labelled, raw, rotated and compressed subjects alike.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field

from tracr_agent.tools.suite.activations import hook_kind, resolve_hook
from tracr_agent.tools.suite.base import ToolContext, ToolError, tool
from tracr_agent.tools.suite.sample import DEFAULT_SAMPLES, per_subject, sample_activations, sample_inputs

MAX_CLASSES = 12
"""A numerical property with at most this many values is fitted as categorical (a position, a count)."""
READABLE = 0.95
"""Held-out accuracy or R² from which the verdict is 'linearly readable'."""
READS_AT = 0.5
"""A categorical probe reads a value where that value's score is at least this (its targets are one-hot)."""
KEEPS = 0.01
"""A reduced-rank probe keeps the full probe's score when within this much of it."""
RIDGE = 1e-6
"""Least-squares regularisation, relative to the mean feature variance: only against singular systems."""


class ProbeArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    hook: str = Field(description="A hook with one vector per position, e.g. blocks.1.hook_resid_mid, "
                                  "blocks.0.hook_mlp_out, blocks.1.mlp.hook_post (see list_hooks).")
    property: str = Field(description="What to read: 'token' (the token at the position read), 'position' (the "
                                      "position read, 1..n), or a Python expression over tokens (the input, BOS "
                                      "excluded) and i (the index in tokens of the position read: position i+1), "
                                      "e.g. 'tokens[0]', 'len(set(tokens[:i+1]))', 'sorted(tokens)[i]'. "
                                      "Positions where it gives None are left out.")
    positions: Optional[list[int]] = Field(None, description="Positions to read (1..n; 0 is BOS and holds no "
                                                             "property); default every token position.")
    samples: int = Field(DEFAULT_SAMPLES, ge=20, le=2000, description="Inputs drawn from the domain (always the same "
                                                                      "ones); a quarter is held out for the score.")
    kind: Literal["auto", "categorical", "numerical"] = Field(
        "auto", description="'auto': categorical unless every value is a number and there are more than 12.")


def _property_values(subject, spec: str, inputs: list[list]) -> list[list]:
    """[input][index in tokens] -> the property's value (None: left out)."""
    text = spec.strip()
    if text == "token":
        return [list(x) for x in inputs]
    if text == "position":
        return [list(range(1, len(x) + 1)) for x in inputs]
    try:
        ast.parse(text, mode="eval")
    except SyntaxError as e:
        raise ToolError(f"property must be 'token', 'position' or a Python expression over (tokens, i); "
                        f"{text!r} is not one ({e.msg})") from None
    cache = per_subject(subject)
    key = ("property", text, tuple(map(tuple, inputs)))  # one sandbox run per expression and sample
    if key in cache:
        return cache[key]
    from tracr_agent.tools.sandbox.runner import run_implementation  # untrusted code: only in the sandbox

    source = f"def f(tokens):\n    return [({text}) for i in range(len(tokens))]\n"
    result = run_implementation(source, inputs)
    if result.outputs is None or result.failed:
        raise ToolError(f"the property expression failed: {result.error}; where it has no value let it give "
                        "None, e.g. 'tokens[i+1] if i+1 < len(tokens) else None'")
    cache[key] = result.outputs
    return result.outputs


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _fit(X, Y):
    """Least squares X W ≈ Y with an intercept: (W [dim, out], intercept [out], feature mean)."""
    import numpy as np

    mean = X.mean(0)
    Xc = X - mean
    ridge = RIDGE * max(float((Xc ** 2).mean()), 1e-12) * len(X)
    W = np.linalg.solve(Xc.T @ Xc + ridge * np.eye(X.shape[1]), Xc.T @ (Y - Y.mean(0)))
    return W, Y.mean(0) - mean @ W, mean


def _reduced(W, X, mean, rank: int):
    """The rank-`rank` probe: W projected on the top singular directions of its fitted values."""
    import numpy as np

    _, _, Vt = np.linalg.svd((X - mean) @ W, full_matrices=False)
    return W @ Vt[:rank].T @ Vt[:rank]


def _score(categorical: bool, pred, truth) -> float:
    import numpy as np

    if categorical:
        return float((pred.argmax(1) == truth.argmax(1)).mean())
    total = float(((truth - truth.mean()) ** 2).sum())
    return 1.0 - float(((pred - truth) ** 2).sum()) / total


@dataclass
class ProbeFit:
    """A fitted probe: what `probe` reports and what `project` projects onto."""

    hook: str
    where: str
    """'every token position' or 'positions 1, 2'."""
    categorical: bool
    classes: list
    """The property's values (categorical), in the order of W's columns; [] for a numerical property."""
    W: Any
    """[features, classes] (or [features, 1]): the rank-`rank` probe, the directions it needed."""
    b: Any
    full: float
    """Held-out accuracy or R² of the full probe."""
    by_rank: list
    """Held-out score of the rank-1, rank-2, … probes, up to the first that keeps the full probe's."""
    n_features: int
    n_fit: int
    n_scored: int
    fit_inputs: int
    scored_inputs: int
    common: float = 0.0
    """Categorical: the held-out share of the most common value."""
    single: Any = None
    """The one value the property has everywhere (nothing to fit), else None."""

    @property
    def readable(self) -> bool:
        return self.full >= READABLE

    @property
    def rank(self) -> int:
        return len(self.by_rank)


def fit_probe(subject, ctx: ToolContext, args: ProbeArgs) -> ProbeFit:
    """The probe `args` describe, fitted on the sample (ToolError for a call that cannot be fitted)."""
    import numpy as np

    hook = resolve_hook(subject, ctx, args.hook)
    if hook_kind(hook) == "head_table":
        raise ToolError(f"{hook} holds one row per query and key, not one vector per position; probe "
                        f"{hook.rsplit('.', 2)[0]}.hook_z or a residual hook instead")
    positions = set(args.positions) if args.positions is not None else None
    if positions is not None:
        bad = sorted(p for p in positions if not 1 <= p <= subject.max_seq_len)
        if not positions or bad:
            raise ToolError(f"positions must be some of 1..{subject.max_seq_len} (0 is BOS and holds no property), "
                            f"got {args.positions}")
    inputs = sample_inputs(subject, args.samples, ctx.seed)
    values = _property_values(subject, args.property, inputs)
    acts = sample_activations(subject, inputs, ctx.seed)[hook]
    held_from = len(inputs) - max(1, len(inputs) // 4)
    rows: list = []  # (held out?, vector, value)
    for n, (x, vals) in enumerate(zip(inputs, values)):
        for i, v in enumerate(vals):
            if v is not None and (positions is None or i + 1 in positions):
                rows.append((n >= held_from, acts[n][i + 1], v))
    if not rows:
        raise ToolError("no sampled position has a value for this property (it gave None everywhere asked)")
    distinct = sorted({(type(v).__name__, v) for _, _, v in rows}, key=repr)
    numbers = all(_is_number(v) for _, _, v in rows)
    categorical = args.kind == "categorical" or (args.kind == "auto" and not (numbers and len(distinct) > MAX_CLASSES))
    if not categorical and not numbers:
        raise ToolError("kind 'numerical' needs a property whose every value is a number")
    where = "every token position" if positions is None else "positions " + ", ".join(map(str, sorted(positions)))
    X = np.array([r[1] for r in rows], dtype=np.float64)
    held = np.array([r[0] for r in rows])
    fit = ProbeFit(hook, where, categorical, [v for _, v in distinct] if categorical else [], None, None, 0.0, [],
                   X.shape[1], int((~held).sum()), int(held.sum()), held_from, len(inputs) - held_from)
    if len(distinct) < 2:
        fit.single = distinct[0][1]
        return fit
    if categorical:
        index = {k: j for j, k in enumerate(distinct)}
        Y = np.zeros((len(rows), len(distinct)))
        Y[np.arange(len(rows)), [index[(type(v).__name__, v)] for _, _, v in rows]] = 1.0
    else:
        Y = np.array([[float(v)] for _, _, v in rows])
    if held.all() or not held.any():
        raise ToolError("too few sampled inputs to hold some out: raise samples")
    W, b, mean = _fit(X[~held], Y[~held])
    fit.full = _score(categorical, X[held] @ W + b, Y[held])
    fit.W, fit.b = W, b
    for rank in range(1, min(W.shape) + 1):
        reduced = _reduced(W, X[~held], mean, rank)
        fit.by_rank.append(_score(categorical, X[held] @ reduced + b, Y[held]))
        if fit.by_rank[-1] >= fit.full - KEEPS:
            fit.W = reduced
            break
    if categorical:
        fit.common = float(Y[held].mean(0).max())
    return fit


@tool("probe", ProbeArgs)
def probe(subject, ctx: ToolContext, args: ProbeArgs) -> str:
    """Fit a linear probe at a hook (and positions) to a property of the input — the token at the position, the position, or a Python expression over (tokens, i) — on a sample of the domain; report the held-out accuracy (or R²) and how many directions it needed."""
    fit = fit_probe(subject, ctx, args)
    if fit.single is not None:
        return f"the property has one value on every sampled position ({fit.single!r}): nothing to probe"
    categorical = fit.categorical
    what = (f"{len(fit.classes)} values, categorical" if categorical else "numerical")
    lines = [f"probe at {fit.hook}, {fit.where}; property {args.property.strip()} ({what})",
             f"fit on {fit.n_fit} positions of {fit.fit_inputs} inputs, scored on {fit.n_scored} held-out "
             f"positions of {fit.scored_inputs} inputs (a fixed sample of the domain)"]
    if categorical:
        lines.append(f"held-out accuracy {100 * fit.full:.1f}% (always guessing the most common value: "
                     f"{100 * fit.common:.1f}%)")
    else:
        lines.append(f"held-out R² {fit.full:.3f}")
    if not fit.readable:
        lines.append("verdict: not linearly readable here (held-out "
                     + (f"accuracy below {100 * READABLE:g}%)" if categorical else f"R² below {READABLE:g})"))
        return "\n".join(lines)
    steps = ", ".join(f"rank {k}: {100 * s:.1f}%" if categorical else f"rank {k}: R² {s:.3f}"
                      for k, s in enumerate(fit.by_rank, 1))
    lines.append(f"directions needed: {fit.rank} of {fit.n_features} ({steps})")
    lines.append("verdict: linearly readable here")
    return "\n".join(lines)
