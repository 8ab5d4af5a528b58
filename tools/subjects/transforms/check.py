"""Faithfulness of a transformed subject: the untransformed subject's function on its whole input domain.

Both subjects run through their TransformerBridges on every input of the domain
(`Subject.domain`): outputs must be equal (`compare.outputs_equal`), attention
patterns equal (`compare.within`), and, given the map back to the original basis
(the rotation's inverse), every residual activation equal after that map.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from tracr_agent.tools.subjects.compare import outputs_equal, within


@dataclass
class TransformCheck:
    n_inputs: int
    agreed: int
    """Inputs whose decoded outputs are equal."""
    max_pattern_diff: float
    max_resid_diff: Optional[float] = None
    """Largest |difference| of a residual activation after the map back (None: not compared)."""
    first_mismatch: str = ""

    @property
    def ok(self) -> bool:
        return (self.agreed == self.n_inputs and bool(within(self.max_pattern_diff, 0.0))
                and (self.max_resid_diff is None or bool(within(self.max_resid_diff, 0.0))))


def _hooks(subject, ids) -> dict:
    import torch

    keep = ("hook_resid_pre", "hook_resid_mid", "hook_resid_post", "attn.hook_pattern")
    with torch.no_grad(), subject.lock:
        _, cache = subject.bridge.run_with_cache(ids, names_filter=lambda n: n.endswith(keep))
    return {n: cache[n].numpy() for n in cache.keys() if n.endswith(keep)}


def check_transform(original, transformed, back=None, inputs: Optional[list] = None) -> TransformCheck:
    """Compares `transformed` with `original` on `inputs` (default: the whole domain). `back`
    [d, d_model] maps a transformed residual vector to the original basis (a rotation's transpose)."""
    import numpy as np

    from tracr_agent.tools.subjects.transforms.forward import batches_by_length

    inputs = original.domain() if inputs is None else inputs
    numerical = original.output_kind == "numerical"
    ours, theirs = transformed.run(inputs), original.run(inputs)
    agreed, first = 0, ""
    for x, a, b in zip(inputs, ours, theirs):
        if outputs_equal(a, b, numerical):
            agreed += 1
        elif not first:
            first = f"input {x}: transformed {a}, original {b}"
    max_pattern, max_resid = 0.0, (None if back is None else 0.0)
    for ids, _ in batches_by_length(original, inputs):
        hooks_o, hooks_t = _hooks(original, ids), _hooks(transformed, ids)
        for name, value in hooks_o.items():
            if name.endswith("hook_pattern"):
                max_pattern = max(max_pattern, float(np.abs(hooks_t[name] - value).max()))
            elif back is not None:
                max_resid = max(max_resid, float(np.abs(hooks_t[name] @ back - value).max()))
    return TransformCheck(len(inputs), agreed, max_pattern, max_resid, first)


def check_rotation(original, rotated, inputs: Optional[list] = None) -> TransformCheck:
    """`check_transform` for a rotated subject, mapping its residuals back with the rotation's inverse
    (recomputed from the seed on its record: the matrix itself is kept nowhere)."""
    from tracr_agent.tools.subjects.transforms.rotate import rotation_maps

    resid, _, _ = rotation_maps(original.card.config, rotated.transform.seed)
    return check_transform(original, rotated, back=resid.T, inputs=inputs)
