"""Finding the variables of a model whose residual stream is unlabelled, from activations alone.

No residual basis is trusted: a variable is what one component writes, and its values are the
distinct points it writes (decompiler/writes.py gives every component's writes on every input read).
Each attention head and each MLP layer writes one variable (a layer with several heads is split by
its heads' outputs, `attn.hook_z`, each in its own value space):
- the points it writes at the token positions, the zero vector left out, are found up to the json's
  precision; when they all lie on one line through the origin the variable is numerical, its value
  the coordinate along that line (a unit vector: a rotation keeps the scale; in an unrotated basis
  the line is a residual dimension and the coordinate is what the dimension holds);
- otherwise it is categorical: its values are the clusters of points (the zero vector is no value),
  numbered in the order of their coordinates, so that in tracr's own basis, where a categorical
  variable is one-hot and its values sorted, the numbers follow the values' order.
`tokens` and `indices` are the input token and its position. A numerical variable's scale is only
known up to a factor when the basis is not privileged: the head explaining it may fix it
(`Variable.free_scale`, decompiler/analysis.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Optional

import numpy as np

from tracr_agent.agent.investigators.decompiler.heads import selections
from tracr_agent.agent.investigators.decompiler.observations import Observations
from tracr_agent.agent.investigators.decompiler.variables import Variable
from tracr_agent.agent.investigators.decompiler.writes import Writes
from tracr_agent.tools.protocol.hooks import attn_pattern, attn_z
from tracr_agent.tools.subjects.compare import CLUSTER_TOL, LINE_TOL, NOISY_CLUSTER_TOL, WRITE_ZERO_TOL, within

SAME_POINT = 0.02
"""Two writes closer than this (relative to the largest write) are the same point, up to the json's
4 decimals and soft attention's leakage."""
NUM_SNAP = 5e-4
"""A numerical value within this of a fraction with a denominator up to SNAP_DENOMINATOR is that
fraction, the smallest denominator first: tracr's numbers are such fractions (means, 1/(w+1)), read
back through a rotation of a dense residual printed at 4 decimals (errors up to ~3e-4 seen on
d_model ≈ 30); fractions with denominators up to 8 lie ≥ 1/56 apart, so the first found is the one."""
SNAP_DENOMINATOR = 32


@dataclass
class Found:
    """A variable found in one component's writes, and how its value is read from a write."""
    var: Variable
    source: str
    """The component ('attn1', 'mlp2') or, for a layer with several heads, 'z1.0' (head 0 of layer 1)."""
    stage: int
    centres: Optional[np.ndarray] = None
    """Categorical: its distinct points, one per value (ordinal)."""
    dominant: list = field(default_factory=list)
    """Categorical: for each value, the value whose point is most of it (itself unless its point is a
    mixture of others: what the model decodes it as)."""
    direction: Optional[np.ndarray] = None
    scale: float = 1.0
    names: dict = field(default_factory=dict)
    """Categorical: the value each centre (by its index) is read as; renamed when a head names or orders them."""
    noisy: bool = False
    """Compressed (overlapping write subspaces): a write is read as the nearest of its centres and the zero
    vector (no value), not by a fixed tolerance."""


@dataclass
class Discovered:
    variables: list[Variable]
    stages: dict[str, int]
    values: dict[tuple, dict[str, list]] = field(default_factory=dict)
    """input -> variable -> value at positions 0..n (BOS: None)."""
    found: list[Found] = field(default_factory=list)


def head_sources(info: dict) -> list[tuple[str, int, Optional[int]]]:
    """(source, layer, head or None) of every head's variable: the layer's attention output for a
    layer with one non-empty head, the head's own output (hook_z) for a layer with several."""
    out = []
    for layer in range(info["n_layers"]):
        hs = sorted(h for l, h in info["heads"] if l == layer)
        if len(hs) == 1:
            out.append((f"attn{layer}", layer, None))
        else:
            out += [(f"z{layer}.{h}", layer, h) for h in hs]
    return out


def multi_head_layers(info: dict) -> list[int]:
    """Layers whose heads are told apart by their own outputs (attn.hook_z)."""
    return sorted({layer for s, layer, h in head_sources(info) if h is not None})


def discover(info: dict, obs: Observations, writes: Writes) -> Discovered:
    """Variables, their stages and their values on every input whose writes are known."""
    inputs = [x for x in writes.by_input if all(obs.has(x, attn_z(l)) for l in multi_head_layers(info))]
    rows_of: dict[str, list[np.ndarray]] = {}
    nothing: dict[str, list[Optional[np.ndarray]]] = {}  # noisy: per input, the queries selecting nothing
    sources: list[tuple[str, int, str]] = []  # (source, stage, variable name)
    for src, layer, head in head_sources(info):
        name = f"h{layer}_{head if head is not None else _only_head(info, layer)}"
        sources.append((src, 2 * layer + 1, name))
        for x in inputs:
            rows_of.setdefault(src, []).append(_rows(obs, writes, x, src, layer, head))
        h = head if head is not None else _only_head(info, layer)
        if writes.noisy and not _width_head(obs, inputs, layer, h):
            _remove_null(rows_of.get(src) or [], [_empty(obs, x, layer, h) for x in inputs])
            nothing[src] = [_empty(obs, x, layer, h, NOTHING_SHARE) for x in inputs]
    for layer in info["mlps"]:
        sources.append((f"mlp{layer}", 2 * layer + 2, f"m{layer}"))
        for x in inputs:
            rows_of.setdefault(f"mlp{layer}", []).append(writes.of(x)[f"mlp{layer}"][1:])
    toks = Variable("tokens", "categorical", (), tuple(_sorted(info["vocab"])))
    idx = Variable("indices", "categorical", (), tuple(range(info["max_seq_len"])))
    out = Discovered([toks, idx], {"tokens": 0, "indices": 0})
    for x in inputs:
        out.values[x] = {"tokens": [None, *x], "indices": [None, *range(len(x))]}
    for src, stage, name in sources:
        rows = rows_of.get(src) or []
        if not rows:
            continue
        skip = nothing.get(src) or [None] * len(rows)
        # a query that selects nothing writes no value, however far its leaky attention carries the write
        kept = [r[~e] if e is not None and len(e) == len(r) else r for r, e in zip(rows, skip)]
        found = _variable(name, src, stage, np.vstack(kept) if any(len(k) for k in kept) else np.vstack(rows),
                          writes.noisy)
        out.variables.append(found.var)
        out.found.append(found)
        out.stages[name] = stage
        for x, r, e in zip(inputs, rows, skip):
            out.values[x][name] = [None] + [None if e is not None and len(e) == len(r) and e[p]
                                            and found.centres is not None else read(found, w)
                                            for p, w in enumerate(r)]
    return out


NULL_SHARE = 0.9
"""A query giving BOS at least this share of its attention selects nothing (tracr's default: no value),
cleanly enough for its write to be the head's no-value point."""
NOTHING_SHARE = 2 / 3
"""…and one giving BOS at least this share selects nothing, though a compressed model's attention leaks
the rest onto keys (0.73 / 0.27 seen where no key matches)."""


def _width_head(obs: Observations, inputs: list[tuple], layer: int, head: int) -> bool:
    """Whether BOS is among the keys every query selects, on every input read: a selector width's head,
    whose write where BOS takes all the attention is its value (1/(0+1)), not its no-value point."""
    pats = [obs.get(x, attn_pattern(layer)) for x in inputs if obs.has(x, attn_pattern(layer))]
    pats = [p[head] for p in pats if head < p.shape[0]]
    return bool(pats) and all(selections(p, True)[1] for p in pats)


def _empty(obs: Observations, x: tuple, layer: int, head: int, share: float = NULL_SHARE) -> Optional[np.ndarray]:
    """For each query position 1..n of x, whether the head selects nothing there: BOS takes at least
    `share` of its attention (None: no pattern read)."""
    if not obs.has(x, attn_pattern(layer)):
        return None
    pat = obs.get(x, attn_pattern(layer))
    if head >= pat.shape[0]:
        return None
    return pat[head, 1:, 0] >= share


def _remove_null(rows: list[np.ndarray], empty: list[Optional[np.ndarray]]) -> None:
    """In a compressed model a head that selects nothing still writes something: BOS's value is read
    through the compression's overlapping directions, so it is not the zero vector. That point is the
    head's "no value" (tracr's default); it is subtracted from every write of the head (in place), so that
    no value is the zero vector again and a mean over selected keys is a linear image of their values."""
    null = [r[e] for r, e in zip(rows, empty) if e is not None and len(e) == len(r) and e.any()]
    if not null:
        return
    centre = np.mean(np.vstack(null), axis=0)
    for r in rows:
        r -= centre


def _only_head(info: dict, layer: int) -> int:
    return next(h for l, h in info["heads"] if l == layer)


def _rows(obs: Observations, writes: Writes, x: tuple, src: str, layer: int, head: Optional[int]) -> np.ndarray:
    if head is None:
        return np.array(writes.of(x)[src][1:])
    return np.array(obs.get(x, attn_z(layer))[1:, head, :])


def _sorted(values) -> list:
    try:
        return sorted(values)
    except TypeError:
        return list(values)


def _variable(name: str, src: str, stage: int, rows: np.ndarray, noisy: bool = False) -> Found:
    norms = np.linalg.norm(rows, axis=1)
    top = float(norms.max()) if len(norms) else 0.0
    # in a compressed model "no value" is only near the zero vector (its writes spread like any value's)
    nonzero = rows[norms > (NOISY_CLUSTER_TOL * top / 2 if noisy else WRITE_ZERO_TOL)]
    if not len(nonzero):
        return Found(Variable(name, "numerical", (), (), free_scale=True), src, stage, direction=np.zeros(rows.shape[1]))
    points = _distinct(nonzero, SAME_POINT * top)
    s = np.linalg.svd(points, compute_uv=False)
    if len(points) == 1 or s[1] < LINE_TOL * s[0]:
        u = np.linalg.svd(points, full_matrices=False)[2][0]
        j = int(np.argmax(np.abs(u)))
        if abs(u[j]) > 0.999:  # the line is a dimension: the coordinate is what it holds, sign included
            u = np.sign(u[j]) * u
            free = False
        else:
            u = u if (points @ u).sum() >= 0 else -u
            free = True
        return Found(Variable(name, "numerical", (), (), free_scale=free), src, stage, direction=u)
    centres = _order(_linked(points, NOISY_CLUSTER_TOL * top) if noisy else _distinct(nonzero, CLUSTER_TOL * top))
    k = len(centres)
    return Found(Variable(name, "categorical", (), tuple(range(k))), src, stage, centres=centres,
                 dominant=_dominant(centres), names={i: i for i in range(k)}, noisy=noisy)


def _dominant(centres: np.ndarray) -> list[int]:
    """For each centre, the centre it mostly is: a centre that is a mixture of two others (or of one and
    nothing), most of it one of them, is that one (tracr's selector width writes such mixtures for wide
    selections, and what reads them carries them on; heads may treat them apart, the unembedding
    decodes them as their larger part); any other centre is itself."""
    n = len(centres)
    alias = list(range(n))
    for i in range(n):
        best, weight = None, 0.5
        for j in range(n):
            for k in [None, *range(n)]:
                if j == i or k in (i, j):
                    continue
                t = _mix(centres[i], centres[j], None if k is None else centres[k])
                if t is not None and t > weight:
                    best, weight = j, t
        if best is not None:
            alias[i] = best
    return [_root(alias, i) for i in range(n)]


def _root(alias: list[int], i: int) -> int:
    seen = set()
    while alias[i] != i and i not in seen:
        seen.add(i)
        i = alias[i]
    return i


def _mix(c: np.ndarray, a: np.ndarray, b: Optional[np.ndarray]) -> Optional[float]:
    """The weight t of `a` when c = t·a + (1 − t)·b (b None: the zero vector), within SAME_POINT; else None."""
    other = np.zeros_like(a) if b is None else b
    d = a - other
    den = float(d @ d)
    if den <= 0:
        return None
    t = float((c - other) @ d) / den
    if not 0 < t < 1 or np.linalg.norm(c - (t * a + (1 - t) * other)) > SAME_POINT * max(1.0, float(np.linalg.norm(c))):
        return None
    return t


def _distinct(rows: np.ndarray, tol: float) -> np.ndarray:
    """Greedy clustering in order: each row joins the first centre within tol; centres are the means."""
    centres: list[np.ndarray] = []
    members: list[list[np.ndarray]] = []
    for r in rows:
        for i, c in enumerate(centres):
            if np.linalg.norm(r - c) <= tol:
                members[i].append(r)
                break
        else:
            centres.append(r)
            members.append([r])
    return np.array([np.mean(m, axis=0) for m in members])


def _linked(points: np.ndarray, tol: float) -> np.ndarray:
    """Single-linkage clusters of points (a chain of points each within tol of the next is one cluster):
    their means."""
    n = len(points)
    parent = list(range(n))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    dist = np.linalg.norm(points[:, None, :] - points[None, :, :], axis=2)
    for i, j in zip(*np.nonzero(np.triu(dist <= tol, 1))):
        parent[root(int(i))] = root(int(j))
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(root(i), []).append(i)
    return np.array([points[g].mean(axis=0) for g in groups.values()])


def _order(centres: np.ndarray) -> np.ndarray:
    """Centres by their coordinates, largest first (one-hot points in the order of their dimension)."""
    keys = [tuple(-np.round(c, 2)) for c in centres]
    return centres[sorted(range(len(centres)), key=lambda i: keys[i])]


def read(found: Found, w: np.ndarray) -> Any:
    """The variable's value in one write vector."""
    if found.direction is not None:
        t = float(w @ found.direction) * found.scale
        return snap(t)
    dist = np.linalg.norm(found.centres - w, axis=1)
    i = int(np.argmin(dist))
    if np.linalg.norm(w) <= WRITE_ZERO_TOL or (found.noisy and np.linalg.norm(w) < dist[i]):
        return None
    return i


def snap(t: float) -> float:
    """A number read back through a change of basis, as the fraction it is when one is that close."""
    for d in range(1, SNAP_DENOMINATOR + 1):
        f = Fraction(round(t * d), d)
        if within(float(f), t, NUM_SNAP):
            return float(f)
    return round(t, 4)  # read at 4 decimals: more digits are noise
