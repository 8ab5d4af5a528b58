"""The statistics every report shares: Wilson intervals, the accuracy cell, the condition column and its
order, and the LLM column's names (agent/evaluation/report.py, breakdown.py, plots.py and the viewer read
them from here)."""

from __future__ import annotations

import math
from pathlib import PurePath

from tracr_agent.agent.evaluation.results import ResultRecord
from tracr_agent.tools.conditions import CONDITIONS, Residual


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    if n == 0:
        return (0.0, 0.0)
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # The bounds at k = 0 and k = n are exactly 0 and 1; floating point would leave a hair off.
    return (0.0 if k == 0 else max(0.0, centre - half), 1.0 if k == n else min(1.0, centre + half))


def fmt_acc(k: int, n: int) -> str:
    lo, hi = wilson(k, n)
    return f"{k}/{n} ({100 * k / n:.0f}%, CI {100 * lo:.0f}–{100 * hi:.0f})" if n else "-"


def condition_name(r: ResultRecord) -> str:
    """The condition column: a raw-residual run and a transformed subject's are rows of their own,
    `whitebox (raw)`, `whitebox (rotated)`, `whitebox (raw, compressed:12)`, next to `whitebox`."""
    marks = ([] if r.residual == Residual.LABELLED else [str(r.residual)]) + ([r.transform] if r.transform else [])
    return f"{r.condition} ({', '.join(marks)})" if marks else r.condition


def condition_order(name: str) -> tuple:
    """Conditions in the study's order (static, static+io, blackbox, whitebox, full), a residual mode or a
    transform after its condition (`whitebox (raw)`, `whitebox (rotated)` after `whitebox`), anything
    unknown last by name."""
    base, _, mode = str(name).partition(" (")
    order = list(CONDITIONS)
    return (order.index(base) if base in order else len(order), base, mode)


def short_llm_names(specs) -> dict[str, str]:
    """A display name per LLM spec that does not flood a table or a plot: `@URL` dropped from
    `MODEL@URL`, a replayed transcript by its file name — unless two specs would then read alike, in which
    case both keep their full spec."""
    def short(spec: str) -> str:
        kind, _, rest = spec.partition(":")
        if kind == "replay":
            return f"replay:{PurePath(rest).name}"
        model, at, _ = rest.partition("@")
        return f"{kind}:{model}" if at and model else spec

    specs = list(dict.fromkeys(specs))
    names = {s: short(s) for s in specs}
    taken: dict[str, int] = {}
    for name in names.values():
        taken[name] = taken.get(name, 0) + 1
    return {s: n if taken[n] == 1 else s for s, n in names.items()}
