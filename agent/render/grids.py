"""Tool results as shaded grids in the terminal (rich): attention patterns and other numeric tables as
heatmaps, residual reads and decodes as tables coloured by value — from the text a tool printed or from
its JSON reply alike (agent/render/readings.py). Only the person's view changes; the agent still reads
the text. The live view, `replay` and `lab` use `result_renderable`; `--plain` skips it.

Every label and value in a grid comes from the subject (a model directory's vocabulary, its labels):
cells, headers and captions are `Text`, never markup, and shown as tools/untrusted/text.py says."""

from __future__ import annotations

import colorsys
import zlib
from typing import Optional

from rich.console import Group, RenderableType
from rich.style import Style
from rich.table import Table
from rich.text import Text

from tracr_agent.agent.render import parse as P
from tracr_agent.agent.render.readings import result_parts
from tracr_agent.tools.untrusted.text import shown

NUMBERS_UP_TO = 16
"""A heatmap writes its numbers in the cells up to this many columns (wider: shaded blanks, to fit)."""

GRID_PARTS = (P.Matrix, P.VarTable)
"""The parts drawn as grids; anything else in the result stays text."""


def _rgb(r: float, g: float, b: float):
    from rich.color import Color

    return Color.from_rgb(round(255 * r), round(255 * g), round(255 * b))


def heat_style(v: float, scale: float) -> Style:
    """White to blue (positive) or red (negative) by |v| / scale; dark text on light cells, white on dark."""
    a = 0.0 if scale <= 0 else min(1.0, abs(v) / scale)
    target = (0.15, 0.39, 0.92) if v >= 0 else (0.86, 0.15, 0.15)
    bg = tuple(1 - a * (1 - c) for c in target)
    # the text's colour is chosen against the cell's own background, so it is exact too
    return Style(bgcolor=_rgb(*bg), color=_rgb(1, 1, 1) if a > 0.55 else _rgb(0, 0, 0))


def value_style(value: str) -> Style:
    """A stable pastel per categorical value; '-' (no value) is grey."""
    if value in ("-", ""):
        return Style(bgcolor=_rgb(0.9, 0.9, 0.9), color="grey50")
    hue = (zlib.crc32(value.encode()) % 360) / 360
    return Style(bgcolor=_rgb(*colorsys.hls_to_rgb(hue, 0.85, 0.7)), color="black")


def _number(text: str) -> Optional[float]:
    try:
        return float(text)
    except ValueError:
        return None


def _t(text: str, **style) -> Text:
    return Text(shown(text), **style)


def _titled(title: str, table: Table) -> RenderableType:
    # A table's own title wraps at the table's width; a line above it does not.
    return Group(_t(title, style="dim"), table) if title else table


def matrix_grid(m: P.Matrix) -> RenderableType:
    scale = m.scale if m.scale is not None else max((abs(v) for row in m.values for v in row), default=0.0)
    show = len(m.cols) <= NUMBERS_UP_TO
    t = Table(box=None, padding=(0, 1) if show else (0, 0), show_edge=False, pad_edge=False,
              show_header=show)
    t.add_column(_t(m.corner), justify="right", style="bold", no_wrap=True)
    for c in m.cols:
        t.add_column(_t(c), justify="center", no_wrap=True)
    for label, row in zip(m.rows, m.values):
        t.add_row(_t(label), *(Text(m.text(v) if show else "  ", style=heat_style(v, scale)) for v in row))
    title = m.title if show else f"{m.title} ({len(m.cols)} columns: {m.cols[0]} … {m.cols[-1]})"
    return _titled(title, t)


def vartable_grid(v: P.VarTable) -> RenderableType:
    scale = max((abs(_number(x) or 0.0) for row in v.cells for x in row), default=0.0) if v.sparse else 0.0
    t = Table(caption=_t(v.footer) if v.footer else None, caption_justify="left", box=None, padding=(0, 1), show_edge=False,
              pad_edge=False)
    t.add_column("position", justify="right", style="bold", no_wrap=True)
    for c in v.cols:
        t.add_column(_t(c), justify="center", no_wrap=True)
    for label, row in zip(v.rows, v.cells):
        t.add_row(_t(label), *(_t(x, style=heat_style(_number(x) or 0.0, scale) if v.sparse else value_style(x))
                           for x in row))
    return _titled(v.title, t)


def result_renderable(text: str, is_error: bool = False, name: str = "", args=None,
                      limit: Optional[int] = None) -> Optional[RenderableType]:
    """The result with its grids drawn (at most `limit`, a line counting the rest), or None when it holds
    no grid (or holds other structures a grid would drop): then the text is shown as before."""
    if is_error:
        return None
    parts = result_parts(name, args, text, limit=limit)
    if not any(isinstance(p, GRID_PARTS) for p in parts) or not all(
            isinstance(p, (*GRID_PARTS, P.Lines, P.Omitted)) for p in parts):
        return None
    return Group(*(matrix_grid(p) if isinstance(p, P.Matrix) else vartable_grid(p) if isinstance(p, P.VarTable)
                   else _t(p.text + " (--verbose draws them all)", style="dim") if isinstance(p, P.Omitted)
                   else _t(p.text) for p in parts))
