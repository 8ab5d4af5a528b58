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
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from tracr_agent.agent.evaluation import breakdown
from tracr_agent.agent.evaluation.results import ResultRecord, read_results
from tracr_agent.agent.evaluation.breakdown import label_applies
from tracr_agent.agent.evaluation.plots import PLOTS, SKIP_REASONS
from tracr_agent.agent.evaluation.stats import condition_name, fmt_acc, wilson
from tracr_agent.agent.investigators.registry import CLOSED_WORLD


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
    filters: tuple = ()
    """(field, value) pairs that select this row's episodes in the viewer (VIEW_FILE's URL hash)."""

    @property
    def label_total(self) -> int:
        return self.n if self.label_n is None else self.label_n

    @property
    def func_acc(self) -> float:
        return self.func_k / self.n if self.n else 0.0


def task_name(r: ResultRecord) -> str:
    """The task column: a suite's models are prefixed with the suite, `SUITE/MODEL`."""
    return f"{r.suite}/{r.task}" if r.suite else r.task


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
                        sum(r.duration_s for r in rs) / n, sum(fam), len(fam), sum(expl), len(expl), len(labelled),
                        _filters(task, rs[0])))
    return rows


def _filters(task: str, r: ResultRecord) -> tuple:
    """The viewer's filter for a row: its task (aggregate rows have none), condition, residual mode, LLM."""
    out = [] if task.startswith("(") else [("task", task)]
    return tuple(out + [("condition", r.condition), ("residual", r.residual), ("llm", r.llm)])


def llm_name(spec: str) -> str:
    """The LLM column: closed-world investigators (they know the zoo's answers) say so."""
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


def _plots(rows: list[Row]) -> tuple[list[tuple[str, bytes]], list[str], list[str]]:
    """The PNGs that could be drawn, one line per plot that failed (a plot never costs the report), and
    one line per plot left out because it had nothing to show."""
    if not rows:
        return [], [], []
    out, failed, skipped = [], [], []
    for name, draw in PLOTS:
        try:
            import matplotlib

            matplotlib.use("Agg")
            png = draw(rows)
        except Exception as e:  # noqa: BLE001 — any plotting failure is reported, the tables still get written
            plt = sys.modules.get("matplotlib.pyplot")
            if plt is not None:
                plt.close("all")  # drop the half-drawn figure
            failed.append(f"plot {name} failed: {type(e).__name__}: {e}".splitlines()[0])
            continue
        if png is None:
            skipped.append(f"{name} not drawn: {SKIP_REASONS.get(name, 'nothing to show')}")
        else:
            out.append((name, png))
    return out, failed, skipped


VIEW_FILE = "view.html"
"""The batch viewer (`tracr-agent view DIR`) the report's rows link into."""


def view_link(r: Row) -> str:
    """The viewer's episode list filtered to this row's episodes."""
    from urllib.parse import quote

    return f"{VIEW_FILE}#" + "&".join(f"{k}={quote(v, safe='')}" for k, v in r.filters)


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


def write_reports(out_dir: Path, rows: list[Row], linked: bool = False) -> Reports:
    """Writes the plots, report.md and report.html; a plot that fails is named in `failed_plots`
    (and in both reports) instead of stopping the rest. Episodes scored with --unsafe-sandbox
    (results.jsonl says which) put a warning at the top of both. `linked`: each row links into the
    batch viewer (VIEW_FILE, which the caller writes next to the reports)."""
    out_dir = Path(out_dir)
    records = read_results(out_dir)
    warning = unsafe_warning(records)
    plots, failed, skipped = _plots(rows)
    for name, data in plots:
        (out_dir / name).write_bytes(data)
    cols = COLUMNS + (("episodes",) if linked else ())
    md = ["# tracr-agent evaluation", ""] + ([f"> **⚠ {warning}**", ""] if warning else []) + [
          f"Results: `{out_dir / 'results.jsonl'}`", "",
          "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    md += ["| " + " | ".join([c.replace("|", "\\|") for c in row_cells(r)]
                             + ([f"[view]({view_link(r)})"] if linked else [])) + " |" for r in rows]
    md += [""] + breakdown.markdown(records)
    md += [f"![{n}]({n})" for n, _ in plots] + [f"*{line}*" for line in failed + skipped]
    md_path = out_dir / "report.md"
    md_path.write_text("\n".join(md) + "\n")
    cells = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row_cells(r))
        + (f'<td><a href="{html.escape(view_link(r))}">view</a></td>' if linked else "") + "</tr>" for r in rows)
    imgs = "".join(f'<figure><img alt="{n}" src="data:image/png;base64,{base64.b64encode(d).decode()}"/></figure>'
                   for n, d in plots) + "".join(f"<p><em>{html.escape(line)}</em></p>" for line in failed + skipped)
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>tracr-agent evaluation</title>"
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}td:nth-child(-n+3){text-align:left}"
        "img{max-width:100%}.unsafe{background:#fdd;border:2px solid #c00;padding:8px;font-weight:bold}"
        "</style></head><body><h1>tracr-agent evaluation</h1>"
        + (f"<p class='unsafe'>⚠ {html.escape(warning)}</p>" if warning else "") +
        f"<table><thead><tr>{''.join(f'<th>{html.escape(c)}</th>' for c in cols)}</tr></thead>"
        f"<tbody>{cells}</tbody></table>{breakdown.html_sections(records)}{imgs}</body></html>")
    html_path = out_dir / "report.html"
    html_path.write_text(page)
    return Reports(md_path, html_path, failed, warning)


def load_rows(out_dir: Path) -> list[Row]:
    """Every record must read: a corrupt line stops the report (one line naming it), never a
    table that silently leaves an episode out."""
    return summarize(read_results(out_dir, strict=True))
