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
import random
import weakref
from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field

from tracr_agent.tools.suite.activations import hook_kind, resolve_hook
from tracr_agent.tools.suite.base import ToolContext, ToolError, tool

MAX_CLASSES = 12
"""A numerical property with at most this many values is fitted as categorical (a position, a count)."""
READABLE = 0.95
"""Held-out accuracy or R² from which the verdict is 'linearly readable'."""
KEEPS = 0.01
"""A reduced-rank probe keeps the full probe's score when within this much of it."""
RIDGE = 1e-6
"""Least-squares regularisation, relative to the mean feature variance: only against singular systems."""
_CACHE: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
"""Per subject: the activations of a sample (keyed by its size), an expression's values (by text and size)."""


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
    samples: int = Field(300, ge=20, le=2000, description="Inputs drawn from the domain (the same ones throughout a session); a quarter "
                                                          "is held out for the score.")
    kind: Literal["auto", "categorical", "numerical"] = Field(
        "auto", description="'auto': categorical unless every value is a number and there are more than 12.")


def _sample(subject, n: int, seed: int = 0) -> list[list]:
    """`n` inputs of the domain, drawn with the episode's `seed` (the same ones throughout a session)."""
    domain = subject.domain()
    return random.Random(seed).sample(domain, min(n, len(domain)))


def _activations(subject, inputs: list[list]) -> dict:
    """hook -> [input] -> [position, features] (float32) for every hook with one vector per position,
    from one forward pass per input length; kept per subject and sample, so later probes only fit."""
    import numpy as np
    import torch

    from tracr_agent.tools.subjects.subject import standard_hooks
    from tracr_agent.tools.subjects.transforms.forward import batches_by_length

    per_subject = _CACHE.setdefault(subject, {})
    if len(inputs) in per_subject:
        return per_subject[len(inputs)]
    names = {h for h in standard_hooks(subject.n_layers) if hook_kind(h) != "head_table"}
    out: dict = {h: [None] * len(inputs) for h in names | {"logits"}}
    with torch.no_grad(), subject.lock:
        for ids, idxs in batches_by_length(subject, inputs):
            logits, cache = subject.bridge.run_with_cache(ids, names_filter=lambda n: n in names)
            for h in out:
                acts = logits if h == "logits" else cache[h]
                acts = acts.reshape(acts.shape[0], acts.shape[1], -1).numpy().astype(np.float32)
                for row, i in zip(acts, idxs):
                    out[h][i] = row
    per_subject[len(inputs)] = out
    return out


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
    per_subject = _CACHE.setdefault(subject, {})
    if (text, len(inputs)) in per_subject:  # one sandbox run per expression and sample
        return per_subject[(text, len(inputs))]
    from tracr_agent.tools.sandbox.runner import run_implementation  # untrusted code: only in the sandbox

    source = f"def f(tokens):\n    return [({text}) for i in range(len(tokens))]\n"
    result = run_implementation(source, inputs)
    if result.outputs is None or result.failed:
        raise ToolError(f"the property expression failed: {result.error}; where it has no value let it give "
                        "None, e.g. 'tokens[i+1] if i+1 < len(tokens) else None'")
    per_subject[(text, len(inputs))] = result.outputs
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


@tool("probe", ProbeArgs)
def probe(subject, ctx: ToolContext, args: ProbeArgs) -> str:
    """Fit a linear probe at a hook (and positions) to a property of the input — the token at the position, the position, or a Python expression over (tokens, i) — on a sample of the domain; report the held-out accuracy (or R²) and how many directions it needed."""
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
    inputs = _sample(subject, args.samples, ctx.seed)
    values = _property_values(subject, args.property, inputs)
    acts = _activations(subject, inputs)[hook]
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
    if len(distinct) < 2:
        return f"the property has one value on every sampled position ({distinct[0][1]!r}): nothing to probe"
    X = np.array([r[1] for r in rows], dtype=np.float64)
    if categorical:
        index = {k: j for j, k in enumerate(distinct)}
        Y = np.zeros((len(rows), len(distinct)))
        Y[np.arange(len(rows)), [index[(type(v).__name__, v)] for _, _, v in rows]] = 1.0
    else:
        Y = np.array([[float(v)] for _, _, v in rows])
    held = np.array([r[0] for r in rows])
    if held.all() or not held.any():
        raise ToolError("too few sampled inputs to hold some out: raise samples")
    W, b, mean = _fit(X[~held], Y[~held])
    full = _score(categorical, X[held] @ W + b, Y[held])
    by_rank = []
    for rank in range(1, min(W.shape) + 1):
        by_rank.append(_score(categorical, X[held] @ _reduced(W, X[~held], mean, rank) + b, Y[held]))
        if by_rank[-1] >= full - KEEPS:
            break
    where = "every token position" if positions is None else "positions " + ", ".join(map(str, sorted(positions)))
    what = (f"{len(distinct)} values, categorical" if categorical else "numerical")
    lines = [f"probe at {hook}, {where}; property {args.property.strip()} ({what})",
             f"fit on {int((~held).sum())} positions of {held_from} inputs, scored on {int(held.sum())} held-out "
             f"positions of {len(inputs) - held_from} inputs (a fixed sample of the domain)"]
    if categorical:
        common = float(Y[held].mean(0).max())
        lines.append(f"held-out accuracy {100 * full:.1f}% (always guessing the most common value: {100 * common:.1f}%)")
    else:
        lines.append(f"held-out R² {full:.3f}")
    if full < READABLE:
        lines.append("verdict: not linearly readable here (held-out "
                     + (f"accuracy below {100 * READABLE:g}%)" if categorical else f"R² below {READABLE:g})"))
        return "\n".join(lines)
    steps = ", ".join(f"rank {k}: {100 * s:.1f}%" if categorical else f"rank {k}: R² {s:.3f}"
                      for k, s in enumerate(by_rank, 1))
    lines.append(f"directions needed: {len(by_rank)} of {X.shape[1]} ({steps})")
    lines.append("verdict: linearly readable here")
    return "\n".join(lines)
