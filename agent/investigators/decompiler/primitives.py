"""Named primitives: the small expressions a decompiled step is written in when a table equals one.

An `Expr` is a per-position expression over a step's arguments — a map's input values, or a
selector's key and query values — built from constants, the arguments, a pair's components and
named operators (arithmetic, comparisons, min/max, membership, alphabet order, casts). It
evaluates (`evaluate`), and renders as Python (`python`) and as English (`words`).
`simplify.py` searches these for the one that equals a recovered table; nothing here knows any task.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Callable, Optional, Sequence

from tracr_agent.tools.subjects.compare import value_equal


@dataclass(frozen=True)
class Expr:
    op: str  # 'arg', 'const', or a name in OPS
    args: tuple = ()
    value: Any = None  # 'arg': the argument's index; 'const': the constant; 'item': the component index

    def __repr__(self) -> str:
        return python(self, [f"a{i}" for i in range(8)])


def arg(i: int) -> Expr:
    return Expr("arg", value=i)


def const(c: Any) -> Expr:
    return Expr("const", value=c)


def call(op: str, *args: Expr, value: Any = None) -> Expr:
    return Expr(op, tuple(args), value)


def item(e: Expr, i: int) -> Expr:
    return Expr("item", (e,), i)


@dataclass(frozen=True)
class Op:
    fn: Callable
    code: str  # Python, {0} {1} … the operands
    prec: int  # Python precedence of the result (higher binds tighter)
    text: str  # English, {0} {1} … the operands' phrases
    commutative: bool = False


def _alpha(x: str) -> int:
    return ord(x) - ord("a")


def _letter(x: int) -> str:
    return chr(ord("a") + x)


CMP_PREC, ATOM = 5, 16
OPS: dict[str, Op] = {
    "add": Op(operator.add, "{0} + {1}", 10, "{0} plus {1}", True),
    "sub": Op(operator.sub, "{0} - {1}", 10, "{0} minus {1}"),
    "mul": Op(operator.mul, "{0} * {1}", 11, "{0} times {1}", True),
    "div": Op(operator.truediv, "{0} / {1}", 11, "{0} divided by {1}"),
    "floordiv": Op(operator.floordiv, "{0} // {1}", 11, "{0} divided by {1}, rounded down"),
    "mod": Op(operator.mod, "{0} % {1}", 11, "{0} modulo {1}"),
    "neg": Op(operator.neg, "-{0}", 12, "minus {0}"),
    "xor": Op(operator.xor, "{0} ^ {1}", 7, "{0} with its lowest bit flipped"),
    "eq": Op(operator.eq, "{0} == {1}", CMP_PREC, "{0} equals {1}", True),
    "ne": Op(operator.ne, "{0} != {1}", CMP_PREC, "{0} differs from {1}", True),
    "lt": Op(operator.lt, "{0} < {1}", CMP_PREC, "{0} is less than {1}"),
    "le": Op(operator.le, "{0} <= {1}", CMP_PREC, "{0} is at most {1}"),
    "gt": Op(operator.gt, "{0} > {1}", CMP_PREC, "{0} is greater than {1}"),
    "ge": Op(operator.ge, "{0} >= {1}", CMP_PREC, "{0} is at least {1}"),
    "in": Op(lambda a, b: a in b, "{0} in {1}", CMP_PREC, "{0} is one of {1}"),
    "notin": Op(lambda a, b: a not in b, "{0} not in {1}", CMP_PREC, "{0} is none of {1}"),
    "not": Op(operator.not_, "not {0}", 4, "not {0}"),
    "and": Op(lambda a, b: a and b, "{0} and {1}", 3, "{0} and {1}", True),
    "or": Op(lambda a, b: a or b, "{0} or {1}", 2, "{0} or {1}", True),
    "ifelse": Op(lambda c, a, b: a if c else b, "{1} if {0} else {2}", 1, "{1} if {0}, else {2}"),
    "min": Op(min, "min({0}, {1})", ATOM, "the smaller of {0} and {1}", True),
    "max": Op(max, "max({0}, {1})", ATOM, "the larger of {0} and {1}", True),
    "abs": Op(abs, "abs({0})", ATOM, "the absolute value of {0}"),
    "round": Op(round, "round({0})", ATOM, "{0} rounded"),
    "int": Op(int, "int({0})", ATOM, "1 if {0}, else 0"),
    "float": Op(float, "float({0})", ATOM, "1 if {0}, else 0"),
    "alpha": Op(_alpha, "ord({0}) - ord('a')", 10, "the alphabet position of {0}"),
    "letter": Op(_letter, "chr(ord('a') + {0})", ATOM, "the letter at alphabet position {0}"),
    "pair": Op(lambda a, b: (a, b), "({0}, {1})", ATOM, "the pair ({0}, {1})"),
}
CMP = ("eq", "ne", "lt", "le", "gt", "ge")
FLIP = {"eq": "eq", "ne": "ne", "lt": "gt", "le": "ge", "gt": "lt", "ge": "le"}


def evaluate(e: Expr, args: Sequence) -> Any:
    """The expression's value for these argument values (it may raise, as Python would)."""
    if e.op == "arg":
        return args[e.value]
    if e.op == "const":
        return e.value
    if e.op == "item":
        return evaluate(e.args[0], args)[e.value]
    return OPS[e.op].fn(*(evaluate(a, args) for a in e.args))


def prec(e: Expr) -> int:
    if e.op in ("arg", "item"):
        return ATOM
    if e.op == "const":
        return 12 if isinstance(e.value, (int, float)) and not isinstance(e.value, bool) and e.value < 0 else ATOM
    return OPS[e.op].prec


def literal(v: Any) -> str:
    """A constant as Python: exact (a float is written in full, or as a simple fraction when it is one)."""
    if isinstance(v, float) and v == v and v not in (float("inf"), float("-inf")):
        if v == int(v):
            return repr(v)
        fr = Fraction(v).limit_denominator(64)
        if float(fr) == v:
            return f"{fr.numerator} / {fr.denominator}"
        return repr(v)
    if isinstance(v, (set, frozenset)):
        return "{" + ", ".join(literal(x) for x in sorted(v, key=repr)) + "}"
    if isinstance(v, tuple):
        return "(" + ", ".join(literal(x) for x in v) + ("," if len(v) == 1 else "") + ")"
    return repr(v)


def _operands(e: Expr, render: Callable[[Expr], str]) -> list[str]:
    p = prec(e)
    out = []
    for i, a in enumerate(e.args):
        s = render(a)
        ap = prec(a)
        if e.op in ("min", "max", "abs", "round", "int", "float", "pair", "letter", "ifelse"):
            need = e.op == "ifelse" and ap <= OPS["ifelse"].prec
        elif e.op == "alpha":
            need = False
        elif p == CMP_PREC:
            need = ap <= CMP_PREC
        elif i == 0 and len(e.args) > 1:
            need = ap < p
        else:
            need = ap < p or (ap == p and not OPS[e.op].commutative) or (ap == p and len(e.args) == 1)
        out.append(f"({s})" if need else s)
    return out


def python(e: Expr, names: Sequence[str]) -> str:
    """Python source for the expression, the arguments named `names`."""
    if e.op == "arg":
        return names[e.value]
    if e.op == "const":
        return literal(e.value)
    if e.op == "item":
        inner = python(e.args[0], names)
        return f"{inner}[{e.value}]" if prec(e.args[0]) >= ATOM else f"({inner})[{e.value}]"
    return OPS[e.op].code.format(*_operands(e, lambda a: python(a, names)))


def words(e: Expr, phrases: Sequence[str]) -> str:
    """The expression in English, the arguments read as `phrases`."""
    if e.op == "arg":
        return phrases[e.value]
    if e.op == "const":
        if isinstance(e.value, (set, frozenset)):
            return ", ".join(literal(x) for x in sorted(e.value, key=repr))
        return literal(e.value)
    if e.op == "item":
        return f"the {('first', 'second', 'third')[e.value] if e.value < 3 else f'#{e.value}'} part of {words(e.args[0], phrases)}"
    if e.op in ("int", "float"):
        return words(e.args[0], phrases)
    return OPS[e.op].text.format(*(words(a, phrases) for a in e.args))


def args_of(e: Expr) -> set[int]:
    """The argument indices the expression reads."""
    if e.op == "arg":
        return {e.value}
    return set().union(set(), *(args_of(a) for a in e.args))


def size(e: Expr) -> int:
    return 1 + sum(size(a) for a in e.args)


def same_value(got: Any, want: Any) -> bool:
    """A computed value is the recovered one: numbers to the tolerance where the recovered value is a
    float (a numerical variable), otherwise exactly; a bool only equals a bool."""
    if isinstance(got, bool) != isinstance(want, bool):
        return False  # a flag is written as one (a cast says where a number is wanted)
    return value_equal(got, want, numerical=isinstance(want, float))


def fits(e: Expr, entries: Sequence[tuple[tuple, Any]], guard: Optional[Callable] = None) -> bool:
    """Whether the expression gives every entry's value (args tuple -> value): the whole table, never a sample.
    `guard(args)` gives the value instead where it applies (e.g. a missing argument), None otherwise."""
    for args, want in entries:
        if guard is not None:
            g = guard(args)
            if g is not None:
                if not same_value(g[0], want):
                    return False
                continue
        try:
            got = evaluate(e, args)
        except Exception:  # noqa: BLE001 - a candidate that fails on an entry does not fit it
            return False
        if not same_value(got, want):
            return False
    return True
