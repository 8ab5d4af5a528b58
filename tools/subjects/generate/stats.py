"""The distribution of what generated programs do, per difficulty (for `generate --stats` and the benchmark).

Reads the accepted tasks' features (difficulty.Measures plus the compiled
model's layers), so it costs nothing once the tasks are generated.
"""

from __future__ import annotations

MEASURES = (("steps", "steps"), ("patterns", "patterns"), ("depth", "depth"), ("attention_depth", "attn depth"),
            ("layers", "layers"))
COLUMNS = ("difficulty", "tasks", *(title for _, title in MEASURES), "numerical")
"""patterns: distinct attention patterns; attn depth: attention steps on the longest chain; numerical: the share
with a numerical output."""


def _spread(values: list) -> str:
    """'min-max (mean)', or the one value."""
    lo, hi, mean = min(values), max(values), sum(values) / len(values)
    return f"{lo}" if lo == hi else f"{lo}-{hi} ({mean:.1f})"


def distribution(features: dict[int, list[dict]]) -> list[list[str]]:
    """One row of COLUMNS per difficulty, from the accepted tasks' features."""
    rows = []
    for d, fs in sorted(features.items()):
        if not fs:
            continue
        row = [str(d), str(len(fs))]
        for key, _ in MEASURES:
            values = [f[key] for f in fs if f.get(key) is not None]
            row.append(_spread(values) if values else "-")
        numerical = sum(f.get("output") == "numerical" for f in fs)
        row.append(f"{100 * numerical / len(fs):.0f}%")
        rows.append(row)
    return rows
