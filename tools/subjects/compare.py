"""The one comparison of model outputs, with the one numerical tolerance.

Everything that asks "are these the same output?" uses it: verification of a
compiled subject against tracr and the task's reference (`verify.py`),
functional scoring of a submitted implementation (`agent/scoring/score.py`),
the ablate/patch tools deciding which positions changed (`tools/suite/ablation.py`)
and the rule-based investigators eliminating hypotheses
(`agent/investigators/hypotheses.py`).

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
at most 5e-4 off). Anything off by more than 1e-3 is a different output."""


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
        return math.isfinite(fx) and math.isfinite(fy) and abs(fx - fy) <= NUM_TOL
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
