"""What each component writes into the residual stream, found without trusting the residual basis.

A component is the embedding (the token's and the position's), one attention layer, or one layer's MLP. What it writes at the token
positions (1..n; BOS is left out: tracr's selector width cleans up there) spans its *write subspace*.
On an input where a component's own hook was read (`hook_embed` and `hook_pos_embed` for the
embedding, `hook_attn_out`, `hook_mlp_out`), its writes are that hook. Elsewhere they come from the final
residual stream, decomposed onto the write subspaces by least squares: exact when the subspaces are
independent, as in tracr's own basis or any rotation of it, and checked position by position (a
residual stream the subspaces do not explain, e.g. holding a value no read showed yet, leaves that
input unexplained: it is read component by component later). When the subspaces overlap, as in a
compressed model, the final residual stream cannot be split, and every input is read component by
component (`Writes.dependent`; decompiler/rounds.py also reads so where that costs no more than the
final residual stream, as in tracr's sparse basis).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from tracr_agent.agent.investigators.decompiler.observations import Observations
from tracr_agent.tools.protocol.hooks import EMBED, POS_EMBED, attn_out, final_resid, mlp_out, resid

SPAN_TOL = 0.05
"""A singular value of a component's writes above this spans a direction: tracr's values are at
least ~0.1 (a selector width's 1/(n+1)), and the json's 4 decimals leave noise far below."""
INDEPENDENT = 0.1
"""Write subspaces are independent when the smallest singular value of their stacked orthonormal
bases is above this (1 for orthogonal subspaces, as in tracr's basis or a rotation of it)."""
EXPLAINED_TOL = 0.02
"""A position's final residual stream is explained when the decomposition leaves at most this much
(Euclidean): the 4-decimal print, and soft attention's leakage (0.999 / 0.003), stay far below."""


@dataclass(frozen=True)
class Component:
    name: str
    stage: int
    """0 = the embedding; 2L+1 = layer L's attention; 2L+2 = layer L's MLP."""
    hook: str
    """The hook holding its writes."""


def components(info: dict, split_embedding: bool = True) -> list[Component]:
    """The embedding (the token's and the position's, apart: every token and every position read once
    is then the embedding's whole write subspace; or both together as the residual stream before layer
    0), then each attention layer with a non-empty head and each non-empty MLP, in order."""
    if split_embedding:
        out = [Component("token", 0, EMBED), Component("position", 0, POS_EMBED)]
    else:
        out = [Component("embed", 0, resid(0, "pre"))]
    for layer in range(info["n_layers"]):
        if any(l == layer for l, _ in info["heads"]):
            out.append(Component(f"attn{layer}", 2 * layer + 1, attn_out(layer)))
        if layer in info["mlps"]:
            out.append(Component(f"mlp{layer}", 2 * layer + 2, mlp_out(layer)))
    return out


def basis(rows: np.ndarray) -> np.ndarray:
    """An orthonormal basis [k, d] of the span of the rows (directions with a singular value above SPAN_TOL)."""
    if rows.size == 0:
        return np.zeros((0, rows.shape[1] if rows.ndim == 2 else 0))
    _, s, vt = np.linalg.svd(rows, full_matrices=False)
    return vt[s > SPAN_TOL]


def independent(bases: list[np.ndarray]) -> bool:
    """Whether subspaces (orthonormal bases) are linearly independent, with a margin."""
    stacked = np.vstack([b for b in bases if len(b)]) if any(len(b) for b in bases) else None
    if stacked is None:
        return True
    s = np.linalg.svd(stacked, compute_uv=False)
    return len(s) == stacked.shape[0] and s.min() > INDEPENDENT


@dataclass
class Writes:
    comps: list[Component]
    bases: dict[str, np.ndarray] = field(default_factory=dict)
    """component -> orthonormal basis of its write subspace (rows)."""
    dependent: bool = False
    """The subspaces overlap (a compressed model): the final residual stream cannot be split, so writes
    are read from each component's hook on every input."""
    by_input: dict[tuple, dict[str, np.ndarray]] = field(default_factory=dict)
    """input -> component -> writes [positions, d] (row 0, BOS, is not used)."""
    unexplained: list[tuple] = field(default_factory=list)
    """Inputs whose final residual stream the known subspaces do not explain (to read component by component)."""

    def of(self, x: tuple) -> Optional[dict[str, np.ndarray]]:
        return self.by_input.get(tuple(x))


def read_writes(info: dict, obs: Observations, scan: Optional[list[tuple]] = None) -> Writes:
    """Every component's writes on every input read so far: from its own hook where read (the
    embedding's need not be: the token and position say what it writes), else from the final residual
    stream decomposed onto the write subspaces. The subspaces come from the inputs where the
    components' hooks were read, widened by what decomposing shows (`_decompose`); whether they
    overlap is decided from the scan's inputs alone when `scan` is given (so the reads planned from it
    do not change as later replies come in)."""
    comps = components(info)
    own = [c for c in comps if c.stage > 0]
    fh = final_resid(info["n_layers"])
    w = Writes(comps)
    rows: dict[str, list[np.ndarray]] = {c.name: [obs.get(x, c.hook)[1:] for x in obs.acts if obs.has(x, c.hook)]
                                         for c in comps}
    if scan is not None:
        scanned = [x for x in scan if all(obs.has(x, c.hook) for c in comps)]
        w.dependent = bool(scanned) and not independent(
            [basis(np.vstack([obs.get(x, c.hook)[1:] for x in scanned])) for c in comps])
    pending = [x for x, acts in obs.acts.items() if fh in acts and not all(c.hook in acts for c in own)]
    found: dict[tuple, dict[str, np.ndarray]] = {}
    for _ in range(ATTRIBUTION_ROUNDS):
        w.bases = {c.name: basis(np.vstack(rows[c.name])) if rows[c.name] else np.zeros((0, info["d_model"]))
                   for c in comps}
        if scan is None:
            w.dependent = not independent(list(w.bases.values()))
        if w.dependent:
            break
        new = 0
        found = {}
        for x in pending:
            acts = obs.acts[x]
            known = {c.name: acts[c.hook] for c in comps if c.hook in acts}
            todo = [c for c in comps if c.name not in known]
            rest = acts[fh] - sum(known.values()) if known else acts[fh].copy()
            split, attributed = _decompose(rest, [w.bases[c.name] for c in todo], [c.stage > 0 for c in todo])
            for i, vecs in attributed.items():
                rows[todo[i].name].append(np.array(vecs))
                new += len(vecs)
            if split is not None:
                found[x] = {**known, **{c.name: part for c, part in zip(todo, split)}}
        if not new:
            break
    for x, acts in obs.acts.items():
        if all(c.hook in acts for c in own):
            w.by_input[x] = {c.name: acts[c.hook] for c in comps if c.hook in acts}
        elif x in found and not w.dependent:
            w.by_input[x] = found[x]
        elif fh in acts:
            w.unexplained.append(x)
    return w


ATTRIBUTION_ROUNDS = 6
"""Decomposition passes: each may find new points of a component, which widen its subspace for the next."""


def _decompose(r: np.ndarray, bases: list[np.ndarray], may_own: list[bool]):
    """(r [positions, d] as one vector per subspace at every position ≥ 1 (row 0 is zero), or None when
    some position is not explained; {subspace index: [vectors attributed to it]}).

    What the subspaces leave at a position is a value no read showed yet. A component writes one point
    per position: the part left belongs to the one component (that `may_own` it) with nothing
    explained there, when exactly one has nothing; it is then a new point of that component."""
    sizes = [len(b) for b in bases]
    n = r.shape[0]
    parts = [np.zeros_like(r) for _ in bases]
    left = r[1:].copy()
    if sum(sizes):
        B = np.vstack([b for b in bases if len(b)])  # [k, d]
        coef, *_ = np.linalg.lstsq(B.T, r[1:].T, rcond=None)  # [k, positions]
        at = 0
        for i, k in enumerate(sizes):
            if k:
                parts[i][1:] = (bases[i].T @ coef[at:at + k]).T
            at += k
        left = r[1:] - (B.T @ coef).T
    attributed: dict[int, list[np.ndarray]] = {}
    ok = True
    for p in range(1, n):
        rest = left[p - 1]
        if np.linalg.norm(rest) <= EXPLAINED_TOL:
            continue
        owners = [i for i in range(len(bases)) if may_own[i] and np.linalg.norm(parts[i][p]) <= EXPLAINED_TOL]
        if len(owners) != 1:
            ok = False
            continue
        parts[owners[0]][p] += rest
        attributed.setdefault(owners[0], []).append(rest)
    return (parts if ok else None), attributed
