"""The report's plots (PNG, matplotlib): sized to stay readable from 3 rows to 100+.

- accuracy_by_condition.png: functional accuracy over all tasks per condition (in the study's order:
  static, static+io, blackbox, whitebox, full) × LLM, a bar each with its 95% Wilson interval — the
  chart the report shows right after its headline;
- accuracy.png: a task × (condition · LLM) heatmap of functional accuracy, k/n written in each cell
  (while the cells are big enough to hold it);
- accuracy_intervals.png: small multiples, one panel per condition · LLM, of a dot plot of the tasks
  sorted by accuracy with their 95% Wilson intervals (the same task order in every panel);
- accuracy_vs_tokens.png: accuracy against mean tokens, only for the rows that spent tokens (a
  baseline spends none: with no such row the plot is left out and `skipped` says why).
Aggregate rows ("(all tasks)", "(suite …)") are left out of the plots: they would count episodes twice.
"""

from __future__ import annotations

import io
from typing import Callable, Optional

from tracr_agent.agent.evaluation.stats import condition_order, wilson

ROW_INCH = 0.22
"""Height per task row: 100 tasks make a 22-inch figure, labels at 7 pt stay legible."""
MAX_ANNOTATED_ROWS = 60


def _png(fig) -> bytes:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return buf.getvalue()


def _per_task(rows) -> list:
    return [r for r in rows if not r.task.startswith("(")]


def _columns(rows) -> list[tuple[str, str]]:
    return sorted({(r.condition, r.llm) for r in rows}, key=lambda c: (condition_order(c[0]), c[1]))


def _col_label(col: tuple[str, str], several_llms: bool) -> str:
    return f"{col[0]}\n{col[1][:24]}" if several_llms else col[0]


def _task_order(rows) -> list[str]:
    """Tasks sorted by their mean accuracy over the columns, best first (ties by name)."""
    acc: dict[str, list[float]] = {}
    for r in rows:
        acc.setdefault(r.task, []).append(r.func_acc)
    return sorted(acc, key=lambda t: (-sum(acc[t]) / len(acc[t]), t))


def _layout(rows) -> Optional[tuple[list, list, list[str], bool]]:
    """(per-task rows, columns, tasks in plot order, several LLMs?) or None when no task row is left."""
    rows = _per_task(rows)
    if not rows:
        return None
    cols = _columns(rows)
    return rows, cols, _task_order(rows), len({l for _, l in cols}) > 1


def accuracy_by_condition(rows) -> Optional[bytes]:
    import matplotlib.pyplot as plt
    import numpy as np

    rows = _per_task(rows)
    if not rows:
        return None
    conds = sorted({r.condition for r in rows}, key=condition_order)
    llms = sorted({r.llm for r in rows})
    totals: dict[tuple, list[int]] = {}
    for r in rows:
        k_n = totals.setdefault((r.condition, r.llm), [0, 0])
        k_n[0] += r.func_k
        k_n[1] += r.n
    width = 0.8 / len(llms)
    fig, ax = plt.subplots(figsize=(max(5.0, 1.2 * len(conds) * max(1, len(llms)) ** 0.5 + 2.5), 4.2))
    for i, llm in enumerate(llms):
        xs, accs, errs, labels = [], [], [[], []], []
        for j, c in enumerate(conds):
            if (c, llm) not in totals:
                continue
            k, n = totals[(c, llm)]
            lo, hi = wilson(k, n)
            xs.append(j - 0.4 + width * (i + 0.5))
            accs.append(k / n)
            errs[0].append(k / n - lo)
            errs[1].append(hi - k / n)
            labels.append(f"{k}/{n}")
        bars = ax.bar(xs, accs, width * 0.92, yerr=np.array(errs), capsize=3, label=llm[:40],
                      error_kw={"elinewidth": 1, "ecolor": "#333333"})
        for bar, text in zip(bars, labels):
            ax.text(bar.get_x() + bar.get_width() / 2, 0.02, text, ha="center", va="bottom", fontsize=7,
                    rotation=90 if len(llms) > 3 else 0)
    ax.set_xticks(range(len(conds)), conds, fontsize=9)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("functional accuracy")
    ax.grid(axis="y", alpha=0.3)
    ax.set_title("Functional accuracy by condition × LLM (all tasks; bars: 95% Wilson interval)", fontsize=10)
    if len(llms) > 1:
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return _png(fig)


def accuracy_heatmap(rows) -> Optional[bytes]:
    import matplotlib.pyplot as plt
    import numpy as np

    layout = _layout(rows)
    if layout is None:
        return None
    rows, cols, tasks, several = layout
    cell = {(r.task, r.condition, r.llm): r for r in rows}
    grid = np.full((len(tasks), len(cols)), np.nan)
    for i, t in enumerate(tasks):
        for j, (c, l) in enumerate(cols):
            if (t, c, l) in cell:
                grid[i, j] = cell[(t, c, l)].func_acc
    fig, ax = plt.subplots(figsize=(max(4.5, 1.1 * len(cols) + 2.5), max(2.5, ROW_INCH * len(tasks) + 1.6)))
    im = ax.imshow(grid, cmap="RdYlGn", vmin=0, vmax=1, aspect="auto", interpolation="nearest")
    ax.set_xticks(range(len(cols)), [_col_label(c, several) for c in cols], fontsize=8)
    ax.xaxis.tick_top()
    ax.set_yticks(range(len(tasks)), tasks, fontsize=7 if len(tasks) > 30 else 9)
    if len(tasks) <= MAX_ANNOTATED_ROWS and len(cols) <= 16:
        for i, t in enumerate(tasks):
            for j, (c, l) in enumerate(cols):
                r = cell.get((t, c, l))
                if r is not None:
                    dark = r.func_acc < 0.2 or r.func_acc > 0.85  # the colour map's dark ends
                    ax.text(j, i, f"{r.func_k}/{r.n}", ha="center", va="center", fontsize=7,
                            color="white" if dark else "black")
    fig.colorbar(im, ax=ax, fraction=0.04, pad=0.02, label="functional accuracy")
    ax.set_title("Functional accuracy per task (k/n correct)", fontsize=10)
    return _png(fig)


def accuracy_intervals(rows) -> Optional[bytes]:
    import matplotlib.pyplot as plt

    layout = _layout(rows)
    if layout is None:
        return None
    rows, cols, tasks, several = layout
    y = {t: i for i, t in enumerate(tasks)}
    fig, axes = plt.subplots(1, len(cols), sharey=True, squeeze=False,
                             figsize=(max(5, 2.4 * len(cols) + 2), max(2.5, ROW_INCH * len(tasks) + 1.4)))
    for ax, (c, l) in zip(axes[0], cols):
        for r in (r for r in rows if (r.condition, r.llm) == (c, l)):
            lo, hi = wilson(r.func_k, r.n)
            ax.plot([lo, hi], [y[r.task]] * 2, color="#7a8aa6", lw=1.5, solid_capstyle="butt")
            ax.plot([r.func_acc], [y[r.task]], "o", color="#1f4e9c", ms=4)
        ax.set_xlim(-0.02, 1.02)
        ax.set_title(_col_label((c, l), several).replace("\n", " · "), fontsize=9)
        ax.grid(axis="x", alpha=0.3)
        ax.set_xlabel("functional accuracy", fontsize=8)
    axes[0][0].set_yticks(range(len(tasks)), tasks, fontsize=7 if len(tasks) > 30 else 9)
    axes[0][0].set_ylim(len(tasks) - 0.5, -0.5)
    fig.suptitle("Accuracy with 95% Wilson intervals, tasks sorted by mean accuracy", fontsize=10)
    return _png(fig)


def accuracy_vs_tokens(rows) -> Optional[bytes]:
    import matplotlib.pyplot as plt

    spent = [r for r in _per_task(rows) if r.tokens > 0]
    if not spent:
        return None
    fig, ax = plt.subplots(figsize=(6, 4.5))
    for col in _columns(spent):
        rs = [r for r in spent if (r.condition, r.llm) == col]
        ax.scatter([r.tokens for r in rs], [r.func_acc for r in rs], label=" · ".join(col), alpha=0.75)
    ax.set_xscale("log")
    ax.set_xlabel("mean tokens per episode (log)")
    ax.set_ylabel("functional accuracy")
    ax.set_ylim(-0.05, 1.05)
    ax.set_title("Accuracy against tokens spent (rows that spent tokens)")
    ax.legend(fontsize=7)
    return _png(fig)


SKIP_REASONS = {"accuracy_vs_tokens.png": "no row spent LLM tokens (e.g. the baseline only)"}

PLOTS: tuple[tuple[str, Callable], ...] = (
    ("accuracy_by_condition.png", accuracy_by_condition),
    ("accuracy.png", accuracy_heatmap),
    ("accuracy_intervals.png", accuracy_intervals),
    ("accuracy_vs_tokens.png", accuracy_vs_tokens),
)
"""(file name, draw(rows) -> PNG bytes, or None when the plot has nothing to show)."""
