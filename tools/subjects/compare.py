"""The one comparison of model outputs, with the one numerical tolerance — and every other
tolerance the project reads numbers with, each named here with the reason it differs.

Everything that asks "are these the same output?" uses it: verification of a
compiled subject against tracr and the task's reference (`verify.py`),
functional scoring of a submitted implementation (`agent/scoring/score.py`),
the ablate/patch tools deciding which positions changed (`tools/suite/ablation.py`),
the rule-based investigators eliminating hypotheses
(`agent/investigators/hypotheses.py`), the open-world synthesis and the decompiler
checking a fitted step or a decompiled program against what the model computed.
No other module compares numbers within a tolerance of its own: it calls `within`,
`nonzero`, `value_equal`, `held_equal` or `outputs_equal` (tests/unit/test_compare.py guards this).

Rules, symmetric in their two arguments:
- a missing value (None, printed `-`) equals only a missing value;
- numerical outputs agree when both are finite numbers within NUM_TOL
  (absolute); NaN and infinities equal nothing, not even themselves; a value
  that is not a number equals nothing;
- categorical outputs agree when `==` holds and neither or both are bool
  (so `True` is not the token `1`).
"""

from __future__ import annotations

import math
from typing import Any

NUM_TOL = 1e-3
"""Absolute tolerance for numerical outputs. It must cover two things: the float32 error of a
compiled numerical model against exact arithmetic (measured on the zoo's five numerical tasks:
at most 3e-7) and tool outputs read back as printed (`decode_residual` rounds to 3 decimals,
at most 5e-4 off). Anything off by more than 1e-3 is a different output. The same tolerance
serves every value read back from a model: a decompiled variable against the residual stream (its
values are read at 4 decimals; over the decompiler's 40 test episodes the largest difference at an
accepted match was 6e-5), a fitted mean or linear map against its observations, and "is this
activation non-zero" (a value within NUM_TOL of 0 is 0)."""

# -- reading activations: thresholds that are not "is this the same value?" -----------------------

ONE_HOT_TOL = 0.02
"""Recognising one-hot material in a label-free residual stream (the decompiler's discovery): a dim
is one-hot when every value is within 0.02 of 0 or 1. Looser than NUM_TOL because a categorical
aggregate's soft attention leaks onto the other keys (0.999 / 0.003 are seen), yet tight enough
that a numerical variable holding fractions is not mistaken for a one-hot dim."""

DECODE_TOL = 0.1
"""decode_residual naming the value a categorical variable holds: a dim within 0.1 of 1 is hot, one
within 0.1 of 0 is cold. Loose on purpose: it only chooses what is printed, and anything that is not
a clean one-hot (a patched or ablated run, a mixing head) is printed as its weights instead."""

ATTENTION_SHARE_TOL = 0.05
"""Relative: two attention weights of one query are the same share when within 5% of the top
weight (the decompiler asking whether BOS is attended as much as the selected keys)."""

RANK_TOL = 1e-9
"""Relative: an eigenvalue of the residual vectors' second-moment matrix below this fraction of the
largest is 0, when the compression (tools/subjects/transforms/compress.py) counts the directions the
residual stream uses. float32 round-off of squared activations sits near 1e-14 of the largest; a
direction that holds a value of 1 once among thousands of vectors sits near 1e-4. A direction that
falls below and still matters only makes the first width tried unfaithful; the search then widens."""

WRITE_SAME_TOL = 0.05
"""Relative: two vectors a component writes into the residual stream, spanning two directions or more,
are the same distinct write when they are within 5% of its largest write's norm of each other, and a
write that short is no write at all (component_writes' clusters, project's nearest write). A softmax
that does not quite saturate leaks up to ~3% of a head's write elsewhere (seen on sort), a compressed
subject's trained maps leave ~1% of noise around each point, while the distinct values of a
categorical variable sit at least ~40% of the largest norm apart. Writes along a single direction are
a number's values, told apart within NUM_TOL (tracr's fractions can be 3% apart)."""

WRITE_RANK_TOL = 1e-3
"""Relative: a singular value of a component's writes below 1e-3 of the largest spans no direction of
its write subspace (component_writes' rank). float32 round-off sits near 1e-7; the smallest direction
a tracr variable needs (one value of a numerical variable among hundreds of writes) near 1e-2."""

FLOAT_NOISE = 1e-6
"""Float rounding, not a tolerance on what a model computed: a least-squares coefficient within
1e-6 of a simple fraction is that fraction, a coefficient within 1e-6 of 0 is no term, and a
residual dim within 1e-6 of 0 holds nothing (decode_residual's list of set variables)."""


# -- reading a residual stream without its basis (the decompiler's write subspaces) --------------

WRITE_ZERO_TOL = 0.05
"""A component's write (one position) shorter than this (Euclidean) is the zero vector: no value, or
a numerical 0. tracr's smallest written value is a selector width's 1/(n+1) (≥ 0.1 for the zoo's
lengths); the json's 4 decimals and soft attention's leakage stay below 0.01."""

CLUSTER_TOL = 0.15
"""Relative to the largest write: two points of a categorical variable closer than this are one
value. tracr's values are one-hot (√2 apart); a compressed model's are only close to its points."""

NOISY_CLUSTER_TOL = 0.3
"""Relative to the largest write, in a compressed model (the decompiler's discovery): points of one value chained closer than this are
that value. Each component reads its inputs through the compression's overlapping directions, so one
value's writes spread (up to ~0.28 of the largest write seen on the zoo) where tracr's distinct values
lie ≥ 0.6 apart."""

NOISY_NUM_TOL = 0.08
"""Relative to the largest value written: in a compressed model a number a head computes is written only
near its value, because the head's attention is read through the compression's overlaps (a selector
width's 1/3 is seen as 0.30–0.37, its 1/2 as 0.47–0.52, on the zoo)."""

LINE_TOL = 0.05
"""Relative: a component's distinct writes lie on one line (a numerical variable) when the second
singular value of the points is below this fraction of the first."""

SPAN_TOL = 0.05
"""A singular value of a component's writes above this spans a direction of its write subspace
(the same floor as WRITE_ZERO_TOL: tracr's values are at least ~0.1)."""

EXPLAINED_TOL = 0.02
"""A position's final residual stream is explained by the write subspaces when splitting it onto
them leaves at most this much (Euclidean): the 4-decimal print and soft attention's leakage
(0.999 / 0.003) stay far below."""

def within(a: Any, b: Any, tol: float = NUM_TOL) -> Any:
    """|a - b| <= tol, for numbers or numpy arrays (elementwise). NaN is within nothing."""
    return abs(a - b) <= tol


def nonzero(a: Any, tol: float = NUM_TOL) -> Any:
    """|a| > tol, for numbers or numpy arrays (elementwise): a value that is not 0 to the tolerance."""
    return abs(a) > tol


def value_equal(x: Any, y: Any, numerical: bool) -> bool:
    """Whether two single output values (one position) are the same output."""
    if x is None or y is None:
        return x is None and y is None
    if numerical:
        try:
            fx, fy = float(x), float(y)
        except (TypeError, ValueError, OverflowError):  # e.g. a string where a number was expected
            return False
        # NaN and infinities are never equal to anything (`abs(nan - y) > tol` would be False).
        return math.isfinite(fx) and math.isfinite(fy) and within(fx, fy)
    if isinstance(x, bool) != isinstance(y, bool):
        return False
    try:
        return bool(x == y)
    except Exception:  # an object whose == does not give a truth value
        return False


def outputs_equal(a: Any, b: Any, numerical: bool) -> bool:
    """Whether two output sequences (one per position) are the same output: same length, every
    position `value_equal`. Anything that is not a list or tuple equals nothing."""
    if not isinstance(a, (list, tuple)) or not isinstance(b, (list, tuple)) or len(a) != len(b):
        return False
    return all(value_equal(x, y, numerical) for x, y in zip(a, b))


def held_equal(x: Any, y: Any) -> bool:
    """Whether a value computed for a model's internal variable is the value its residual stream
    holds: two numbers within NUM_TOL, anything else by `value_equal`'s categorical rule. Unlike an
    output, a bool equals its number here: inside the model a flag is a dimension holding 0 or 1,
    so True and 1.0 are the same value."""
    if isinstance(x, (int, float)) and isinstance(y, (int, float)):
        return value_equal(x, y, numerical=True)
    return value_equal(x, y, numerical=False)
