"""How the tools write tokens, sequences and numbers, and how those texts read back.

A token is written as JSON when it is a string (`"a"`) and as itself otherwise (`3`, `True`); a
sequence as `[t, t, …]` with `-` for no value; a number rounded (3 decimals unless said) in its
shortest form. `parse_item`/`parse_seq`/`parse_value` invert those forms.
"""

from __future__ import annotations

import json
import re

_ITEM = re.compile(r'"(?:[^"\\]|\\.)*"|[^,\s\[\]]+')


def fmt_tok(t) -> str:
    return json.dumps(t) if isinstance(t, str) else str(t)


def fmt_seq(seq) -> str:
    return "[" + ", ".join("-" if x is None else fmt_tok(x) for x in seq) + "]"


def fmt_num(x: float, digits: int = 3) -> str:
    v = round(float(x), digits)
    if v == 0:
        return "0"
    return f"{v:g}"


def table(row_labels: list[str], col_labels: list[str], rows: list[list[float]], corner: str = "") -> str:
    """An aligned text table of rounded numbers under `corner` (people's views draw it as a heatmap)."""
    cells = [[fmt_num(x) for x in r] for r in rows]
    w0 = max(len(corner), *(len(label) for label in row_labels))
    widths = [max(len(c), *(len(r[j]) for r in cells)) for j, c in enumerate(col_labels)]
    head = corner.ljust(w0) + "  " + "  ".join(c.rjust(w) for c, w in zip(col_labels, widths))
    body = [label.ljust(w0) + "  " + "  ".join(x.rjust(w) for x, w in zip(r, widths))
            for label, r in zip(row_labels, cells)]
    return "\n".join([head.rstrip(), *(b.rstrip() for b in body)])


def shows_nonzero(x: float, digits: int = 3) -> bool:
    """Whether `fmt_num` prints x as anything but 0: what the tools list as a non-zero entry."""
    return round(float(x), digits) != 0


def parse_item(s: str):
    """One element of a written sequence: a JSON string, `-` (None), a bool, an int or a float."""
    if s == "-":
        return None
    if s.startswith('"'):
        return json.loads(s)
    if s in ("True", "False"):
        return s == "True"
    try:
        return int(s)
    except ValueError:
        return float(s)


def parse_seq(text: str) -> list:
    """A written sequence (`[t, t, …]`) back into its values."""
    return [parse_item(x) for x in _ITEM.findall(text.strip())]


def parse_value(s: str):
    """A value as a decoded table writes it: `-` (None), a bool, a number, else the text itself."""
    if s == "-":
        return None
    if s in ("True", "False"):
        return s == "True"
    try:
        return int(s)
    except ValueError:
        pass
    try:
        return float(s)
    except ValueError:
        return s
