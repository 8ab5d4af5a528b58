"""The baseline's whitebox strategy (internal tools only): read the residual stream, not outputs."""

from __future__ import annotations


def whitebox_step(bl, info, results, forced, call, turn):
    return bl._submit(call, "unknown", "The whitebox baseline could not infer the output.",
                      "def f(tokens):\n    return [None] * len(tokens)\n", 0.05, "No decoded outputs available")
