"""`rotated[:SEED]`: the same model in a random orthonormal residual basis, and random head bases.

A Haar-random orthogonal R (d_model × d_model) turns the residual stream (every
matrix reading or writing it, see basis.py); an independent Haar-random
orthogonal matrix per head turns its query/key space and another its value
space. The function, the attention patterns and the MLP activations are exactly
those of the untransformed model; every residual activation is the original one
times R. The matrices are a pure function of the seed and the sizes, drawn in a
fixed order from numpy's PCG64 generator, and applied in float64.
"""

from __future__ import annotations

from tracr_agent.tools.subjects.transforms.basis import map_heads, map_residual


def haar_orthogonal(n: int, rng):
    """An n × n orthogonal matrix drawn uniformly (Haar measure): QR of a Gaussian matrix, with the
    signs fixed so that the distribution does not depend on the QR routine's sign convention."""
    import numpy as np

    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return q * np.sign(np.diag(r))


def rotation_maps(config, seed: int):
    """(R [d_model, d_model], query/key turns per layer [heads, d_head, d_head], value turns likewise)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    resid = haar_orthogonal(config.d_model, rng)
    qk, ov = [], []
    for _ in range(config.n_layers):
        qk.append(np.stack([haar_orthogonal(config.d_head, rng) for _ in range(config.n_heads)]))
        ov.append(np.stack([haar_orthogonal(config.d_head, rng) for _ in range(config.n_heads)]))
    return resid, qk, ov


def rotate_weights(weights: dict, config, seed: int) -> dict:
    """The weights of the rotated model (float32), computed in float64."""
    import numpy as np

    resid, qk, ov = rotation_maps(config, seed)
    wide = {k: np.asarray(v, dtype=np.float64) for k, v in weights.items()}
    turned = map_heads(map_residual(wide, resid, resid.T, config.n_layers), qk, ov, config.n_layers)
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in turned.items()}


def rotate(subject, seed: int = 0):
    """`subject` in the basis drawn for `seed` (a new Subject; `subject` is unchanged)."""
    from tracr_agent.tools.subjects.transforms.record import TransformRecord, transformed_subject

    record = TransformRecord(name="rotated", seed=seed, d_model=subject.d_model, d=subject.d_model)
    return transformed_subject(subject, subject.card, rotate_weights(subject.weights, subject.card.config, seed),
                               record)
