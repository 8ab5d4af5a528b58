"""The named functions a generated program may apply: each one readable, described, and total.

A generated program never holds an anonymous lambda: every Map and SequenceMap
names an entry of these tables (plus its parameters), so the same program
always renders, describes and builds the same way. Each entry says which value
kinds it accepts (`int`, `str` for letters, `num` for numerical SOps) and
what it returns; the sampler only combines entries whose kinds fit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

LETTERS = "abcdefgh"


@dataclass(frozen=True)
class Fn:
    key: str
    arity: int
    kinds: tuple[str, ...]
    """Input kinds, one per argument."""
    out: str
    """Output kind: int, str or num."""
    params: tuple[tuple, ...]
    """The parameter tuples the sampler may choose from (empty tuple: no parameters)."""
    make: Callable[..., Callable]
    """make(*params) -> the function."""
    code: str
    """Python expression over x (and y), with {0}, {1} for the parameters."""
    text: str
    """English phrase over {x} (and {y}) and the parameters {p0}, {p1}."""


def _ind(pred):
    return lambda *p: (lambda x: 1 if pred(x, *p) else 0)


MAPS: tuple[Fn, ...] = (
    # categorical int -> categorical int
    Fn("add", 1, ("int",), "int", ((1,), (2,), (3,)), lambda k: (lambda x: x + k), "x + {0}", "{x} plus {p0}"),
    Fn("sub", 1, ("int",), "int", ((1,), (2,)), lambda k: (lambda x: x - k), "x - {0}", "{x} minus {p0}"),
    Fn("mul", 1, ("int",), "int", ((2,), (3,)), lambda k: (lambda x: x * k), "x * {0}", "{x} times {p0}"),
    Fn("mod", 1, ("int",), "int", ((2,), (3,), (4,)), lambda m: (lambda x: x % m), "x % {0}", "{x} modulo {p0}"),
    Fn("addmod", 1, ("int",), "int", ((1, 3), (2, 4), (1, 4), (3, 5)),
       lambda k, m: (lambda x: (x + k) % m), "(x + {0}) % {1}", "({x} plus {p0}) modulo {p1}"),
    Fn("min", 1, ("int",), "int", ((1,), (2,), (3,)), lambda k: (lambda x: min(x, k)), "min(x, {0})",
       "the smaller of {x} and {p0}"),
    Fn("max", 1, ("int",), "int", ((1,), (2,), (3,)), lambda k: (lambda x: max(x, k)), "max(x, {0})",
       "the larger of {x} and {p0}"),
    Fn("absdiff", 1, ("int",), "int", ((1,), (2,), (3,)), lambda k: (lambda x: abs(x - k)), "abs(x - {0})",
       "the distance between {x} and {p0}"),
    Fn("ge", 1, ("int",), "int", ((1,), (2,), (3,)), _ind(lambda x, k: x >= k), "1 if x >= {0} else 0",
       "1 if {x} is at least {p0}, else 0"),
    Fn("eq", 1, ("int",), "int", ((0,), (1,), (2,)), _ind(lambda x, k: x == k), "1 if x == {0} else 0",
       "1 if {x} equals {p0}, else 0"),
    Fn("letter", 1, ("int",), "str", ((),), lambda: (lambda x: LETTERS[x % len(LETTERS)]),
       f"'{LETTERS}'[x % {len(LETTERS)}]", f"the letter at position ({{x}} modulo {len(LETTERS)}) of '{LETTERS}'"),
    # categorical letter -> categorical
    Fn("is", 1, ("str",), "int", (("a",), ("b",), ("c",)), _ind(lambda x, c: x == c), "1 if x == {0!r} else 0",
       "1 if {x} is the letter {p0}, else 0"),
    Fn("before", 1, ("str",), "int", (("b",), ("c",)), _ind(lambda x, c: x < c), "1 if x < {0!r} else 0",
       "1 if {x} comes before the letter {p0} in the alphabet, else 0"),
    Fn("rank", 1, ("str",), "int", ((),), lambda: (lambda x: LETTERS.index(x) if x in LETTERS else 0),
       f"'{LETTERS}'.index(x)", "the alphabet position of {x} (a = 0)"),
    Fn("shift", 1, ("str",), "str", ((1,), (2,)),
       lambda k: (lambda x: LETTERS[(LETTERS.index(x) + k) % len(LETTERS)] if x in LETTERS else x),
       f"'{LETTERS}'[('{LETTERS}'.index(x) + {{0}}) % {len(LETTERS)}]",
       "the letter {p0} places after {x} in the alphabet (wrapping around)"),
)

NUMERICAL_MAPS: tuple[Fn, ...] = (
    # categorical -> numerical (a numerical Map: one residual dimension holds the number)
    Fn("ind_eq", 1, ("int",), "num", ((0,), (1,), (2,)), _ind(lambda x, k: x == k), "1 if x == {0} else 0",
       "1 if {x} equals {p0}, else 0"),
    Fn("ind_ge", 1, ("int",), "num", ((1,), (2,)), _ind(lambda x, k: x >= k), "1 if x >= {0} else 0",
       "1 if {x} is at least {p0}, else 0"),
    Fn("ind_is", 1, ("str",), "num", (("a",), ("b",), ("c",)), _ind(lambda x, c: x == c), "1 if x == {0!r} else 0",
       "1 if {x} is the letter {p0}, else 0"),
    Fn("scale", 1, ("int",), "num", ((4,), (8,)), lambda m: (lambda x: x / m), "x / {0}", "{x} divided by {p0}"),
    # numerical -> numerical (tracr discretises the input's value set in a hidden layer)
    Fn("one_minus", 1, ("num",), "num", ((),), lambda: (lambda x: 1 - x), "1 - x", "one minus {x}"),
    Fn("half", 1, ("num",), "num", ((),), lambda: (lambda x: x / 2), "x / 2", "half of {x}"),
    Fn("square", 1, ("num",), "num", ((),), lambda: (lambda x: x * x), "x * x", "the square of {x}"),
    Fn("nonzero", 1, ("num",), "num", ((),), _ind(lambda x: x > 0), "1 if x > 0 else 0",
       "1 if {x} is positive, else 0"),
    # numerical -> categorical
    Fn("above", 1, ("num",), "int", ((0.5,), (0.3,)), _ind(lambda x, t: x > t), "1 if x > {0} else 0",
       "1 if {x} is above {p0}, else 0"),
    Fn("round", 1, ("num",), "int", ((2,), (4,)), lambda k: (lambda x: round(x * k)), "round(x * {0})",
       "{x} times {p0}, rounded to the nearest integer"),
)

SEQUENCE_MAPS: tuple[Fn, ...] = (
    Fn("plus", 2, ("int", "int"), "int", ((),), lambda: (lambda x, y: x + y), "x + y", "{x} plus {y}"),
    Fn("minus", 2, ("int", "int"), "int", ((),), lambda: (lambda x, y: x - y), "x - y", "{x} minus {y}"),
    Fn("larger", 2, ("int", "int"), "int", ((),), lambda: (lambda x, y: max(x, y)), "max(x, y)",
       "the larger of {x} and {y}"),
    Fn("smaller", 2, ("int", "int"), "int", ((),), lambda: (lambda x, y: min(x, y)), "min(x, y)",
       "the smaller of {x} and {y}"),
    Fn("summod", 2, ("int", "int"), "int", ((2,), (3,), (4,)), lambda m: (lambda x, y: (x + y) % m),
       "(x + y) % {0}", "({x} plus {y}) modulo {p0}"),
    Fn("same", 2, ("int", "int"), "int", ((),), lambda: (lambda x, y: 1 if x == y else 0), "1 if x == y else 0",
       "1 if {x} equals {y}, else 0"),
    Fn("less", 2, ("int", "int"), "int", ((),), lambda: (lambda x, y: 1 if x < y else 0), "1 if x < y else 0",
       "1 if {x} is less than {y}, else 0"),
    Fn("same_letter", 2, ("str", "str"), "int", ((),), lambda: (lambda x, y: 1 if x == y else 0),
       "1 if x == y else 0", "1 if {x} and {y} are the same letter, else 0"),
    Fn("first_letter", 2, ("str", "str"), "str", ((),), lambda: (lambda x, y: min(x, y)), "min(x, y)",
       "whichever of {x} and {y} comes first in the alphabet"),
    Fn("shift_by", 2, ("str", "int"), "str", ((),),
       lambda: (lambda x, y: LETTERS[(LETTERS.index(x) + y) % len(LETTERS)] if x in LETTERS else x),
       f"'{LETTERS}'[('{LETTERS}'.index(x) + y) % {len(LETTERS)}]",
       "the letter {y} places after {x} in the alphabet (wrapping around)"),
    Fn("letter_if", 2, ("str", "int"), "str", ((),), lambda: (lambda x, y: x if y % 2 == 0 else "z"),
       "x if y % 2 == 0 else 'z'", "{x} where {y} is even, else the letter z"),
)

LINEAR_SEQUENCE_MAPS: tuple[tuple[str, float, float, str, str], ...] = (
    # (key, factor for x, factor for y, code, English) — tracr's numerical SequenceMap is linear
    ("lin_sum", 1.0, 1.0, "x + y", "{x} plus {y}"),
    ("lin_diff", 1.0, -1.0, "x - y", "{x} minus {y}"),
    ("lin_mean", 0.5, 0.5, "(x + y) / 2", "the mean of {x} and {y}"),
)

COMPARISONS = {
    # tracr calls predicate(key, query)
    "EQ": ("k == q", "equals"), "LT": ("k < q", "is less than"), "LEQ": ("k <= q", "is at most"),
    "GT": ("k > q", "is greater than"), "GEQ": ("k >= q", "is at least"), "NEQ": ("k != q", "differs from"),
    "TRUE": ("True", "always"), "FALSE": ("False", "never"),
}

BY_KEY = {f.key: f for f in (*MAPS, *NUMERICAL_MAPS, *SEQUENCE_MAPS)}
LINEAR_BY_KEY = {row[0]: row for row in LINEAR_SEQUENCE_MAPS}
