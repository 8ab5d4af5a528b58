"""The batch overview and the episode list.

The overview: a task × (the axes that vary: condition, LLM, residual mode, transform) heatmap of accuracy
with Wilson intervals on hover, then one breakdown table per other axis the results carry — any
categorical field of the records (a suite, a difficulty, a forced submission, …) with at least two values,
so a new axis needs no code here. Conditions read in the study's order (static, static+io, blackbox,
whitebox, full).

The list: one row per episode with its task, axes, trial, outcome, predicted label, tool calls, tokens,
cost and time; every column sorts (click its header), the text box searches every cell, the selects
filter; the state lives in the URL hash (page.py's script). Every text is HTML-escaped.
"""

from __future__ import annotations

import json
from html import escape
from urllib.parse import quote

from tracr_agent.agent.evaluation.stats import condition_order, short_llm_names, wilson
from tracr_agent.tools.subjects.spec import NO_TRANSFORM
from tracr_agent.agent.render.html.sources import Batch, Episode
from tracr_agent.tools.conditions import Residual

COLUMN_DIMS = (("condition", "condition"), ("llm", "LLM"), ("residual", "residual"), ("transform", "transform"))
"""Fields that split the heatmap's columns, each shown when the batch has more than one value (condition
when none does)."""

NOT_BREAKDOWNS = {"key", "task", "subject", "condition", "llm", "llm_name", "residual", "transform", "trial", "status",
                  "label", "prompt_sha", "replicable", "cost_unknown", "unscorable",
                  "label_correct", "functional_correct", "agreement", "tool_calls", "llm_turns", "tokens", "cost",
                  "duration_s", "transcript", "error", "score", "file", "fingerprint", "actor", "created",
                  "prediction", "problem", "family_correct", "explained", "scorer_version", "functional", "judge",
                  "explanation", "unsafe_sandbox", "sample", "schema_version"}
"""Per-episode fields that are not categories to break accuracy down by."""
MAX_LEVELS = 40
MAX_INT_LEVELS = 8
"""An integer field is a category (a difficulty, a layer count) only with this many values at most."""

METRICS = (("label_correct", "label"), ("family_correct", "family"), ("explained", "explained"))
"""Further verdicts shown in a cell's hover text, each over the episodes that have it."""

OUTCOME_SLUG = {"correct": "correct", "wrong": "wrong", "no prediction": "none"}

DEFAULTS = {"residual": Residual.LABELLED.value, "transform": NO_TRANSFORM}
"""What a record written before a field existed (or with it empty) means by its absence."""


def _value(ep: Episode, key: str) -> str:
    if key == "task":
        return ep.task
    v = ep.get(key)
    v = DEFAULTS.get(key) if v is None else v
    return "" if v is None else str(v)


def _order(key: str):
    """The sort key of an axis' values: conditions in the study's order, the others by name."""
    return condition_order if key == "condition" else (lambda v: v)


def column_dims(episodes: list[Episode]) -> list[tuple[str, str]]:
    varying = [(k, name) for k, name in COLUMN_DIMS if len({_value(e, k) for e in episodes}) > 1]
    return varying or [COLUMN_DIMS[0]]


def llm_names(episodes: list[Episode]) -> dict[str, str]:
    """The LLM column's text per spec: the name given with --llm-name, else a short form of the spec."""
    names = short_llm_names(_value(e, "llm") for e in episodes)
    for e in episodes:
        if e.get("llm_name"):
            names[_value(e, "llm")] = str(e.get("llm_name"))
    return names


def _shown(key: str, value: str, names: dict[str, str]) -> str:
    return names.get(value, value) if key == "llm" else value


def breakdown_fields(episodes: list[Episode]) -> list[str]:
    """Categorical fields of the records (and of their scores) that vary: 2..MAX_LEVELS values (integers:
    at most MAX_INT_LEVELS), not per-episode facts or verdicts."""
    fields: dict[str, set] = {}
    for ep in episodes:
        for k, v in _extras(ep).items():
            fields.setdefault(k, set()).add(v)
    return [k for k, vals in sorted(fields.items())
            if 2 <= len(vals) <= (MAX_INT_LEVELS if all(isinstance(v, int) for v in vals) else MAX_LEVELS)]


def _extras(ep: Episode) -> dict:
    """The categorical values of one episode: the record's extra fields, its score's, and whether the
    submitted implementation was tabulated (score.explanation.tabulated)."""
    out = {}
    score = ep.get("score") if isinstance(ep.get("score"), dict) else {}
    explanation = score.get("explanation") if isinstance(score.get("explanation"), dict) else {}
    for source, prefix in ((ep.record, ""), (score, "score."), (explanation, "")):
        for k, v in source.items():
            if k in NOT_BREAKDOWNS or (source is explanation and k != "tabulated"):
                continue
            if isinstance(v, (str, bool, int)) and not isinstance(v, float):
                out[prefix + k] = v
    return out


def _cell(eps: list[Episode], filters: dict[str, str] | None) -> str:
    n = len(eps)
    if not n:
        return '<td class="cell acc empty" title="no episodes"></td>'
    k = sum(bool(e.correct) for e in eps)
    lo, hi = wilson(k, n)
    tip = f"{k}/{n} correct ({100 * k / n:.0f}%, 95% Wilson CI {100 * lo:.0f}–{100 * hi:.0f}%)"
    for key, name in METRICS:
        verdicts = [e.get(key) for e in eps if e.get(key) is not None]
        if verdicts:
            ok = sum(map(bool, verdicts))
            vlo, vhi = wilson(ok, len(verdicts))
            tip += f"; {name} {ok}/{len(verdicts)} (CI {100 * vlo:.0f}–{100 * vhi:.0f}%)"
        elif key == "label_correct":
            tip += "; label n/a"
    text = f"{k}/{n}"
    if filters is not None:  # a link to the episode list, filtered to this cell
        href = "#" + "&".join(f"{key}={quote(v, safe='')}" for key, v in filters.items())
        text = f'<a href="{escape(href)}">{text}</a>'
    hue = round(120 * k / n)
    return (f'<td class="cell acc" data-k="{k}" data-n="{n}" style="background:hsl({hue},65%,78%)" '
            f'title="{escape(tip)}">{text}</td>')


def heatmap_html(episodes: list[Episode], row_key: str = "task", row_name: str = "task",
                 total: bool = True, links: bool = True, names: dict | None = None) -> str:
    names = names or {}
    dims = column_dims(episodes)
    keyed = [(tuple(_value(e, k) for k, _ in dims), _value(e, row_key), e) for e in episodes]
    cols = sorted({c for c, _, _ in keyed}, key=lambda c: tuple(_order(k)(v) for (k, _), v in zip(dims, c)))
    rows = sorted({r for _, r, _ in keyed})
    head = "".join(f'<th class="col">{"<br>".join(escape(_shown(k, v, names)) for (k, _), v in zip(dims, c) if v)}'
                   "</th>" for c in cols)
    cells_of: dict[tuple, list[Episode]] = {}
    for c, r, e in keyed:
        cells_of.setdefault((r, c), []).append(e)
        cells_of.setdefault(("(all)", c), []).append(e)
    body = []
    groups = rows + (["(all)"] if total and len(rows) > 1 else [])
    for r in groups:
        cells = []
        for c in cols:
            filters = {"filter": "all", **({row_key: r} if r != "(all)" else {}),
                       **{k: v for (k, _), v in zip(dims, c)}}
            cells.append(_cell(cells_of.get((r, c), []), filters if links else None))
        body.append(f'<tr><th class="row">{escape(r)}</th>{"".join(cells)}</tr>')
    corner = escape(row_name) + " \\ " + " · ".join(name for _, name in dims)
    return (f'<table class="heatmap accuracy" data-rows="{escape(row_key)}"><thead><tr><th class="corner">{corner}'
            f'</th>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>')


def overview_html(batch: Batch) -> str:
    eps = batch.episodes
    names = llm_names(eps)
    out = [f'<section id="overview"><h2>Accuracy</h2><p class="meta">{len(eps)} episode(s). A cell is k/n correct '
           "(the implementation matched the model on its whole input domain; the label where there is no "
           "implementation score); hover for the 95% Wilson interval and label accuracy, click for its "
           "episodes.</p>", heatmap_html(eps, names=names)]
    unsafe = sum(bool(e.get("unsafe_sandbox")) for e in eps)
    if unsafe:  # as atop report.md/html: these scores ran submitted code without OS-level isolation
        out.insert(1, f'<p class="unsafe">UNSAFE: {unsafe} of {len(eps)} episode(s) were scored with '
                      "--unsafe-sandbox: their submitted code ran without OS-level isolation.</p>")
    for field in breakdown_fields(eps):
        sub = [e for e in eps if field in _extras(e)]  # episodes without the field (older results) sit out
        out.append(f'<h3>by {escape(field)}</h3>')
        out.append(_breakdown(sub, field, names))
    out.append("</section>")
    return "".join(out)


def _breakdown(episodes: list[Episode], field: str, names: dict) -> str:
    shadow = [Episode(e.id, {**e.record, "_by": str(_extras(e)[field])}, e.file) for e in episodes]
    return heatmap_html(shadow, "_by", field, total=False, links=False, names=names)


def _cost(ep: Episode) -> tuple[str, str]:
    """(cell text, sort value) of an episode's cost: unknown when the record says so (no price known)."""
    cost = ep.get("cost")
    if cost is None or ep.get("cost_known") is False:
        return "unknown", ""
    return f"{float(cost):.4f}", f"{float(cost):.6f}"


def _num(v) -> str:
    try:
        return f"{float(v):g}"
    except (TypeError, ValueError):
        return ""


def episode_list_html(batch: Batch) -> str:
    eps = batch.episodes
    names = llm_names(eps)
    # task, condition and LLM are always columns of the list (a residual mode only when it varies)
    dims = [("task", "task"), ("condition", "condition"), ("llm", "LLM")] + [
        d for d in column_dims(eps) if d[0] not in ("condition", "llm")]
    selects = []
    for key, name in dims:
        values = sorted({_value(e, key) for e in eps}, key=_order(key))
        opts = '<option value="">all</option>' + "".join(
            f'<option value="{escape(v)}">{escape(_shown(key, v, names))}</option>' for v in values)
        selects.append(f'<label>{escape(name)} <select data-key="{escape(key)}">{opts}</select></label>')
    outcome = ('<label>outcome <select data-key="filter"><option value="all">all</option>'
               + "".join(f'<option value="{slug}">{escape(o)}</option>' for o, slug in OUTCOME_SLUG.items())
               + "</select></label>")
    search = ('<label class="search">search <input type="search" data-key="q" placeholder="any text (press /)" '
              'autocomplete="off"></label>')
    columns = [(name, "text") for _, name in dims] + [
        ("trial", "num"), ("outcome", "text"), ("label", "text"), ("tool calls", "num"), ("tokens", "num"),
        ("cost $", "num"), ("seconds", "num")]
    head = "".join(f'<th data-col="{i}" data-type="{t}" title="sort by {escape(n)}">{escape(n)}</th>'
                   for i, (n, t) in enumerate(columns)) + "<th></th>"
    rows = []
    for e in eps:
        attrs = " ".join(f'data-{escape(k)}="{escape(_value(e, k))}"' for k, _ in dims)
        slug = OUTCOME_SLUG[e.outcome]
        link = (f'<a href="#{e.id}">open</a>' if e.has_episode
                else f'<span class="meta">{escape("no transcript" if not e.file else "transcript unreadable")}</span>')
        cells = "".join(f"<td>{escape(_shown(k, _value(e, k), names))}</td>" for k, _ in dims)
        cost, cost_v = _cost(e)
        trial = e.get("trial")
        rows.append(
            f'<tr class="ep" id="row-{e.id}" {attrs} data-outcome="{slug}">{cells}'
            f'<td data-v="{_num(trial)}">{"" if trial is None else escape(str(trial))}</td>'
            f'<td class="outcome {slug}">{escape(e.outcome)}</td>'
            f'<td class="label">{escape(str(e.get("label") or e.get("prediction") or "-"))}</td>'
            f'<td data-v="{_num(e.get("tool_calls", 0))}">{e.get("tool_calls", 0)}</td>'
            f'<td data-v="{_num(e.get("tokens", 0))}">{e.get("tokens", 0)}</td>'
            f'<td data-v="{cost_v}">{cost}</td>'
            f'<td data-v="{_num(e.get("duration_s") or 0)}">{float(e.get("duration_s") or 0):.1f}</td>'
            f"<td>{link}</td></tr>")
    keys = json.dumps([k for k, _ in dims] + ["filter"])
    return (f'<section id="list" data-keys="{escape(keys)}"><h2>Episodes</h2><form class="filters" '
            f'onsubmit="return false">{"".join(selects)}{outcome}{search}</form><p class="meta"><span id="shown">'
            f'{len(eps)}</span> of {len(eps)} episode(s) shown · click a column to sort · keys: / search, '
            "j/k or →/← next/previous episode, Esc back to the list</p>"
            f'<table class="episodes"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table></section>')
