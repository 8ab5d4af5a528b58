"""Tool-result text -> structured parts, so people's views can draw pictures of what the agent read as text.

The agent always reads the tool's text; this module only recovers its structure for the HTML viewer
(`tracr_agent.agent.render.html`) and the terminal grids (`tracr_agent.agent.render.grids`). It is
forgiving by design: any line it does not recognise stays a `Lines` part, so an unknown or newer
format still shows, as text. Shapes recognised (see tools/suite/):

- a numeric table under a `query\\key`, `pos` or `cluster` corner (attention patterns, get_activations,
  project's coordinates, component_writes' distinct writes),
- a residual decode: `LABEL  var=value var=value …` lines after a "decoded by variable" (or, for
  project, "decoded by direction") header,
- ablation effects: `INPUT: before [..]  after [..]  changed at positions …`,
- activation patching: `clean … -> [..]`, `corrupt … -> [..]`, `patched (…) -> [..]`,
- input/output pairs: `[..] -> [..]` (run_model),
- a probe's scores: `held-out accuracy …` and `directions needed: … (rank 1: 48.2%, …)`.

Every part that is a picture names its kind (`Part.picture`: attention, residual, activation, ablation,
patching, io, probe; readings.py names component_writes' and project's `writes` and `projection`), which
the HTML carries as `data-picture`. A `get_activations` header (`HOOK for input
[..]: …`) or a static dump's section (`== HOOK ==`) names the pictures under it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Optional, Union

_ITEM = re.compile(r'"(?:[^"\\]|\\.)*"|[^,\[\]\s]+')
_SEQ = r"\[[^\[\]]*\]"
_NUM = re.compile(r"^-?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?$", re.I)
_CORNERS = ("query\\key", "pos", "cluster")


@dataclass
class Lines:
    """Text kept as it is."""
    text: str

    picture = None


@dataclass
class Matrix:
    """A numeric table: rows x cols (attention: rows are queries, cols are keys)."""
    title: str
    corner: str
    rows: list[str]
    cols: list[str]
    values: list[list[float]]
    kind: str = ""
    """The picture's kind when the table says less than its source (residual, probe); else from the corner."""
    scale: Optional[float] = None
    """The value drawn at full colour (attention weights, a probe's scores: 1); None: the largest |value|."""
    percent: bool = False
    """Values are fractions written as percentages (a probe's accuracy)."""

    def text(self, v: float) -> str:
        """A cell's value as written in the picture."""
        return f"{100 * v:.1f}%" if self.percent else f"{v:g}"

    @property
    def is_attention(self) -> bool:
        return self.corner == "query\\key"

    @property
    def picture(self) -> str:
        return self.kind or ("attention" if self.is_attention else "activation")


@dataclass
class VarTable:
    """A residual decode: per position (row), the value each variable (column) holds ('-' = none)."""
    title: str
    rows: list[str]
    cols: list[str]
    cells: list[list[str]]
    footer: str = ""
    sparse: bool = False
    """Raw dimensions (no variables): cells are numbers, 0 where the row did not list the dimension."""

    picture = "residual"


@dataclass
class Effect:
    """One input's output before and after an intervention (and, for patching, the clean run's output)."""
    input: list[str]
    before: list[str]
    after: list[str]
    reference: Optional[list[str]] = None
    note: str = ""

    @property
    def changed(self) -> list[int]:
        """1-based positions whose output differs."""
        return [i + 1 for i, (b, a) in enumerate(zip(self.before, self.after)) if b != a]


@dataclass
class Effects:
    """Ablation or patching: a before/after per input."""
    kind: str  # "ablate" or "patch"
    title: str
    rows: list[Effect] = field(default_factory=list)

    @property
    def picture(self) -> str:
        return "patching" if self.kind == "patch" else "ablation"


@dataclass
class Change:
    """One variable whose decoded value moved at one position of one input (white-box ablate/patch)."""
    input: str
    position: str
    variable: str
    before: str
    after: str
    reference: str = ""


@dataclass
class Changes:
    """White-box ablation or patching: the final residual's variables that changed."""
    title: str
    rows: list[Change] = field(default_factory=list)
    reference_name: str = ""

    @property
    def picture(self) -> str:
        return "patching" if self.reference_name else "ablation"


@dataclass
class IOPairs:
    """Inputs and the model's outputs."""
    rows: list[tuple[list[str], list[str]]]

    picture = "io"


@dataclass
class Omitted:
    """Pictures a result holds beyond those drawn (a reader stops at its limit)."""
    count: int

    picture = None

    @property
    def text(self) -> str:
        return f"… {self.count} more picture(s)"


Part = Union[Lines, Matrix, VarTable, Effects, Changes, IOPairs, Omitted]


def seq(text: str) -> list[str]:
    """'["a", "b", -]' -> ['a', 'b', '-'] (tokens shown without JSON quotes)."""
    out = []
    for item in _ITEM.findall(text.strip()[1:-1]):
        if item.startswith('"'):
            try:
                item = json.loads(item)
            except ValueError:
                pass
        out.append(str(item))
    return out


def _split_cols(header: str) -> list[str]:
    return [c for c in re.split(r"\s{2,}", header.strip()) if c]


def _matrix_row(line: str, n: int) -> Optional[tuple[str, list[float]]]:
    parts = line.split()
    if len(parts) <= n or not all(_NUM.match(p) for p in parts[-n:]):
        return None
    label = line.rsplit(None, n)[0].strip()
    return label, [float(p) for p in parts[-n:]]


def _take_matrix(lines: list[str], i: int, title: str) -> tuple[Optional[Matrix], int]:
    head = lines[i]
    corner = next((c for c in _CORNERS if head.startswith(c + " ")), None)
    if corner is None:
        return None, i
    cols = _split_cols(head[len(corner):])
    rows, values = [], []
    j = i + 1
    while j < len(lines):
        row = _matrix_row(lines[j], len(cols))
        if row is None:
            break
        rows.append(row[0])
        values.append(row[1])
        j += 1
    if not rows:
        return None, i
    return Matrix(title, corner, rows, cols, values), j


_VAR = re.compile(r"(\S+?)=(\?\([^)]*\)|\S+)")


def _natural(name: str) -> tuple:
    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name))


def _take_vartable(lines: list[str], i: int) -> tuple[Optional[VarTable], int]:
    """A decode: every variable on every row, or (sparse: raw dims) only each row's non-zero ones."""
    title = lines[i]
    sparse = "non-zero dim" in title
    rows: list[str] = []
    found: list[dict[str, str]] = []
    j = i + 1
    while j < len(lines):
        m = re.match(r"^(\S+(?: \S+)?)\s{2,}(\S+=.*)$", lines[j])
        pairs = _VAR.findall(m.group(2)) if m else []
        if not pairs or (not sparse and found and [p[0] for p in pairs] != list(found[0])):
            break
        rows.append(m.group(1))
        found.append(dict(pairs))
        j += 1
    if not rows:
        return None, i
    cols = sorted({c for f in found for c in f}, key=_natural) if sparse else list(found[0])
    cells = [[f.get(c, "0") for c in cols] for f in found]
    footer = ""
    if j < len(lines) and lines[j].startswith("the unembed reads"):
        footer = lines[j]
        j += 1
    return VarTable(title, rows, cols, cells, footer, sparse), j


_ABLATE_ROW = re.compile(rf"^({_SEQ}): before ({_SEQ})\s+after ({_SEQ})\s+(.*)$")
_IO_ROW = re.compile(rf"^({_SEQ}) -> ({_SEQ})$")
_PATCH = {k: re.compile(rf"^{k}\s+({_SEQ}) -> ({_SEQ})$") for k in ("clean", "corrupt")}
_PATCHED = re.compile(rf"^patched \((.*?)\) -> ({_SEQ})(.*)$")


def _take_patch(lines: list[str], i: int) -> tuple[Optional[Effects], int]:
    if i + 2 >= len(lines):
        return None, i
    c, k, p = _PATCH["clean"].match(lines[i]), _PATCH["corrupt"].match(lines[i + 1]), _PATCHED.match(lines[i + 2])
    if not (c and k and p):
        return None, i
    effect = Effect(input=seq(k.group(1)), before=seq(k.group(2)), after=seq(p.group(2)), reference=seq(c.group(2)),
                    note=p.group(3).strip())
    effects = Effects("patch", f"patched: {p.group(1)} (clean input {c.group(1)})", [effect])
    j = i + 3
    if j < len(lines) and lines[j].startswith("patched "):
        effect.note = (effect.note + " " + lines[j]).strip()
        j += 1
    return effects, j


_HEADER = re.compile(rf"^(\S+) for input ({_SEQ}):")
"""get_activations' first line, `HOOK for input [..]: shape …`: what the tables under it show."""
_SECTION = re.compile(r"^== (.+) ==$")
"""A static dump's section, `== HOOK ==`."""
_RANKS = re.compile(r"^directions needed: \d+ of \d+ \((.*)\)$")
_RANK = re.compile(r"rank (\d+): (R² )?(-?[\d.]+)(%?)")
_COMMON = re.compile(r"always guessing the most common value: ([\d.]+)%")


def _take_probe(lines: list[str], i: int, loose: list[str]) -> tuple[Optional[Matrix], int]:
    """A probe's held-out score by the number of directions kept (and, for a categorical property, the
    score of always guessing the most common value), as one row: the probe's picture."""
    m = _RANKS.match(lines[i])
    ranks = _RANK.findall(m.group(1)) if m else []
    if not ranks:
        return None, i
    percent = ranks[0][3] == "%"
    cols, values = [], []
    common = next((c for c in map(_COMMON.search, loose) if c), None)
    if common and percent:
        cols.append("most common value")
        values.append(float(common.group(1)) / 100)
    for k, _, v, _ in ranks:
        cols.append(f"rank {k}")
        values.append(float(v) / 100 if percent else float(v))
    title = next((line for line in loose if line.startswith("probe at ")), "probe")
    return Matrix(title, "held-out", ["accuracy" if percent else "R²"], cols, [values], kind="probe", scale=1.0,
                  percent=percent), i + 1


_VALUE = r"\?\([^)]*\)|[^\s,\[\]]+"
_CHANGE = re.compile(rf"(\S+): ({_VALUE}) -> ({_VALUE})(?: \[(\w+) ({_VALUE})\])?")
_CHANGE_LINE = re.compile(r"^  (\S+(?: \S+)?)\s{2,}(\S+: .* -> .*)$")
_INPUT_HEAD = re.compile(rf"^({_SEQ}):$|^clean ({_SEQ}), corrupt ({_SEQ});")


def parse_result(text: str) -> list[Part]:
    """The parts of one tool result, in order; unrecognised lines are kept as `Lines`."""
    lines = text.splitlines()
    parts: list[Part] = []
    loose: list[str] = []

    def flush():
        if loose:
            parts.append(Lines("\n".join(loose)))
            loose.clear()

    current_input = ""
    context = ""  # what the tables under a get_activations header or a dump section show
    i = 0
    while i < len(lines):
        line = lines[i]
        header = _HEADER.match(line) or _SECTION.match(line)
        if header:
            context = header.group(1) + (f" on {' '.join(seq(header.group(2)))}" if header.re is _HEADER else "")
        head = _INPUT_HEAD.match(line)
        if head:
            current_input = " ".join(seq(head.group(1) or head.group(3)))  # patching changes the corrupt run
        m = _CHANGE_LINE.match(line)
        changes = _CHANGE.findall(m.group(2)) if m else []
        if changes:
            prev = parts[-1] if parts else None
            if not isinstance(prev, Changes):
                flush()  # the header lines stay as text above the table
                prev = Changes("what changed in the final residual stream")
                parts.append(prev)
            for var, before, after, ref_name, ref in changes:
                prev.rows.append(Change(current_input, m.group(1), var, before, after, ref))
                prev.reference_name = prev.reference_name or ref_name
            i += 1
            continue
        if isinstance(parts[-1] if parts else None, Changes) and (head or line.startswith("  final residual")):
            i += 1  # between two inputs of a white-box ablation: their headers are in the rows
            continue
        is_decode = any(mark in line for mark in ("decoded by variable", "decoded by direction", "non-zero dim"))
        block, j = _take_vartable(lines, i) if is_decode else (None, i)
        if block is not None and _HEADER.match(line):
            block.title = context  # a get_activations read of the residual stream: its header is the title
        if block is None:
            block, j = _take_matrix(lines, i, loose[-1] if loose else "")
            if block is not None and loose and not _HEADER.match(loose[-1]):
                loose.pop()  # the line above the table is its title (a header stays: it says what follows)
            if block is not None and context and context.split()[0] not in block.title:
                block.title = f"{context} · {block.title.rstrip(':')}".rstrip(" ·")
        if block is None:
            block, j = _take_patch(lines, i)
        if block is None and line.startswith("directions needed:"):
            block, j = _take_probe(lines, i, loose)
        if block is not None:
            flush()
            parts.append(block)
            i = j
            continue
        m = _ABLATE_ROW.match(line)
        if m:
            prev = parts[-1] if parts and not loose else None
            if not isinstance(prev, Effects) or prev.kind != "ablate":
                title = loose.pop() if loose and loose[-1].endswith(":") else "ablation"
                flush()
                prev = Effects("ablate", title.rstrip(":"))
                parts.append(prev)
            prev.rows.append(Effect(seq(m.group(1)), seq(m.group(2)), seq(m.group(3)), note=m.group(4).strip()))
            i += 1
            continue
        m = _IO_ROW.match(line)
        if m:
            prev = parts[-1] if parts and not loose else None
            if not isinstance(prev, IOPairs):
                flush()
                prev = IOPairs([])
                parts.append(prev)
            prev.rows.append((seq(m.group(1)), seq(m.group(2))))
            i += 1
            continue
        loose.append(line)
        i += 1
    flush()
    return parts


def has_picture(parts: list[Part]) -> bool:
    return any(not isinstance(p, Lines) for p in parts)
