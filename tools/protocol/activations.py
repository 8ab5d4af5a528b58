"""get_activations' machine-readable format (`format: "json"`) and its reader.

The reply: `{"hooks": [...], "residual_labels": [...] (when a residual hook is read), "inputs":
[{"input": [...], "acts": {hook: sparse}}]}`, where `sparse` is the activation as nested lists and,
at the last axis, only the non-zero entries as [index, value] pairs, or every entry as a plain number
when that is shorter (4 decimals; whole numbers as ints; `entries` reads either). An input read at
some positions only also has `"positions": [...]`: its activations hold those rows (an attention
table's queries), in that order. `dense` turns one back into an array; `dense_at` places the rows read
at their positions.
"""

from __future__ import annotations

import json


def number(v: float):
    """4 decimals; a whole number as an int (most entries are exactly 1: '1' instead of '1.0')."""
    v = round(v, 4)
    return int(v) if v == int(v) else v


def sparse(x) -> list:
    """Nested lists of a tensor; at the last axis [[index, value], …] of the non-zero entries, or every
    entry as a plain number where that is shorter (a vector in a basis nobody chose is dense: pairs
    would spend most of its characters on indices)."""
    if x.dim() == 1:
        values = [number(v) for v in x.tolist()]
        pairs = [[j, v] for j, v in enumerate(values) if v != 0]
        return values if len(reply(values)) < len(reply(pairs)) else pairs
    return [sparse(row) for row in x]


def entries(row: list) -> list:
    """A last-axis row as [(index, value)] of its non-zero entries, whichever form `sparse` chose."""
    if row and not isinstance(row[0], list):
        return [(j, v) for j, v in enumerate(row) if v != 0]
    return [(j, v) for j, v in row]


def reply(out: dict) -> str:
    return json.dumps(out, separators=(",", ":"))


def payload(text: str) -> dict:
    return json.loads(text)


PER_HEAD_TAILS = ("attn.hook_q", "attn.hook_k", "attn.hook_v", "attn.hook_z")


def dense(sp, hook: str, n_pos: int, d_model: int, d_head: int = 0, d_mlp: int = 0) -> np.ndarray:
    """A hook's sparse activation as an array: [heads, queries, keys] for attention patterns,
    [positions, heads, d_head] for a head's query, key, value or output (d_head: at least the largest
    index read), [positions, d_mlp] for an MLP's hidden activations, [positions, d_model] for the
    residual stream and what writes to it."""
    import numpy as np  # here, not at the top: the viewer reads payloads without numpy

    if hook.endswith(PER_HEAD_TAILS):
        width = max([d_head] + [j + 1 for pos in sp for head in pos for j, _ in entries(head)])
        out = np.zeros((len(sp), max((len(pos) for pos in sp), default=0), width))
        for p, pos in enumerate(sp):
            for h, row in enumerate(pos):
                for j, v in entries(row):
                    out[p, h, j] = v
        return out
    if hook.endswith("hook_pattern"):
        out = np.zeros((len(sp), n_pos, n_pos))
        for h, rows in enumerate(sp):
            for q, row in enumerate(rows):
                for k, v in entries(row):
                    out[h, q, k] = v
        return out
    width = d_model
    if hook.endswith(("mlp.hook_pre", "mlp.hook_post")):
        width = max([d_mlp] + [j + 1 for row in sp for j, _ in entries(row)])
    out = np.zeros((len(sp), width))
    for p, row in enumerate(sp):
        for j, v in entries(row):
            out[p, j] = v
    return out


def dense_at(sp, hook: str, rows: list[int], n_pos: int, d_model: int, d_head: int = 0, d_mlp: int = 0) -> np.ndarray:
    """`dense` of an activation read at some positions only (`rows`), with every row at its position and
    zeros at the positions not read: [positions, ...], or [heads, queries, keys] for a pattern."""
    import numpy as np

    part = dense(sp, hook, n_pos, d_model, d_head, d_mlp)
    if hook.endswith("hook_pattern"):
        out = np.zeros_like(part)
        out[:, rows] = part[:, : len(rows)]
        return out
    out = np.zeros((n_pos, *part.shape[1:]))
    out[rows] = part
    return out
