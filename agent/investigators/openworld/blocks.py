"""The building blocks the open-world baseline composes: RASP-like operations over sequences.

Every block has a Python template (what the submitted implementation runs) and an English
phrase (what the description says). Nothing here knows any particular task: these are the
generic operations of RASP (Weiss et al. 2021) — elementwise maps, two-input sequence maps,
select with each comparison followed by an aggregate, a selector width or a prefix/suffix
reduction — plus sorting by a key.

A value kind is one of `int`, `str`, `bool`, `num` (a number averaged by attention).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class MapFn:
    key: str
    kind_in: str
    kind_out: str
    fn: Callable
    code: str
    """A Python expression over x (and y for two-input maps)."""
    text: str
    """An English phrase over {x} (and {y})."""


def _safe(f):
    def g(*a):
        try:
            return f(*a)
        except (ArithmeticError, TypeError, ValueError, IndexError):
            return None
    return g


def int_maps(values: list) -> list[MapFn]:
    """Maps of an integer sequence; thresholds come from the values it takes."""
    out = [
        MapFn("neg", "int", "int", lambda x: -x, "-x", "minus {x}"),
        MapFn("half", "int", "int", lambda x: x // 2, "x // 2", "{x} halved (rounded down)"),
        MapFn("xor1", "int", "int", lambda x: x ^ 1, "x ^ 1", "{x} with its lowest bit flipped"),
    ]
    for k in (1, 2, 3):
        out.append(MapFn(f"add{k}", "int", "int", lambda x, k=k: x + k, f"x + {k}", f"{{x}} plus {k}"))
        out.append(MapFn(f"sub{k}", "int", "int", lambda x, k=k: x - k, f"x - {k}", f"{{x}} minus {k}"))
    for k in (2, 3):
        out.append(MapFn(f"mul{k}", "int", "int", lambda x, k=k: x * k, f"x * {k}", f"{{x}} times {k}"))
    for m in (2, 3, 4):
        out.append(MapFn(f"mod{m}", "int", "int", lambda x, m=m: x % m, f"x % {m}", f"{{x}} modulo {m}"))
    for k in values:
        out += [
            MapFn(f"eq{k}", "int", "bool", lambda x, k=k: x == k, f"x == {k!r}", f"whether {{x}} equals {k!r}"),
            MapFn(f"lt{k}", "int", "bool", lambda x, k=k: x < k, f"x < {k!r}", f"whether {{x}} is below {k!r}"),
            MapFn(f"gt{k}", "int", "bool", lambda x, k=k: x > k, f"x > {k!r}", f"whether {{x}} is above {k!r}"),
            MapFn(f"min{k}", "int", "int", lambda x, k=k: min(x, k), f"min(x, {k!r})", f"the smaller of {{x}} and {k!r}"),
            MapFn(f"max{k}", "int", "int", lambda x, k=k: max(x, k), f"max(x, {k!r})", f"the larger of {{x}} and {k!r}"),
        ]
    return out


def str_maps(values: list) -> list[MapFn]:
    out = []
    for c in values:
        out += [
            MapFn(f"is{c}", "str", "bool", lambda x, c=c: x == c, f"x == {c!r}", f"whether {{x}} is {c!r}"),
            MapFn(f"before{c}", "str", "bool", lambda x, c=c: x < c, f"x < {c!r}", f"whether {{x}} sorts before {c!r}"),
        ]
    return out


BOOL_MAPS = [MapFn("not", "bool", "bool", lambda x: not x, "not x", "not {x}")]
NUM_MAPS: list[MapFn] = []  # numerical outputs are fitted linearly at the last step instead

SEQ_MAPS: list[MapFn] = [
    MapFn("plus", "int", "int", lambda x, y: x + y, "x + y", "{x} plus {y}"),
    MapFn("minus", "int", "int", lambda x, y: x - y, "x - y", "{x} minus {y}"),
    MapFn("opposite", "int", "int", lambda x, y: x - y - 1, "x - y - 1", "{x} minus {y} minus 1"),
    MapFn("modulo", "int", "int", _safe(lambda x, y: x % y), "x % y if y else None", "{x} modulo {y}"),
    MapFn("larger", "int", "int", lambda x, y: max(x, y), "max(x, y)", "the larger of {x} and {y}"),
    MapFn("smaller", "int", "int", lambda x, y: min(x, y), "min(x, y)", "the smaller of {x} and {y}"),
    MapFn("same", "int", "bool", lambda x, y: x == y, "x == y", "whether {x} equals {y}"),
    MapFn("less", "int", "bool", lambda x, y: x < y, "x < y", "whether {x} is less than {y}"),
    MapFn("same_s", "str", "bool", lambda x, y: x == y, "x == y", "whether {x} equals {y}"),
    MapFn("less_s", "str", "bool", lambda x, y: x < y, "x < y", "whether {x} sorts before {y}"),
    MapFn("and", "bool", "bool", lambda x, y: x and y, "x and y", "{x} and {y}"),
    MapFn("or", "bool", "bool", lambda x, y: x or y, "x or y", "{x} or {y}"),
    MapFn("xor", "bool", "bool", lambda x, y: x != y, "x != y", "exactly one of {x} and {y}"),
]

# tracr's Select calls predicate(key, query)
COMPARISONS = {
    "EQ": ("k == q", "the key equals the query"), "NEQ": ("k != q", "the key differs from the query"),
    "LT": ("k < q", "the key is less than the query"), "LEQ": ("k <= q", "the key is at most the query"),
    "GT": ("k > q", "the key is greater than the query"), "GEQ": ("k >= q", "the key is at least the query"),
    "TRUE": ("True", "always"),
}

REDUCERS = {
    # name: (value kinds accepted, output kind (None: the values' kind), English)
    "width": ((), "int", "how many positions are selected"),
    "unique": (("int", "str", "bool"), None, "the value at the selected position"),
    "mean": (("int", "bool", "num"), "num", "the mean of the selected values (0 when none)"),
    "max": (("int", "str"), None, "the largest selected value"),
    "min": (("int", "str"), None, "the smallest selected value"),
}

HELPERS = {
    "select": '''def select(keys, queries, predicate):
    """The attention pattern: row q marks the keys k with predicate(k, q) (None never matches)."""
    return [[k is not None and q is not None and predicate(k, q) for k in keys] for q in queries]
''',
    "width": '''def selector_width(selected):
    """How many keys each query selects."""
    return [sum(row) for row in selected]
''',
    "unique": '''def aggregate(selected, values):
    """Each query reads the value of the key(s) it selects: None when none (or they disagree)."""
    out = []
    for row in selected:
        picked = {v for v, s in zip(values, row) if s and v is not None}
        out.append(picked.pop() if len(picked) == 1 else None)
    return out
''',
    "mean": '''def mean(selected, values):
    """Each query averages the selected values (0 when it selects nothing)."""
    out = []
    for row in selected:
        picked = [v for v, s in zip(values, row) if s]
        out.append(sum(picked) / len(picked) if picked else 0)
    return out
''',
    "max": '''def maximum(selected, values):
    """Each query takes the largest selected value (None when it selects nothing)."""
    return [max((v for v, s in zip(values, row) if s), default=None) for row in selected]
''',
    "min": '''def minimum(selected, values):
    """Each query takes the smallest selected value (None when it selects nothing)."""
    return [min((v for v, s in zip(values, row) if s), default=None) for row in selected]
''',
    "sort": '''def sort_by(values, keys, descending=False):
    """The values reordered by their keys (a stable sort: ties keep their order)."""
    order = sorted(range(len(values)), key=lambda i: keys[i], reverse=descending)
    return [values[i] for i in order]
''',
}
REDUCER_CALL = {"width": "selector_width", "unique": "aggregate", "mean": "mean", "max": "maximum", "min": "minimum"}
