"""The batch overview: a task × (condition × LLM × residual mode × transform) heatmap of accuracy with Wilson intervals
on hover, one breakdown table per optional field the results carry, and the filterable episode list."""

from __future__ import annotations

import json
from html import escape
from urllib.parse import quote

from tracr_agent.agent.evaluation.stats import wilson
from tracr_agent.tools.conditions import Residual
from tracr_agent.tools.subjects.spec import NO_TRANSFORM
from tracr_agent.agent.render.html.sources import Batch, Episode

COLUMN_DIMS = (("condition", "condition"), ("llm", "LLM"), ("residual", "residual"), ("transform", "transform"))
"""Fields that split the heatmap's columns (each shown when the batch has more than one value; condition always)."""

NOT_BREAKDOWNS = {"key", "task", "subject", "condition", "llm", "residual", "transform", "trial", "status", "label",
                  "label_correct", "functional_correct", "agreement", "tool_calls", "llm_turns", "tokens", "cost",
                  "duration_s", "transcript", "error", "score", "file", "fingerprint", "actor", "created",
                  "prediction", "problem", "family_correct", "explained", "scorer_version", "functional", "judge",
                  "explanation", "unsafe_sandbox"}
"""Per-episode fields that are not categories to break accuracy down by."""
MAX_LEVELS = 40
MAX_INT_LEVELS = 8
"""An integer field is a category (a difficulty, a layer count) only with this many values at most."""

METRICS = (("label_correct", "label"), ("family_correct", "family"), ("explained", "explained"))
"""Further verdicts shown in a cell's hover text, each over the episodes that have it."""

OUTCOME_SLUG = {"correct": "correct", "wrong": "wrong", "no prediction": "none"}


def column_dims(episodes: list[Episode]) -> list[tuple[str, str]]:
    return [(k, name) for k, name in COLUMN_DIMS
            if k == "condition" or len({_value(e, k) for e in episodes}) > 1]


DEFAULTS = {"residual": Residual.LABELLED.value, "transform": NO_TRANSFORM}
"""What a record written before a field existed (or with it empty) means by its absence."""


def _value(ep: Episode, key: str) -> str:
    if key == "task":
        return ep.task
    v = ep.get(key)
    v = DEFAULTS.get(key) if v is None else v
    return "" if v is None else str(v)


def breakdown_fields(episodes: list[Episode]) -> list[str]:
    """Categorical fields of the records (and of their scores) with 1..MAX_LEVELS values (integers: at most
    MAX_INT_LEVELS), not per-episode facts or verdicts."""
    fields: dict[str, set] = {}
    for ep in episodes:
        for k, v in _extras(ep).items():
            fields.setdefault(k, set()).add(v)
    return [k for k, vals in sorted(fields.items())
            if 1 <= len(vals) <= (MAX_INT_LEVELS if all(isinstance(v, int) for v in vals) else MAX_LEVELS)]


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
                 total: bool = True, links: bool = True) -> str:
    dims = column_dims(episodes)
    cols = sorted({tuple(_value(e, k) for k, _ in dims) for e in episodes})
    rows = sorted({_value(e, row_key) for e in episodes})
    head = "".join(f'<th class="col">{"<br>".join(escape(v) for v in c if v)}</th>' for c in cols)
    body = []
    groups = [(r, [e for e in episodes if _value(e, row_key) == r]) for r in rows]
    if total and len(rows) > 1:
        groups.append(("(all)", episodes))
    for r, eps in groups:
        cells = []
        for c in cols:
            in_col = [e for e in eps if tuple(_value(e, k) for k, _ in dims) == c]
            filters = {"filter": "all", **({row_key: r} if r != "(all)" else {}),
                       **{k: v for (k, _), v in zip(dims, c)}}
            cells.append(_cell(in_col, filters if links else None))
        body.append(f'<tr><th class="row">{escape(r)}</th>{"".join(cells)}</tr>')
    corner = escape(row_name) + " \\ " + " · ".join(name for _, name in dims)
    return (f'<table class="heatmap accuracy" data-rows="{escape(row_key)}"><thead><tr><th class="corner">{corner}'
            f'</th>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>')


def overview_html(batch: Batch) -> str:
    eps = batch.episodes
    out = [f'<section id="overview"><h2>Accuracy</h2><p class="meta">{len(eps)} episode(s). A cell is k/n correct '
           "(the implementation matched the model on its whole input domain; the label where there is no "
           "implementation score); hover for the 95% Wilson interval and label accuracy, click for its "
           "episodes.</p>", heatmap_html(eps)]
    unsafe = sum(bool(e.get("unsafe_sandbox")) for e in eps)
    if unsafe:  # as atop report.md/html: these scores ran submitted code without OS-level isolation
        out.insert(1, f'<p class="unsafe">UNSAFE: {unsafe} of {len(eps)} episode(s) were scored with '
                      "--unsafe-sandbox: their submitted code ran without OS-level isolation.</p>")
    for field in breakdown_fields(eps):
        sub = [e for e in eps if field in _extras(e)]  # episodes without the field (older results) sit out
        out.append(f'<h3>by {escape(field)}</h3>')
        out.append(_breakdown(sub, field))
    out.append("</section>")
    return "".join(out)


def _breakdown(episodes: list[Episode], field: str) -> str:
    shadow = [Episode(e.id, {**e.record, "_by": str(_extras(e)[field])}, e.file) for e in episodes]
    return heatmap_html(shadow, "_by", field, total=False, links=False)


def episode_list_html(batch: Batch) -> str:
    eps = batch.episodes
    dims = [("task", "task")] + column_dims(eps)
    selects = []
    for key, name in dims:
        values = sorted({_value(e, key) for e in eps})
        opts = '<option value="">all</option>' + "".join(f'<option value="{escape(v)}">{escape(v)}</option>'
                                                          for v in values)
        selects.append(f'<label>{escape(name)} <select data-key="{escape(key)}">{opts}</select></label>')
    outcome = ('<label>outcome <select data-key="filter"><option value="all">all</option>'
               + "".join(f'<option value="{slug}">{escape(o)}</option>' for o, slug in OUTCOME_SLUG.items())
               + "</select></label>")
    head = "".join(f"<th>{escape(n)}</th>" for _, n in dims) + "<th>outcome</th><th>prediction</th>" \
        "<th>tool calls</th><th>tokens</th><th>seconds</th><th></th>"
    rows = []
    for e in eps:
        attrs = " ".join(f'data-{escape(k)}="{escape(_value(e, k))}"' for k, _ in dims)
        slug = OUTCOME_SLUG[e.outcome]
        link = (f'<a href="#{e.id}">open</a>' if e.blocks is not None
                else f'<span class="meta">{escape("no transcript" if not e.file else "transcript unreadable")}</span>')
        cells = "".join(f"<td>{escape(_value(e, k))}</td>" for k, _ in dims)
        rows.append(f'<tr class="ep" id="row-{e.id}" {attrs} data-outcome="{slug}">{cells}'
                    f'<td class="outcome {slug}">{escape(e.outcome)}</td><td>{escape(str(e.get("label") or e.get("prediction") or "-"))}</td>'
                    f'<td>{e.get("tool_calls", 0)}</td><td>{e.get("tokens", 0)}</td>'
                    f'<td>{float(e.get("duration_s") or 0):.1f}</td><td>{link}</td></tr>')
    keys = json.dumps([k for k, _ in dims] + ["filter"])
    return (f'<section id="list" data-keys="{escape(keys)}"><h2>Episodes</h2><form class="filters">{"".join(selects)}'
            f'{outcome}</form><p class="meta"><span id="shown">{len(eps)}</span> of {len(eps)} episode(s) shown</p>'
            f'<table class="episodes"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table></section>')
