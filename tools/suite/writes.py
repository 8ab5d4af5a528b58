"""component_writes: what a head or an MLP writes into the residual stream, as directions.

Over a set of inputs (a fixed sample of the domain, or the inputs given) every vector the component
adds to the residual stream at the positions asked for is collected: a head's output `z @ W_O`, an
MLP's `hook_mlp_out`, a whole attention layer's `hook_attn_out`. The subspace they span is found by
its singular values and directions (its rank: singular values above WRITE_RANK_TOL of the largest), the vectors are grouped into
distinct writes (`write_tolerance`: along one direction, values within NUM_TOL; otherwise points within
WRITE_SAME_TOL of the largest write's norm of each other; tracr writes a variable's values as a few
exact points), and each distinct write is shown by its coordinates on
the subspace's directions, how often it occurs, what the inputs producing it share (the token at the
position, the position, the number of tokens n) and examples. Nothing depends on a residual basis: a rotated or
compressed subject's component shows the same points in a basis nobody chose.

`write_subspace` is the analysis itself, kept per subject: `project` reuses it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from pydantic import BaseModel, ConfigDict, Field

from tracr_agent.tools.errors import ToolError
from tracr_agent.tools.protocol.decode import fmt_vars
from tracr_agent.tools.protocol.directions import MAX_COLUMNS, Cluster, Writes, writes_text
from tracr_agent.tools.protocol.hooks import attn_z
from tracr_agent.tools.subjects.compare import NUM_TOL, WRITE_RANK_TOL, WRITE_SAME_TOL, nonzero, within
from tracr_agent.tools.subjects.rawview import is_raw
from tracr_agent.tools.suite.ablation import Component, parse_component
from tracr_agent.tools.suite.activations import TOP_K
from tracr_agent.tools.suite.base import TokenLists, ToolContext, check_inputs, tool
from tracr_agent.tools.suite.residual import decode_row
from tracr_agent.tools.suite.sample import DEFAULT_SAMPLES, per_subject, sample_activations, sample_inputs

MAX_INPUTS = 200
"""Inputs a call may name itself (a sample of the domain needs no list)."""
MAX_CLUSTERS = 12
"""Distinct writes listed, the most frequent first; the rest are counted."""
EXAMPLES = 3


@dataclass
class Subspace:
    """A component's writes on a set of inputs, analysed (see the module docstring)."""

    component: Component
    source: str
    vectors: Any
    """[N, d_model]: every write."""
    where: list[tuple[int, int]]
    """(input index, position) of each write."""
    inputs: list[list]
    basis: Any
    """[rank, d_model]: orthonormal directions spanning the writes, the strongest first."""
    singular: list[float]
    scale: float
    """The largest write's norm."""
    tol: float
    """How far apart two writes may be and still be one distinct write (`write_tolerance`)."""
    labels: Any
    """[N]: each write's distinct write (index into centres), -1 for a write of nothing."""
    centres: Any
    """[K, d_model]: the distinct writes, the most frequent first."""

    @property
    def rank(self) -> int:
        return len(self.basis)

    def nearest(self, vector) -> str:
        """The distinct write a residual-space vector's projection on the subspace is: 'w3', '-' (nothing
        in the subspace), '?' (no distinct write within the tolerance)."""
        import numpy as np

        if not self.rank:
            return "-"
        inside = self.basis.T @ (self.basis @ vector)
        if not nonzero(float(np.linalg.norm(inside)), self.tol):
            return "-"
        if not len(self.centres):
            return "?"
        dist = np.linalg.norm(self.centres - inside, axis=1)
        k = int(dist.argmin())
        return f"w{k + 1}" if within(float(dist[k]), 0.0, self.tol) else "?"


def component_of(subject, ctx: ToolContext, text) -> Component:
    """A head 'L.H', an MLP 'L.mlp' or an attention layer 'L.attn' (ToolError otherwise)."""
    return parse_component(subject, ctx, text)


def _vectors(subject, comp: Component, acts_of) -> tuple[Any, str]:
    """[input] -> [position, d_model] writes of `comp`, from `acts_of(hook)` ([input] -> [position, features])."""
    import numpy as np

    layer = comp.layer
    if comp.head is not None:
        w_o = np.asarray(subject.weights[f"blocks.{layer}.attn.W_O"][comp.head], dtype=np.float64)
        lo = comp.head * subject.d_head
        return [z[:, lo:lo + subject.d_head] @ w_o for z in acts_of(attn_z(layer))], f"{attn_z(layer)} @ W_O"
    return [np.asarray(a, dtype=np.float64) for a in acts_of(comp.hook)], comp.hook


def _clusters(vectors, tol: float):
    """(labels [N], centres [K, d]) of the non-zero writes grouped within `tol`, the most frequent first."""
    import numpy as np

    n = len(vectors)
    labels = np.full(n, -1)
    live = np.flatnonzero(nonzero(np.linalg.norm(vectors, axis=1), tol))
    if not len(live):
        return labels, np.zeros((0, vectors.shape[1]))
    # Exact repeats first (tracr's writes are a few points): one leader pass over the distinct rows.
    grid = np.round(vectors[live] / (tol / 8)).astype(np.int64)
    _, first, inverse, counts = np.unique(grid, axis=0, return_index=True, return_inverse=True, return_counts=True)
    order = sorted(range(len(first)), key=lambda u: (-counts[u], first[u]))
    leaders: list[int] = []
    unique_label = np.empty(len(first), dtype=int)
    for u in order:
        point = vectors[live[first[u]]]
        if leaders:
            dist = np.linalg.norm(vectors[live[[first[v] for v in leaders]]] - point, axis=1)
            k = int(dist.argmin())
            if within(float(dist[k]), 0.0, tol):
                unique_label[u] = k
                continue
        unique_label[u] = len(leaders)
        leaders.append(u)
    labels[live] = unique_label[inverse.reshape(-1)]
    sizes = np.bincount(labels[live], minlength=len(leaders))
    firsts = [int(np.flatnonzero(labels == k)[0]) for k in range(len(leaders))]
    rank_of = {k: r for r, k in enumerate(sorted(range(len(leaders)), key=lambda k: (-sizes[k], firsts[k])))}
    labels[live] = [rank_of[k] for k in labels[live]]
    centres = np.stack([vectors[labels == r].mean(0) for r in range(len(leaders))])
    return labels, centres


def _basis(vectors):
    """(orthonormal directions [rank, d] of the writes, the singular values relative to the largest). Each
    direction points the way the writes lean on average, so a change of residual basis changes nothing
    of what is printed."""
    import numpy as np

    # The right singular vectors and values, from the small [d, d] second-moment matrix (an SVD of the
    # [N, d] writes costs far more and says the same at the precision the rank is read at).
    eig, vecs = np.linalg.eigh(vectors.T @ vectors)
    s = np.sqrt(np.clip(eig[::-1], 0.0, None))
    vt = vecs[:, ::-1].T
    if not len(s) or not nonzero(float(s[0]), 0.0):
        return np.zeros((0, vectors.shape[1])), []
    rel = s / s[0]
    rank = int(nonzero(rel, WRITE_RANK_TOL).sum())
    basis = vt[:rank].copy()
    for j in range(rank):
        lean = float((vectors @ basis[j]).sum())
        if not nonzero(lean, WRITE_SAME_TOL * float(s[0])):  # no lean: the direction's largest entry decides
            lean = float(basis[j][np.abs(basis[j]).argmax()])
        if lean < 0:
            basis[j] = -basis[j]
    return basis, [float(x) for x in rel[: rank + 2]]


def write_subspace(subject, ctx: ToolContext, component, samples: int = DEFAULT_SAMPLES,
                   inputs: Optional[list] = None, positions: Optional[list[int]] = None) -> Subspace:
    """The analysed writes of `component` (its name, as component_writes takes it) on the sample of
    `samples` inputs, or on `inputs`; at `positions` (default every token position). Kept per subject."""
    import numpy as np

    comp = component_of(subject, ctx, component)
    pos = _check_positions(subject, positions)
    given = None if inputs is None else check_inputs(subject, inputs, MAX_INPUTS)
    seed = ctx.seed
    key = ("writes", comp.name, samples, seed, None if given is None else tuple(map(tuple, given)), pos)
    cache = per_subject(subject)
    if key in cache:
        return cache[key]
    if given is None:
        xs = sample_inputs(subject, samples, seed)
        acts = sample_activations(subject, xs, seed)
        per_input, source = _vectors(subject, comp, lambda hook: acts[hook])
    else:
        xs = given
        per_input, source = _vectors(subject, comp, lambda hook: [
            subject.activations(x)[hook].reshape(len(x) + 1, -1).numpy() for x in xs])
    where = [(n, p) for n, x in enumerate(xs) for p in range(len(x) + 1) if (p in pos if pos else p >= 1)]
    if not where:
        raise ToolError(f"no input has a position among {list(pos)}: the inputs have 1..n tokens, position 0 is BOS")
    vectors = np.stack([per_input[n][p] for n, p in where])
    scale = float(np.linalg.norm(vectors, axis=1).max())
    basis, singular = _basis(vectors)
    tol = write_tolerance(len(basis), scale)
    labels, centres = _clusters(vectors, tol) if nonzero(scale, 0.0) else (
        np.full(len(vectors), -1), np.zeros((0, vectors.shape[1])))
    sub = Subspace(comp, source, vectors, where, xs, basis, singular, scale, tol, labels, centres)
    cache[key] = sub
    return sub


def write_tolerance(rank: int, scale: float) -> float:
    """Writes along one direction are a number's values, told apart as numbers are (NUM_TOL: tracr's
    fractions 1/5 and 1/6 are distinct); writes spanning more directions are points, one within
    WRITE_SAME_TOL of the largest write's norm of another (a softmax's leak, a compression's noise)."""
    return NUM_TOL if rank == 1 else WRITE_SAME_TOL * scale


def _check_positions(subject, positions: Optional[list[int]]) -> tuple[int, ...]:
    if positions is None:
        return ()
    bad = [p for p in positions if not 0 <= p <= subject.max_seq_len]
    if not positions or bad:
        raise ToolError(f"positions must be some of 0..{subject.max_seq_len} (0 is BOS), got {positions}")
    return tuple(sorted(set(positions)))


def component_name(comp: Component) -> str:
    """'head 1.0', 'MLP 2', 'attention layer 1'."""
    if comp.head is not None:
        return f"head {comp.name}"
    return f"MLP {comp.layer}" if comp.name.endswith(".mlp") else f"attention layer {comp.layer}"


def _shared(subject, sub: Subspace, members) -> list[tuple[str, object]]:
    """What every (input, position) of a distinct write has in common: the token there, the position, the
    number of tokens n."""
    facts = {"token": set(), "position": set(), "n": set()}
    for i in members:
        n, p = sub.where[i]
        x = sub.inputs[n]
        facts["token"].add(subject.bos if p == 0 else x[p - 1])
        facts["position"].add(p)
        facts["n"].add(len(x))
    if len(members) < 2:
        return []
    return [(k, next(iter(v))) for k, v in facts.items() if len(v) == 1]


def _decoded(subject, centre) -> str:
    """The distinct write in the residual basis: its variables (labelled), or its few non-zero dims (raw)."""
    pairs = decode_row(subject, centre, only_set=True)
    if is_raw(subject) and len(pairs) > TOP_K:
        return ""  # a dense vector in a basis nobody chose says nothing dim by dim
    return fmt_vars(pairs)


def writes_report(subject, sub: Subspace, inputs_text: str, where_text: str) -> Writes:
    import numpy as np

    n = len(sub.vectors)
    clusters = []
    for k, centre in enumerate(sub.centres[:MAX_CLUSTERS]):
        members = np.flatnonzero(sub.labels == k)
        clusters.append(Cluster(
            f"w{k + 1}", len(members), len(members) / n, float(np.linalg.norm(centre)),
            [float(c) for c in (sub.basis @ centre)[:MAX_COLUMNS]], _shared(subject, sub, members),
            [(list(sub.inputs[sub.where[i][0]]), sub.where[i][1]) for i in members[:EXAMPLES]],
            _decoded(subject, centre)))
    rest = int((sub.labels >= MAX_CLUSTERS).sum())
    return Writes(component_name(sub.component), sub.source, where_text, inputs_text, n, subject.d_model,
                  sub.singular, sub.rank, int((sub.labels < 0).sum()), clusters,
                  max(0, len(sub.centres) - MAX_CLUSTERS), rest)


class WritesArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    component: str = Field(description="A head 'L.H' (e.g. '1.0'), an MLP 'L.mlp' or a whole attention layer "
                                       "'L.attn'.")
    inputs: Optional[TokenLists] = Field(None, description=f"Input sequences to read it on (at most {MAX_INPUTS}); default "
                                                     "a fixed sample of the domain.")
    samples: int = Field(DEFAULT_SAMPLES, ge=20, le=2000, description="Without inputs: how many inputs of the domain "
                                                                      "to sample (always the same ones).")
    positions: Optional[list[int]] = Field(None, description="Positions to read (0 is BOS, the input is at 1..n); "
                                                             "default every token position.")


@tool("component_writes", WritesArgs)
def component_writes(subject, ctx: ToolContext, args: WritesArgs) -> str:
    """What a head or an MLP writes into the residual stream over many inputs: the distinct vectors it writes (clustered), the rank of the subspace they span, and which inputs produce each one. Works in any residual basis."""
    sub = write_subspace(subject, ctx, args.component, args.samples, args.inputs, args.positions)
    inputs_text = (f"{len(sub.inputs)} inputs (a fixed sample of the domain)" if args.inputs is None
                   else f"{len(sub.inputs)} input" + ("" if len(sub.inputs) == 1 else "s"))
    where_text = ("every token position" if args.positions is None
                  else "positions " + ", ".join(map(str, sorted(set(args.positions)))))
    return writes_text(writes_report(subject, sub, inputs_text, where_text))
