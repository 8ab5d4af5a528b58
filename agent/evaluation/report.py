"""Reports over an evaluation directory: rich table, report.md and report.html with plots.

Rows are task × condition (× residual mode: `whitebox (raw)` is its own row) × LLM: label, family and functional accuracy and the share
*explained* (functionally correct and not tabulated) with Wilson 95% intervals, mean tool
calls, tokens, cost and wall time. Family and explained count only the records scored with
them (results from before scorer version 2 show "-" until `rescore`). Label accuracy counts only
subjects with a conventional name: generated programs and a suite's models show "n/a"; the report's
headline leads with functional accuracy (agent/evaluation/breakdown.py, with the feature breakdown). A closed-world
investigator (one that knows the zoo's answers, e.g. `baseline-closed`) is marked in the LLM column.
"""

from __future__ import annotations

import base64
import html
import io
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from tracr_agent.agent.evaluation import breakdown
from tracr_agent.agent.evaluation.batch import ResultRecord, read_results
from tracr_agent.agent.evaluation.breakdown import label_applies


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    if n == 0:
        return (0.0, 0.0)
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # The bounds at k = 0 and k = n are exactly 0 and 1; floating point would leave a hair off.
    return (0.0 if k == 0 else max(0.0, centre - half), 1.0 if k == n else min(1.0, centre + half))


@dataclass
class Row:
    task: str
    condition: str
    llm: str
    n: int
    label_k: int
    func_k: int
    errors: int
    tool_calls: float
    tokens: float
    cost: float
    seconds: float
    family_k: int = 0
    family_n: int = 0
    explained_k: int = 0
    explained_n: int = 0
    label_n: Optional[int] = None
    """Records with a label to get right (generated and imported subjects have none); None: all n."""

    @property
    def label_total(self) -> int:
        return self.n if self.label_n is None else self.label_n

    @property
    def label_acc(self) -> float:
        return self.label_k / self.label_total if self.label_total else 0.0

    @property
    def func_acc(self) -> float:
        return self.func_k / self.n if self.n else 0.0


def task_name(r: ResultRecord) -> str:
    """The task column: a suite's models are prefixed with the suite, `SUITE/MODEL`."""
    return f"{r.suite}/{r.task}" if r.suite else r.task


def condition_name(r: ResultRecord) -> str:
    """The condition column: a raw-residual run is its own row, `whitebox (raw)`, next to `whitebox`."""
    return r.condition if r.residual == "labelled" else f"{r.condition} ({r.residual})"


def summarize(records: list[ResultRecord], overall: bool = True) -> list[Row]:
    """One row per task × condition × LLM, then (with several tasks) an '(all tasks)' row per condition × LLM."""
    groups: dict[tuple, list[ResultRecord]] = {}
    for r in records:
        groups.setdefault((task_name(r), condition_name(r), r.llm), []).append(r)
    items = sorted(groups.items())
    suites = {r.suite for r in records if r.suite}
    if overall and suites:  # a row per suite of imported models, next to the zoo tasks' rows
        per_suite: dict[tuple, list[ResultRecord]] = {}
        for r in records:
            if r.suite:
                per_suite.setdefault((f"(suite {r.suite})", condition_name(r), r.llm), []).append(r)
        items += sorted(per_suite.items())
    if overall and len({task_name(r) for r in records}) > 1:
        totals: dict[tuple, list[ResultRecord]] = {}
        for r in records:
            totals.setdefault(("(all tasks)", condition_name(r), r.llm), []).append(r)
        items += sorted(totals.items())
    rows = []
    for (task, cond, llm), rs in items:
        n = len(rs)
        fam = [r.family_correct for r in rs if r.family_correct is not None]
        expl = [r.explained for r in rs if r.explained is not None]
        labelled = [r for r in rs if label_applies(r)]
        rows.append(Row(task, cond, llm_name(llm), n, sum(bool(r.label_correct) for r in labelled),
                        sum(bool(r.functional_correct) for r in rs), sum(r.status == "error" for r in rs),
                        sum(r.tool_calls for r in rs) / n, sum(r.tokens for r in rs) / n, sum(r.cost for r in rs),
                        sum(r.duration_s for r in rs) / n, sum(fam), len(fam), sum(expl), len(expl), len(labelled)))
    return rows


def fmt_acc(k: int, n: int) -> str:
    lo, hi = wilson(k, n)
    return f"{k}/{n} ({100 * k / n:.0f}%, CI {100 * lo:.0f}–{100 * hi:.0f})" if n else "-"


def llm_name(spec: str) -> str:
    """The LLM column: closed-world investigators (they know the zoo's answers) say so."""
    from tracr_agent.agent.backends.llm import CLOSED_WORLD

    return f"{spec} (closed-world)" if spec in CLOSED_WORLD else spec


COLUMNS = ("task", "condition", "LLM", "n", "label acc", "family acc", "functional acc", "explained",
           "tool calls", "tokens", "cost $", "time s")


def row_cells(r: Row) -> list[str]:
    return [r.task, r.condition, r.llm, str(r.n), fmt_acc(r.label_k, r.label_total) if r.label_total else "n/a", fmt_acc(r.family_k, r.family_n),
            fmt_acc(r.func_k, r.n), fmt_acc(r.explained_k, r.explained_n),
            f"{r.tool_calls:.1f}", f"{r.tokens:.0f}", f"{r.cost:.4f}", f"{r.seconds:.1f}"]


def rich_table(rows: list[Row]):
    from rich.table import Table

    t = Table(title="tracr-agent evaluation (95% Wilson intervals)")
    for c in COLUMNS:
        t.add_column(c, justify="left" if c in ("task", "condition", "LLM") else "right")
    for r in rows:
        t.add_row(*row_cells(r))
    return t


def _png(fig) -> bytes:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return buf.getvalue()


def _accuracy_plot(rows: list[Row]) -> bytes:
    import matplotlib.pyplot as plt

    labels = [f"{r.task}\n{r.condition}\n{r.llm[:18]}" for r in rows]
    fig, ax = plt.subplots(figsize=(max(6, 0.7 * len(rows) + 2), 4.5))
    xs = range(len(rows))
    for offset, attr, k_attr, name in ((-0.2, "label_acc", "label_k", "label"), (0.2, "func_acc", "func_k", "functional")):
        vals = [getattr(r, attr) for r in rows]
        cis = [wilson(getattr(r, k_attr), r.label_total if k_attr == "label_k" else r.n) for r in rows]
        # Clipped at 0: for an all-correct cell the Wilson bound rounds a hair below 1.0, and
        # matplotlib refuses a negative error bar.
        err = [[max(0.0, v - lo) for v, (lo, _) in zip(vals, cis)], [max(0.0, hi - v) for v, (_, hi) in zip(vals, cis)]]
        ax.bar([x + offset for x in xs], vals, width=0.4, yerr=err, capsize=3, label=name)
    ax.set_xticks(list(xs))
    ax.set_xticklabels(labels, fontsize=7)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("accuracy")
    ax.set_title("Accuracy per task and condition (95% Wilson intervals)")
    ax.legend()
    return _png(fig)


def _tokens_plot(rows: list[Row]) -> bytes:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.5))
    for cond in sorted({r.condition for r in rows}):
        rs = [r for r in rows if r.condition == cond]
        ax.scatter([max(r.tokens, 1) for r in rs], [r.func_acc for r in rs], label=cond)
    ax.set_xscale("log")
    ax.set_xlabel("mean tokens per episode (log)")
    ax.set_ylabel("functional accuracy")
    ax.set_ylim(-0.05, 1.05)
    ax.set_title("Accuracy against tokens spent")
    ax.legend()
    return _png(fig)


PLOTS = (("accuracy.png", _accuracy_plot), ("accuracy_vs_tokens.png", _tokens_plot))


def _plots(rows: list[Row]) -> tuple[list[tuple[str, bytes]], list[str]]:
    """The PNGs that could be drawn, and one line per plot that failed: a plot never costs the report."""
    if not rows:
        return [], []
    out, failed = [], []
    for name, draw in PLOTS:
        try:
            import matplotlib

            matplotlib.use("Agg")
            out.append((name, draw(rows)))
        except Exception as e:  # noqa: BLE001 — any plotting failure is reported, the tables still get written
            plt = sys.modules.get("matplotlib.pyplot")
            if plt is not None:
                plt.close("all")  # drop the half-drawn figure
            failed.append(f"plot {name} failed: {type(e).__name__}: {e}".splitlines()[0])
    return out, failed


@dataclass
class Reports:
    md: Path
    html: Path
    failed_plots: list[str]
    warning: Optional[str] = None
    """Set when some episodes were scored with --unsafe-sandbox (shown atop both reports)."""


def unsafe_warning(records: list[ResultRecord]) -> Optional[str]:
    """The report's warning when some episodes were scored without OS-level isolation."""
    n = sum(bool(r.unsafe_sandbox) for r in records)
    if not n:
        return None
    return (f"UNSAFE: {n} of {len(records)} episode(s) were scored with --unsafe-sandbox: their submitted "
            f"code ran without OS-level isolation (only rlimits and an audit hook it can switch off).")


def write_reports(out_dir: Path, rows: list[Row]) -> Reports:
    """Writes the plots, report.md and report.html; a plot that fails is named in `failed_plots`
    (and in both reports) instead of stopping the rest. Episodes scored with --unsafe-sandbox
    (results.jsonl says which) put a warning at the top of both."""
    out_dir = Path(out_dir)
    warning = unsafe_warning(read_results(out_dir))
    plots, failed = _plots(rows)
    for name, data in plots:
        (out_dir / name).write_bytes(data)
    md = ["# tracr-agent evaluation", ""] + ([f"> **⚠ {warning}**", ""] if warning else []) + [
          f"Results: `{out_dir / 'results.jsonl'}`", "",
          "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    md += ["| " + " | ".join(c.replace("|", "\\|") for c in row_cells(r)) + " |" for r in rows]
    records = read_results(out_dir)
    md += [""] + breakdown.markdown(records)
    md += [f"![{n}]({n})" for n, _ in plots] + [f"*{line}*" for line in failed]
    md_path = out_dir / "report.md"
    md_path.write_text("\n".join(md) + "\n")
    cells = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row_cells(r)) + "</tr>" for r in rows)
    imgs = "".join(f'<figure><img alt="{n}" src="data:image/png;base64,{base64.b64encode(d).decode()}"/></figure>'
                   for n, d in plots) + "".join(f"<p><em>{html.escape(line)}</em></p>" for line in failed)
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>tracr-agent evaluation</title>"
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}td:nth-child(-n+3){text-align:left}"
        "img{max-width:100%}.unsafe{background:#fdd;border:2px solid #c00;padding:8px;font-weight:bold}"
        "</style></head><body><h1>tracr-agent evaluation</h1>"
        + (f"<p class='unsafe'>⚠ {html.escape(warning)}</p>" if warning else "") +
        f"<table><thead><tr>{''.join(f'<th>{html.escape(c)}</th>' for c in COLUMNS)}</tr></thead>"
        f"<tbody>{cells}</tbody></table>{breakdown.html_sections(records)}{imgs}</body></html>")
    html_path = out_dir / "report.html"
    html_path.write_text(page)
    return Reports(md_path, html_path, failed, warning)


def load_rows(out_dir: Path) -> list[Row]:
    return summarize(read_results(out_dir))
