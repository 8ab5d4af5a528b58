"""Parsed tool results as pictures in HTML: attention heatmaps with token labels on both axes,
residual decodes as coloured tables, ablation/patching as before/after, inputs/outputs as token rows."""

from __future__ import annotations

import zlib
from html import escape

from tracr_agent.agent.render import parse as P


def heat_colour(v: float, scale: float) -> str:
    """Blue for positive, red for negative; alpha grows with |v| / scale."""
    a = 0.0 if scale <= 0 else min(1.0, abs(v) / scale)
    rgb = "37,99,235" if v >= 0 else "220,38,38"
    return f"rgba({rgb},{a:.2f})"


def value_colour(value: str) -> str:
    """A stable pastel per categorical value; '-' (no value) is grey."""
    if value in ("-", ""):
        return "#eeeeee"
    hue = zlib.crc32(value.encode()) % 360
    return f"hsl({hue},70%,85%)"


def _title(text: str) -> str:
    """A picture's title above it (a <caption> would wrap to the table's width)."""
    return f'<p class="ptitle">{escape(text)}</p>' if text else ""


def _num(v: float) -> str:
    return f"{v:g}"


def matrix_html(m: P.Matrix) -> str:
    scale = max((abs(v) for row in m.values for v in row), default=0.0)
    kind = "attention" if m.is_attention else "activation"
    axis_r, axis_c = ("query", "key") if m.is_attention else ("position", "column")
    head = "".join(f'<th class="col" scope="col">{escape(c)}</th>' for c in m.cols)
    body = []
    for label, row in zip(m.rows, m.values):
        cells = "".join(
            f'<td class="cell" style="background:{heat_colour(v, scale)}" '
            f'title="{escape(axis_r)} {escape(label)} · {escape(axis_c)} {escape(c)}: {_num(v)}">'
            f'{_num(v) if len(m.cols) <= 12 else ""}</td>'
            for c, v in zip(m.cols, row))
        body.append(f'<tr><th class="row" scope="row">{escape(label)}</th>{cells}</tr>')
    return (f'{_title(m.title)}<table class="heatmap {kind}"><thead><tr><th class="corner">{escape(m.corner)}</th>{head}'
            f'</tr></thead><tbody>{"".join(body)}</tbody></table>')


def _number(text: str):
    try:
        return float(text)
    except ValueError:
        return None


def vartable_html(t: P.VarTable) -> str:
    """Categorical values get a colour each; raw dimensions (sparse) are shaded by magnitude."""
    scale = max((abs(_number(v) or 0.0) for row in t.cells for v in row), default=0.0) if t.sparse else 0.0

    def colour(v: str) -> str:
        return heat_colour(_number(v) or 0.0, scale) if t.sparse else value_colour(v)

    head = "".join(f'<th scope="col">{escape(c)}</th>' for c in t.cols)
    body = "".join(
        f'<tr><th scope="row">{escape(label)}</th>'
        + "".join(f'<td class="value" style="background:{colour(v)}" title="{escape(c)} at {escape(label)}">'
                  f"{escape(v)}</td>" for c, v in zip(t.cols, row))
        + "</tr>" for label, row in zip(t.rows, t.cells))
    foot = f'<p class="meta">{escape(t.footer)}</p>' if t.footer else ""
    return (f'{_title(t.title)}<table class="decode{" raw" if t.sparse else ""}"><thead><tr><th>position</th>{head}'
            f"</tr></thead><tbody>{body}</tbody></table>{foot}")


def tokens_html(values: list[str], changed: frozenset = frozenset()) -> str:
    """A row of token boxes; positions in `changed` (1-based) are marked."""
    return '<span class="toks">' + "".join(
        f'<span class="tok{" changed" if i + 1 in changed else ""}" style="background:{value_colour(v)}">'
        f"{escape(v)}</span>" for i, v in enumerate(values)) + "</span>"


def effects_html(e: P.Effects) -> str:
    ref = any(r.reference is not None for r in e.rows)
    heads = ["input", "before", "after"] + (["clean run"] if ref else []) + [""]
    body = []
    for r in e.rows:
        changed = frozenset(r.changed)
        cells = [tokens_html(r.input), tokens_html(r.before), tokens_html(r.after, changed)]
        if ref:
            cells.append(tokens_html(r.reference or []))
        verdict = (f"changed at {', '.join(map(str, r.changed))}" if r.changed else "unchanged")
        cells.append(f'<span class="verdict{" moved" if r.changed else ""}">{escape(verdict)}</span>')
        body.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return (f'{_title(e.title)}<table class="effects {e.kind}"><thead><tr>'
            + "".join(f"<th>{h}</th>" for h in heads) + f'</tr></thead><tbody>{"".join(body)}</tbody></table>')


def changes_html(c: P.Changes) -> str:
    ref = c.reference_name or ""
    heads = ["input", "position", "variable", "before", "after"] + ([ref] if ref else [])
    body = []
    for r in c.rows:
        cells = [escape(r.input), escape(r.position), escape(r.variable), tokens_html([r.before]),
                 tokens_html([r.after], frozenset([1]))] + ([tokens_html([r.reference])] if ref else [])
        body.append("<tr>" + "".join(f"<td>{x}</td>" for x in cells) + "</tr>")
    return (f'{_title(c.title)}<table class="effects changes"><thead><tr>'
            + "".join(f"<th>{escape(h)}</th>" for h in heads) + f'</tr></thead><tbody>{"".join(body)}</tbody></table>')


def io_html(io: P.IOPairs) -> str:
    body = "".join(f"<tr><td>{tokens_html(x)}</td><td>→</td><td>{tokens_html(y)}</td></tr>" for x, y in io.rows)
    return f'<table class="io"><thead><tr><th>input</th><th></th><th>output</th></tr></thead><tbody>{body}</tbody></table>'


def part_html(part: P.Part) -> str:
    if isinstance(part, P.Matrix):
        return matrix_html(part)
    if isinstance(part, P.VarTable):
        return vartable_html(part)
    if isinstance(part, P.Effects):
        return effects_html(part)
    if isinstance(part, P.Changes):
        return changes_html(part)
    if isinstance(part, P.IOPairs):
        return io_html(part)
    return f"<pre><code>{escape(part.text.rstrip())}</code></pre>"


def result_html(text: str, is_error: bool) -> str:
    """A tool result: its pictures when it has any (the text the agent read folded below), else the text."""
    if is_error:
        return f'<pre class="error"><code>{escape(text.rstrip())}</code></pre>'
    parts = P.parse_result(text)
    if not P.has_picture(parts):
        return f"<pre><code>{escape(text.rstrip())}</code></pre>"
    pictures = "".join(part_html(p) for p in parts)
    return (f'<div class="pictures">{pictures}</div><details class="raw"><summary>the text the agent read</summary>'
            f"<pre><code>{escape(text.rstrip())}</code></pre></details>")
