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
from tracr_agent.tools.protocol.hooks import EMBED, POS_EMBED, attn_out, block, final_resid, mlp_out, resid
from tracr_agent.tools.subjects.compare import EXPLAINED_TOL, SPAN_TOL, nonzero

INDEPENDENT = 0.1
"""Write subspaces are independent when the smallest singular value of their stacked orthonormal
bases is above this (1 for orthogonal subspaces, as in tracr's basis or a rotation of it)."""


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


ORTHOGONAL = 0.9
"""…and orthogonal when it is above this: exactly 1 in tracr's basis or a rotation of it. A compressed
model whose D leaves room for every subspace still tilts them towards each other (0.15–0.52 seen on the
zoo), and its components read their inputs through those overlaps, so what they write is noisy: one
value's writes spread (`Writes.noisy`)."""


def independent(bases: list[np.ndarray], margin: float = INDEPENDENT) -> bool:
    """Whether subspaces (orthonormal bases) are linearly independent, with a margin."""
    stacked = np.vstack([b for b in bases if len(b)]) if any(len(b) for b in bases) else None
    if stacked is None:
        return True
    s = np.linalg.svd(stacked, compute_uv=False)
    return len(s) == stacked.shape[0] and s.min() > margin


@dataclass
class Writes:
    comps: list[Component]
    bases: dict[str, np.ndarray] = field(default_factory=dict)
    """component -> orthonormal basis of its write subspace (rows)."""
    dependent: bool = False
    """The subspaces overlap (a compressed model): the final residual stream cannot be split, so writes
    are read from each component's hook on every input."""
    noisy: bool = False
    """The subspaces are not orthogonal (a compressed model, even where they are independent): one value's
    writes spread, and a head that selects nothing writes something (decompiler/discovery.py)."""
    by_input: dict[tuple, dict[str, np.ndarray]] = field(default_factory=dict)
    """input -> component -> writes [positions, d] (row 0, BOS, is not used)."""
    unexplained: list[tuple] = field(default_factory=list)
    """Inputs whose final residual stream the known subspaces do not explain."""
    needs: dict[tuple, set[str]] = field(default_factory=dict)
    """Unexplained input -> the components whose writes there are not known (their hooks to read)."""
    need_rows: dict[tuple, set[int]] = field(default_factory=dict)
    """…and the positions where they are not (reading the hooks there alone explains the input)."""

    def of(self, x: tuple) -> Optional[dict[str, np.ndarray]]:
        return self.by_input.get(tuple(x))


def post_hook(layer: int) -> str:
    """An MLP's hidden activations: in the neurons' basis, which no change of residual basis touches."""
    return block(layer, "mlp.hook_post")


def _key(post_row: np.ndarray):
    """An MLP's hidden activations at one position, as a key: the same key, the same write."""
    return tuple((int(j), round(float(post_row[j]), 3)) for j in np.nonzero(nonzero(post_row))[0])


def read_writes(info: dict, obs: Observations, scan: Optional[list[tuple]] = None) -> Writes:
    """Every component's writes on every input read so far: from its own hook where read (the
    embedding's need not be: the token and position say what it writes), else from the final residual
    stream decomposed onto the write subspaces (`_split`). The subspaces come from the inputs where the
    components' hooks were read, widened by what decomposing shows; whether they overlap is decided
    from the scan's inputs alone when `scan` is given (so the reads planned from it do not change as
    later replies come in)."""
    comps = components(info)
    own = [c for c in comps if c.stage > 0]
    fh = final_resid(info["n_layers"])
    w = Writes(comps)
    rows: dict[str, list[np.ndarray]] = {c.name: [obs.get(x, c.hook)[1:] for x in obs.acts if obs.has(x, c.hook)]
                                         for c in comps}
    for (x, hook), (a, read) in obs.partial.items():  # a component's hook read at some positions only
        for c in comps:
            if c.hook == hook and read - {0}:
                rows[c.name].append(a[sorted(read - {0})])
    posts = {c.name: post_hook((c.stage - 2) // 2) for c in own if c.hook.endswith("hook_mlp_out")}
    memo: dict[tuple[str, tuple], np.ndarray] = {}  # (MLP, hidden activations) -> its write
    seen: dict[str, tuple[list, list]] = {name: ([], []) for name in posts}  # MLP -> (hidden rows, writes)
    for x, acts in obs.acts.items():
        for name, ph in posts.items():
            c = next(c for c in comps if c.name == name)
            if ph not in acts:
                continue
            written = _own_rows(obs, x, c.hook)
            for p in sorted(set(written) - {0}):
                memo.setdefault((name, _key(acts[ph][p])), written[p])
                seen[name][0].append(acts[ph][p])
                seen[name][1].append(written[p])
    linear = {name: OutMap(np.array(h), np.array(v)) for name, (h, v) in seen.items() if h}
    if scan is not None:
        scanned = [x for x in scan if all(obs.has(x, c.hook) for c in comps)]
        scanned_bases = [basis(np.vstack([obs.get(x, c.hook)[1:] for x in scanned])) for c in comps] if scanned else []
        w.dependent = bool(scanned) and not independent(scanned_bases)
        w.noisy = bool(scanned) and not independent(scanned_bases, ORTHOGONAL)
    pending = [x for x, acts in obs.acts.items() if fh in acts and not all(c.hook in acts for c in own)]
    found: dict[tuple, dict[str, np.ndarray]] = {}
    for _ in range(ATTRIBUTION_ROUNDS):
        w.bases = {c.name: basis(np.vstack(rows[c.name])) if rows[c.name] else np.zeros((0, info["d_model"]))
                   for c in comps}
        if scan is None:
            w.dependent = not independent(list(w.bases.values()))
            w.noisy = not independent(list(w.bases.values()), ORTHOGONAL)
        if w.dependent:
            break
        grown = 0
        found, w.needs = {}, {}
        w.need_rows = {}
        for x in pending:
            read = {c.hook: _own_rows(obs, x, c.hook) for c in comps if (x, c.hook) in obs.partial}
            parts, needs, new_rows, at = _split(obs.acts[x], comps, posts, memo, w.bases, fh, linear, read)
            for name, vecs in new_rows.items():
                rows[name] += vecs
                grown += len(vecs)
            if needs:
                w.needs[x] = needs
                w.need_rows[x] = at
            else:
                found[x] = parts
        if not grown:
            break
    for x, acts in obs.acts.items():
        if all(c.hook in acts for c in own):
            w.by_input[x] = {c.name: acts[c.hook] for c in comps if c.hook in acts}
        elif x in found and not w.dependent:
            w.by_input[x] = found[x]
        elif fh in acts:
            w.unexplained.append(x)
            w.needs.setdefault(x, {c.name for c in own})
    return w


def _own_rows(obs: Observations, x: tuple, hook: str) -> dict[int, np.ndarray]:
    """position -> the row of `hook` read there on x (every position when it was read whole)."""
    if obs.has(x, hook):
        a = obs.get(x, hook)
        return {p: a[p] for p in range(a.shape[0])}
    a, read = obs.partial.get((tuple(x), hook), (None, set()))
    return {p: a[p] for p in read}


ATTRIBUTION_ROUNDS = 6
"""Decomposition passes: each may find new points of a component, which widen its subspace for the next."""


class OutMap:
    """An MLP's write as the linear function of its hidden activations it is (its output weights and
    bias), known on the span of the hidden activations seen with their writes: a hidden activation in
    that span gives its write exactly, though that activation was never seen itself."""

    def __init__(self, hidden: np.ndarray, writes: np.ndarray):
        self.rows = np.hstack([hidden, np.ones((len(hidden), 1))])
        self.writes = writes
        self.span = basis(self.rows)

    def write(self, hidden_row: np.ndarray) -> Optional[np.ndarray]:
        """The write for these hidden activations, or None when they leave the span seen."""
        a = np.append(hidden_row, 1.0)
        if len(a) != self.rows.shape[1] or np.linalg.norm(a - self.span.T @ (self.span @ a)) > EXPLAINED_TOL:
            return None
        coef, *_ = np.linalg.lstsq(self.rows.T, a, rcond=None)
        return coef @ self.writes


def _split(acts: dict, comps: list[Component], posts: dict, memo: dict, bases: dict, fh: str,
           linear: Optional[dict] = None, read: Optional[dict] = None):
    """(each component's writes on one input, the components whose writes some position leaves unknown,
    {component: new points found}, the positions where they are unknown). `read`: hook -> {position:
    row} of a component's hook read at some positions only.

    At each position: the writes read directly, and an MLP's write when its hidden activations were
    seen with a known write (or lying in the span of hidden activations seen with theirs: `OutMap`), are
    subtracted; the rest is split by least squares onto the other
    components' subspaces. What the subspaces leave is a value no read showed yet: it is a new point
    of the one component that may hold it (an MLP whose hidden activations are new there, or another
    component writing nothing known there), when exactly one may; an MLP's write is then memoized."""
    r = acts[fh]
    n = r.shape[0]
    parts = {c.name: np.zeros_like(r) for c in comps}
    needs: set[str] = set()
    unknown_at: set[int] = set()
    new_rows: dict[str, list[np.ndarray]] = {}
    for p in range(1, n):
        fixed, keys = {}, {}
        for c in comps:
            if c.hook in acts:
                fixed[c.name] = acts[c.hook][p]
            elif read and p in read.get(c.hook, {}):
                fixed[c.name] = read[c.hook][p]
            elif c.name in posts and posts[c.name] in acts:
                keys[c.name] = _key(acts[posts[c.name]][p])
                if (c.name, keys[c.name]) in memo:
                    fixed[c.name] = memo[(c.name, keys[c.name])]
                elif linear and c.name in linear:
                    got_w = linear[c.name].write(acts[posts[c.name]][p])
                    if got_w is not None:
                        fixed[c.name] = got_w
        todo = [c for c in comps if c.name not in fixed]
        rest = r[p] - sum(fixed.values()) if fixed else r[p].copy()
        got = {c.name: np.zeros(r.shape[1]) for c in todo}
        sizes = [len(bases[c.name]) for c in todo]
        if sum(sizes):
            B = np.vstack([bases[c.name] for c in todo if len(bases[c.name])])
            coef, *_ = np.linalg.lstsq(B.T, rest, rcond=None)
            at = 0
            for c, k in zip(todo, sizes):
                if k:
                    got[c.name] = bases[c.name].T @ coef[at:at + k]
                at += k
            rest = rest - B.T @ coef
        if np.linalg.norm(rest) > EXPLAINED_TOL:
            # who may hold a point never seen: an MLP whose hidden activations are new here, or another
            # component (attention) that writes nothing known here
            owners = [c for c in todo if c.stage > 0 and
                      (c.name in keys or (c.name not in posts and np.linalg.norm(got[c.name]) <= EXPLAINED_TOL))]
            if len(owners) != 1:
                needs |= {c.name for c in (owners or [c for c in todo if c.stage > 0])}
                unknown_at.add(p)
                continue
            got[owners[0].name] = got[owners[0].name] + rest
            new_rows.setdefault(owners[0].name, []).append(rest)
        for c in todo:
            if c.name in keys:
                memo.setdefault((c.name, keys[c.name]), got[c.name])
        for name, v in {**fixed, **got}.items():
            parts[name][p] = v
    return parts, needs, new_rows, unknown_at
