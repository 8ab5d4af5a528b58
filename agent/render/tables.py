"""Tables for the terminal that never cut a cell: an id, a path, a name or a number is shown whole.

`print_table` draws a table when every cell fits on its line at the console's width; otherwise each row
becomes a block — its first cell on a line of its own, the others as `header value` pairs below, wrapped
by the terminal rather than cut. Every title, caption and cell is shown as plain text (tools/untrusted/text.py
`shown`): a cell read from a transcript or a results file can neither style nor move the terminal. Used
by `transcripts` (the listing) and the report's table (`eval`, `report`). Colours come from the terminal's own palette, readable on light and dark backgrounds.
"""

from __future__ import annotations

from typing import Callable, Optional

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from tracr_agent.tools.untrusted.text import shown

GAP = 2
"""Spaces of padding between two columns of a table (the box's divider, a blank, sits between them too)."""


def natural_width(columns: list[str], rows: list[list[str]]) -> int:
    """The width the table needs for every cell to sit on one line: the widest cell of each column, and
    between two columns their padding and the box's one-character divider."""
    return sum(max([len(c)] + [len(row[i]) for row in rows]) for i, c in enumerate(columns)) + (GAP + 1) * (len(columns) - 1)


def print_table(console: Console, title: str, columns: list[str], rows: list[list[str]], *, caption: str = "",
                right: frozenset = frozenset(), style: Optional[Callable[[str, str], str]] = None) -> None:
    """`rows` (plain text cells) under `columns`; `right`: the columns aligned right (numbers); `style(column,
    value)`: a cell's style. A table when it fits the console, else one block per row (see the module
    docstring)."""
    style = style or (lambda column, value: "")
    title, caption = shown(title, one_line=True), shown(caption)
    columns = [shown(c, one_line=True) for c in columns]
    rows = [[shown(v, one_line=True) for v in row] for row in rows]
    if natural_width(columns, rows) <= console.width:
        table = Table(title=title or None, caption=caption or None, box=box.SIMPLE_HEAD, pad_edge=False,
                      padding=(0, GAP // 2), show_edge=False, title_justify="left", caption_justify="left")
        for c in columns:
            table.add_column(c, justify="right" if c in right else "left", no_wrap=True)
        for row in rows:
            table.add_row(*(Text(v, style=style(c, v)) for c, v in zip(columns, row)))
        console.print(table)
        return
    if title:
        console.print(title, highlight=False, markup=False, soft_wrap=True)
    for row in rows:
        console.print(Text(row[0], style="bold"), soft_wrap=True)
        pairs = []
        for c, v in zip(columns[1:], row[1:]):
            pairs += [(f"{c} ", "dim"), (v, style(c, v)), ("  ", "")]
        console.print(Text.assemble("  ", *pairs[:-1]), soft_wrap=True)
    if caption:
        console.print(caption, highlight=False, markup=False, soft_wrap=True)
