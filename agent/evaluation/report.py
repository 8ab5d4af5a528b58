"""Reports over an evaluation directory: rich table, report.md and report.html with plots.

Rows are task × condition (× residual mode and transform: `whitebox (raw)` and `whitebox (rotated)` are
rows of their own) × LLM: label, family and functional accuracy and the share *explained* (functionally
correct and not tabulated) with Wilson 95% intervals, mean tool calls, tokens, cost and wall time, and the
forced submissions. Conditions read in the study's order (static, static+io, blackbox, whitebox, full).
Family and explained count only the records scored with them (results from before scorer version 2 show
"-" until `rescore`). Label accuracy counts only subjects with a conventional name: generated programs and
a suite's models show "n/a". A closed-world investigator (one that knows the zoo's answers, e.g.
`baseline-closed`) is marked in the LLM column, and an LLM is shown by its name (`--llm-name`, else its
spec without the `@URL`), never a flood of URL. The `forced` column counts the predictions made in the
forced last turn and names the limits that were reached; a cost is `unknown` where a model had no price,
never $0. Notes under the table warn when the trials of a row are deterministic replicas
(`replica_notes`): its intervals then count one episode as many.

The records come from `report_records`: every score recomputed from the evaluation directory's own
transcripts (agent/evaluation/rescore.py), nothing taken from results.jsonl on trust. An episode no
transcript can score is *unscorable*: it stays in its row's n, is never correct, is counted in its own
column, and is named in the headline. Every text from a record is escaped where it is drawn (rich
Text, HTML, Markdown), and every file is written through a temporary file and a rename.

report.md and report.html read: the headline (functional accuracy per condition × LLM; unscorable
episodes first), the accuracy chart by condition × LLM, the table and its notes, the breakdowns
(agent/evaluation/breakdown.py), the other plots, then the appendix of generated programs.
"""

from __future__ import annotations

import base64
import sys
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from tracr_agent.agent.evaluation import breakdown
from tracr_agent.agent.evaluation.breakdown import label_applies
from tracr_agent.agent.evaluation.plots import PLOTS, SKIP_REASONS
from tracr_agent.agent.evaluation.rescore import fresh_records
from tracr_agent.agent.evaluation.results import ResultRecord
from tracr_agent.agent.evaluation.stats import condition_name, condition_order, fmt_acc, short_llm_names, wilson
from tracr_agent.agent.investigators.names import CLOSED_WORLD
from tracr_agent.tools.errors import UserError
from tracr_agent.tools.subjects.spec import NO_TRANSFORM
from tracr_agent.tools.untrusted.files import write_atomic
from tracr_agent.tools.untrusted.text import html_text, shown_data


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
    """The total cost of the calls whose price is known (`cost_unknown`: some were not)."""
    seconds: float
    family_k: int = 0
    family_n: int = 0
    explained_k: int = 0
    explained_n: int = 0
    label_n: Optional[int] = None
    """Records with a label to get right (generated and imported subjects have none); None: all n."""
    filters: tuple = ()
    """(field, value) pairs that select this row's episodes in the viewer (VIEW_FILE's URL hash)."""
    cost_unknown: bool = False
    """Some episode's cost was unknown (a model without a price): `cost` leaves it out."""
    forced_k: int = 0
    """Predictions made in the forced last turn."""
    limits_hit: tuple = ()
    """(limit, episodes) for each limit reached, most often first."""
    unscorable: int = 0
    """Episodes in n that no transcript could score (never correct)."""
    spec: str = ""
    """The LLM's spec (`llm` is the name it is shown by)."""

    @property
    def label_total(self) -> int:
        return self.n if self.label_n is None else self.label_n

    @property
    def func_acc(self) -> float:
        return self.func_k / self.n if self.n else 0.0


def task_name(r: ResultRecord) -> str:
    """The task column: a suite's models are prefixed with the suite, `SUITE/MODEL`."""
    return f"{r.suite}/{r.task}" if r.suite else r.task


def llm_names(records: list[ResultRecord], given: Optional[dict[str, str]] = None) -> dict[str, str]:
    """The LLM column's text per spec: `given` (report --llm-name), else the name the records carry (eval
    --llm-name), else the spec without its `@URL` (agent/evaluation/stats.py); closed-world investigators
    say so."""
    names = short_llm_names(r.llm for r in records)
    for r in records:
        if getattr(r, "llm_name", None):
            names[r.llm] = r.llm_name
    names.update(given or {})
    return {spec: f"{name} (closed-world)" if spec in CLOSED_WORLD else name for spec, name in names.items()}


def summarize(records: list[ResultRecord], overall: bool = True, names: Optional[dict[str, str]] = None) -> list[Row]:
    """One row per task × condition × LLM, then (with several tasks) an '(all tasks)' row per condition × LLM."""
    names = names or llm_names(records)
    order = lambda key: (key[0], condition_order(key[1]), names.get(key[2], key[2]))  # noqa: E731
    groups: dict[tuple, list[ResultRecord]] = {}
    for r in records:
        groups.setdefault((task_name(r), condition_name(r), r.llm), []).append(r)
    items = sorted(groups.items(), key=lambda kv: order(kv[0]))
    suites = {r.suite for r in records if r.suite}
    if overall and suites:  # a row per suite of imported models, next to the zoo tasks' rows
        per_suite: dict[tuple, list[ResultRecord]] = {}
        for r in records:
            if r.suite:
                per_suite.setdefault((f"(suite {r.suite})", condition_name(r), r.llm), []).append(r)
        items += sorted(per_suite.items(), key=lambda kv: order(kv[0]))
    if overall and len({task_name(r) for r in records}) > 1:
        totals: dict[tuple, list[ResultRecord]] = {}
        for r in records:
            totals.setdefault(("(all tasks)", condition_name(r), r.llm), []).append(r)
        items += sorted(totals.items(), key=lambda kv: order(kv[0]))
    rows = []
    for (task, cond, llm), rs in items:
        n = len(rs)
        # an unscorable episode counts, as wrong, wherever a scored one would
        fam = [r.family_correct for r in rs if r.family_correct is not None or r.unscorable]
        expl = [r.explained for r in rs if r.explained is not None or r.unscorable]
        labelled = [r for r in rs if label_applies(r)]
        rows.append(Row(task, cond, names.get(llm, llm), n, sum(bool(r.label_correct) for r in labelled),
                        sum(bool(r.functional_correct) for r in rs), sum(r.status == "error" for r in rs),
                        sum(r.tool_calls for r in rs) / n, sum(r.tokens for r in rs) / n, sum(r.cost for r in rs),
                        sum(r.duration_s for r in rs) / n, sum(map(bool, fam)), len(fam), sum(map(bool, expl)),
                        len(expl), len(labelled), _filters(task, rs[0]), any(r.cost_unknown for r in rs),
                        sum(bool(r.forced) for r in rs), tuple(Counter(r.limit for r in rs if r.limit).most_common()),
                        sum(bool(r.unscorable) for r in rs), llm))
    return rows


def _filters(task: str, r: ResultRecord) -> tuple:
    """The viewer's filter for a row: its task (aggregate rows have none), condition, residual mode, transform,
    LLM."""
    out = [] if task.startswith("(") else [("task", task)]
    return tuple(out + [("condition", r.condition), ("residual", r.residual),
                        ("transform", r.transform or NO_TRANSFORM), ("llm", r.llm)])


COLUMNS = ("task", "condition", "LLM", "n", "label acc", "family acc", "functional acc", "explained",
           "tool calls", "tokens", "cost $", "time s", "forced")
UNSCORABLE_COLUMN = "unscorable"
"""Shown after the others when some episode is unscorable."""


def columns(rows: list[Row]) -> tuple:
    return COLUMNS + ((UNSCORABLE_COLUMN,) if any(r.unscorable for r in rows) else ())


def row_cells(r: Row, with_unscorable: bool = False) -> list[str]:
    return [r.task, r.condition, r.llm, str(r.n), fmt_acc(r.label_k, r.label_total) if r.label_total else "n/a",
            fmt_acc(r.family_k, r.family_n), fmt_acc(r.func_k, r.n), fmt_acc(r.explained_k, r.explained_n),
            f"{r.tool_calls:.1f}", f"{r.tokens:.0f}", cost_cell(r), f"{r.seconds:.1f}", forced_cell(r)] \
        + ([str(r.unscorable)] if with_unscorable else [])


def cost_cell(r: Row) -> str:
    if r.cost_unknown:
        return f"{r.cost:.4f} + unknown" if r.cost else "unknown"
    return f"{r.cost:.4f}"


def forced_cell(r: Row) -> str:
    """`k/n`, then the limits reached and how often (e.g. `3/10 (tool-call 2, context (tokens) 1)`)."""
    hit = ", ".join(f"{name} {count}" for name, count in r.limits_hit)
    return f"{r.forced_k}/{r.n}" + (f" ({hit})" if hit else "")


def compact_acc(k: int, n: int) -> str:
    """k/n and the 95% Wilson interval in percent, `3/10 [11–60]`: a cell that fits a terminal."""
    if not n:
        return "-"
    lo, hi = wilson(k, n)
    return f"{k}/{n} [{100 * lo:.0f}–{100 * hi:.0f}]"


TERMINAL_COLUMNS = ("task", "condition", "LLM", "n", "label", "family", "functional", "explained", "calls",
                    "tokens", "cost $", "s", "forced")
TERMINAL_TITLE = "tracr-agent evaluation · k/n correct [95% Wilson interval, %] · mean calls, tokens, s per episode"


def terminal_columns(rows: list[Row]) -> tuple:
    """TERMINAL_COLUMNS, and `unscorable` when some episode is."""
    return TERMINAL_COLUMNS + ((UNSCORABLE_COLUMN,) if any(r.unscorable for r in rows) else ())


def terminal_cells(rows: list[Row]) -> list[list[str]]:
    """The table for a terminal: accuracy cells compact (`k/n [lo–hi]`), as `terminal_columns(rows)`."""
    unscorable = UNSCORABLE_COLUMN in terminal_columns(rows)
    return [[r.task, r.condition, r.llm, str(r.n), compact_acc(r.label_k, r.label_total) if r.label_total else "n/a",
             compact_acc(r.family_k, r.family_n), compact_acc(r.func_k, r.n), compact_acc(r.explained_k, r.explained_n),
             f"{r.tool_calls:.1f}", f"{r.tokens:.0f}", cost_cell(r), f"{r.seconds:.1f}", forced_cell(r)]
            + ([str(r.unscorable)] if unscorable else []) for r in rows]


def replica_notes(records: list[ResultRecord], names: Optional[dict[str, str]] = None) -> list[str]:
    """One warning per task × condition × LLM whose trials are deterministic replicas: several trials,
    every one asked the same first prompt with the same settings (`prompt_sha`) by an investigator that
    answers alike (`replicable`: a built-in or replayed one, or an LLM at temperature 0)."""
    names = names or {}
    groups: dict[tuple, list[ResultRecord]] = {}
    for r in records:
        groups.setdefault((task_name(r), condition_name(r), r.llm), []).append(r)
    notes = []
    for (task, cond, llm), rs in sorted(groups.items(), key=lambda kv: (kv[0][0], condition_order(kv[0][1]), kv[0][2])):
        shas = {r.prompt_sha for r in rs}
        if len(rs) > 1 and len(shas) == 1 and None not in shas and all(r.replicable for r in rs):
            why = "a deterministic investigator" if rs[0].temperature is None else f"temperature {rs[0].temperature:g}"
            notes.append(f"{task} · {cond} · {names.get(llm, llm)}: the {len(rs)} trials are deterministic replicas "
                         f"(identical prompts and settings, {why}): they are one observation, and their interval is "
                         "overconfident")
    return notes


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
            with warnings.catch_warnings():  # a name shown as ␛ has no glyph in the font: drawn as a box
                warnings.filterwarnings("ignore", message="Glyph .* missing from font")
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
CHART = PLOTS[0][0]
"""The accuracy chart by condition × LLM, shown right after the headline."""


def view_link(r: Row) -> str:
    """The viewer's episode list filtered to this row's episodes."""
    from urllib.parse import quote

    return f"{VIEW_FILE}#" + "&".join(f"{k}={quote(str(v), safe='')}" for k, v in r.filters)


@dataclass
class Reports:
    md: Path
    html: Path
    failed_plots: list[str]
    warning: Optional[str] = None
    """Set when some episodes were scored with --unsafe-sandbox (shown atop both reports)."""
    notes: list[str] = field(default_factory=list)
    """Warnings about the table (`replica_notes`), shown under it in both reports."""
    unscorable: Optional[str] = None
    """Set when some episodes could not be scored from their own transcript (atop both reports)."""
    plots: list[str] = field(default_factory=list)
    """The plots drawn (file names beside the reports)."""


def unsafe_warning(records: list[ResultRecord]) -> Optional[str]:
    """The report's warning when some episodes were scored without OS-level isolation."""
    n = sum(bool(r.unsafe_sandbox) for r in records)
    if not n:
        return None
    return (f"UNSAFE: {n} of {len(records)} episode(s) were scored with --unsafe-sandbox: their submitted "
            f"code ran without OS-level isolation (only rlimits and an audit hook it can switch off).")


def write_reports(out_dir: Path, rows: list[Row], records: list[ResultRecord], linked: bool = False,
                  names: Optional[dict[str, str]] = None) -> Reports:
    """Writes the plots, report.md and report.html (`records`: as `report_records` scored them; `names`:
    `--llm-name`s); a plot that fails is named in `failed_plots` (and in both reports) instead of stopping
    the rest. Episodes scored with --unsafe-sandbox, and unscorable ones, put a warning at the top of both.
    `linked`: each row links into the batch viewer (VIEW_FILE, which the caller writes next to the reports)."""
    out_dir = Path(out_dir)
    names = llm_names(records, names)
    warning = unsafe_warning(records)
    notes = replica_notes(records, names)
    unscorable = breakdown.unscorable_line(records)
    plots, failed, skipped = _plots(rows)
    for name, data in plots:
        write_atomic(out_dir / name, data)
    chart = [(n, d) for n, d in plots if n == CHART]
    others = [(n, d) for n, d in plots if n != CHART]
    missing = failed + skipped
    table_cols = columns(rows)
    cols = table_cols + (("episodes",) if linked else ())

    def md_text(text: str) -> str:
        return html_text(text, one_line=True, quote=False)

    md = ["# tracr-agent evaluation", ""] + [f"> **⚠ {md_text(w)}**\n" for w in (warning, unscorable) if w]
    md += breakdown.headline_markdown(records, names) + [f"![{n}]({n})" for n, _ in chart] + [""]
    md += [f"Results: `{md_text(out_dir / 'results.jsonl')}`", "", "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    md += ["| " + " | ".join([breakdown.md_cell(c) for c in row_cells(r, UNSCORABLE_COLUMN in table_cols)]
                             + ([f"[view]({view_link(r)})"] if linked else [])) + " |" for r in rows]
    md += [""] + [f"> ⚠ {md_text(note)}" for note in notes] + ([""] if notes else [])
    md += breakdown.tables_markdown(records, names)
    md += [f"![{n}]({n})" for n, _ in others] + [f"*{md_text(line)}*" for line in missing] + [""]
    md += breakdown.appendix_markdown(records)
    md_path = write_atomic(out_dir / "report.md", "\n".join(md).rstrip() + "\n")

    def imgs(items) -> str:
        return "".join(f'<figure><img alt="{html_text(n)}" src="data:image/png;base64,{base64.b64encode(d).decode()}"/>'
                       "</figure>" for n, d in items)

    cells = "".join(
        "<tr>" + "".join(f"<td>{html_text(c)}</td>" for c in row_cells(r, UNSCORABLE_COLUMN in table_cols))
        + (f'<td><a href="{html_text(view_link(r))}">view</a></td>' if linked else "") + "</tr>" for r in rows)
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>tracr-agent evaluation</title>"
        "<style>body{font-family:sans-serif;margin:2em;color:#1d1d1f;background:#fff}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}td:nth-child(-n+3){text-align:left}"
        "img{max-width:100%}.unsafe{background:#fdd;border:2px solid #c00;padding:8px;font-weight:bold}"
        "</style></head><body><h1>tracr-agent evaluation</h1>"
        + "".join(f"<p class='unsafe'>⚠ {html_text(w)}</p>" for w in (warning, unscorable) if w)
        + breakdown.headline_html(records, names) + imgs(chart)
        + f"<h2>Results</h2><table><thead><tr>{''.join(f'<th>{html_text(c)}</th>' for c in cols)}</tr></thead>"
        f"<tbody>{cells}</tbody></table>" + "".join(f"<p class='note'>⚠ {html_text(n)}</p>" for n in notes)
        + f"{breakdown.tables_html(records, names)}{imgs(others)}"
        + "".join(f"<p><em>{html_text(line)}</em></p>" for line in missing)
        + breakdown.appendix_html(records) + "</body></html>")
    html_path = write_atomic(out_dir / "report.html", page)
    return Reports(md_path, html_path, failed, warning, notes=notes, unscorable=unscorable, plots=[n for n, _ in plots])


def report_records(out_dir: Path, judge_llm: Optional[str] = None, models: Optional[Path] = None,
                   keep: frozenset = frozenset(), programs: tuple = ()) -> list[ResultRecord]:
    """Every record of the evaluation scored afresh from its own transcript (rescore.fresh_records;
    `keep`: keys this process scored itself; `programs`: the user's program files, FILE.py:FUNC). Every
    line must read: a corrupt one stops the report (one line naming it), never a table that silently leaves
    an episode out. Every text in them is `shown` (tools/untrusted/text.py) before any table, plot or page
    draws it."""
    return [shown_data(r) for r in fresh_records(Path(out_dir), judge_llm, models, keep, programs)[1]]


def load_rows(out_dir: Path, names: Optional[dict[str, str]] = None) -> list[Row]:
    """The report's rows over `report_records(out_dir)` (`names`: --llm-name)."""
    records = report_records(out_dir)
    return summarize(records, names=llm_names(records, names))


def parse_llm_names(values: list[str], specs: list[str]) -> dict[str, str]:
    """`--llm-name` values: `SPEC=NAME` each, or (with one LLM in `specs`) a bare NAME; one UserError line
    for a spec that is not there or a bare name with several LLMs."""
    out: dict[str, str] = {}
    for value in values:
        spec, eq, name = value.rpartition("=")
        if not eq:
            if len(set(specs)) != 1:
                raise UserError(f"--llm-name {value!r}: these results hold {len(set(specs))} LLMs; say which one "
                                "as SPEC=NAME (e.g. --llm-name 'openai-compatible:qwen@http://host/v1=qwen')")
            spec, name = specs[0], value
        if spec not in specs:
            raise UserError(f"--llm-name {value!r}: no LLM {spec!r} in these results (they hold: "
                            f"{', '.join(sorted(set(specs)))})")
        if not name.strip():
            raise UserError(f"--llm-name {value!r}: the name is empty")
        out[spec] = name.strip()
    return out
