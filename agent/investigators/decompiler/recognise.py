"""Recognising a recovered table as a named primitive, checked on the table's whole domain.

Two kinds of table come out of a model: a map (an MLP, or the renaming of a value a head moves),
input values -> output value; and a selection (a head's rule), (query value, key value) -> selected.
For each, small families of candidate expressions are searched, simplest first:

- maps: a constant, an argument or a pair's component, a pair of arguments, an affine formula
  (x + k, k - x, x * k, x / k, x - y, t + i / 5 …, its coefficients solved for), a condition for a
  two-valued output (x == k, x < k, thresholds placed at a round number, parity, x % m == r, ranges,
  membership, x == y, x < y, and/or/xor of flags) cast to the output's type, modular and rounded
  arithmetic ((x + k) % m, x // m, (x + k) % y, min/max with a constant or each other, |x - k|, x * x,
  round(x * k)), and alphabet orderings (a letter's position, the letter at a position, a shift);
- selections: a comparison of key and query (==, !=, <, <=, >, >=), also with an offset (k == q - 1:
  the previous position) or a flipped bit (k == q ^ 1), a condition on one side (k == 0: the first
  position; k == 'a'; a flag), a pair's components, and the conjunction or disjunction of two such.

A candidate is accepted only when it gives every entry of the table (`primitives.fits`); otherwise
the table stays a table. None of this knows any task.
"""

from __future__ import annotations

from fractions import Fraction
from itertools import permutations
from typing import Any, Iterator, Optional

import numpy as np

from tracr_agent.agent.investigators.decompiler.primitives import (
    CMP, Expr, arg, call, const, evaluate, fits, item, same_value, size,
)
from tracr_agent.tools.subjects.compare import FLOAT_NOISE, within

MAX_MODULUS = 12
OFFSETS = (1, 2, 3)


def _is_num(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _kind(values: list) -> str:
    if all(isinstance(v, bool) for v in values):
        return "bool"
    if all(_is_int(v) for v in values):
        return "int"
    if all(_is_num(v) for v in values):
        return "num"
    if all(isinstance(v, str) for v in values):
        return "str"
    if all(isinstance(v, tuple) for v in values):
        return "tuple"
    return "other"


class Term:
    """An argument, or a component of a pair-valued argument, with its values on the entries."""

    def __init__(self, expr: Expr, values: list):
        self.expr, self.values = expr, values
        self.kind = _kind(values)
        self.distinct = sorted(set(values), key=_order_key)

    @property
    def flag(self) -> bool:
        """Holds a truth value: bools, or the 0/1 a label-free residual reads a flag as."""
        return self.kind == "bool" or (self.kind == "int" and set(self.values) <= {0, 1})

    @property
    def ordered(self) -> bool:
        return self.kind in ("int", "num", "str")

    def truth(self) -> Expr:
        return self.expr if self.kind == "bool" else call("eq", self.expr, const(1))


def _order_key(v):
    return (type(v).__name__ if not _is_num(v) else "num", v) if not isinstance(v, tuple) else ("tuple", repr(v))


def terms_of(rows: list[tuple]) -> list[Term]:
    """The arguments and (for pair-valued ones) their components, as terms."""
    out = []
    for i in range(len(rows[0]) if rows else 0):
        vals = [r[i] for r in rows]
        t = Term(arg(i), vals)
        out.append(t)
        if t.kind == "tuple" and len({len(v) for v in vals}) == 1 and 2 <= len(vals[0]) <= 3:
            out += [Term(item(arg(i), j), [v[j] for v in vals]) for j in range(len(vals[0]))]
    return out


def _comparable(a: Term, b: Term) -> bool:
    if a.kind in ("int", "num") and b.kind in ("int", "num"):
        return True
    return a.kind == b.kind and a.kind in ("str", "bool", "tuple")


# -- numbers: affine formulas and round constants -----------------------------------------------------

def _nice(fr: Fraction) -> Any:
    return int(fr) if fr.denominator == 1 else fr


def snap(c: float) -> Any:
    """A coefficient as the simple fraction it is (float rounding aside), else itself."""
    fr = Fraction(c).limit_denominator(12)
    return _nice(fr) if within(float(fr), c, FLOAT_NOISE) else c


def affine(terms: list[Expr], coefs: list, constant) -> Expr:
    """sum(coef * term) + constant as an expression that reads naturally: positive terms first,
    subtraction for negative ones, a fraction as a division (i / 5)."""
    def scaled(t: Expr, c) -> Expr:
        c = abs(c)
        if isinstance(c, Fraction):
            base = t if c.numerator == 1 else call("mul", const(c.numerator), t)
            return call("div", base, const(c.denominator))
        return t if c == 1 else call("mul", const(c), t)

    parts = [(t, c) for t, c in zip(terms, coefs) if c != 0]
    parts.sort(key=lambda tc: (tc[1] < 0, -abs(tc[1])))  # positive terms first, the largest first
    e: Optional[Expr] = None
    if parts and parts[0][1] < 0 and constant > 0:  # k - x rather than -x + k
        e, constant = (const(constant) if not isinstance(constant, Fraction) else
                       call("div", const(constant.numerator), const(constant.denominator))), 0
    for t, c in parts:
        s = scaled(t, c)
        if e is None:
            e = s if c > 0 else call("neg", s)
        else:
            e = call("add" if c > 0 else "sub", e, s)
    if constant != 0 or e is None:
        k = constant
        if e is None:
            return const(k if not isinstance(k, Fraction) else float(k))
        kv = abs(k)
        kx = call("div", const(kv.numerator), const(kv.denominator)) if isinstance(kv, Fraction) else const(kv)
        e = call("add" if k > 0 else "sub", e, kx)
    return e


def _affine_fit(nums: list[Term], outs: list) -> Optional[Expr]:
    """a·x + b solved by least squares, kept when exact. Integer outputs (categorical values) need
    integer coefficients, and the fit needs more entries than coefficients plus one: any line
    passes through two points."""
    if not nums or not all(_is_num(v) for v in outs) or len(outs) < len(nums) + 2:
        return None
    X = np.column_stack([np.array([float(v) for v in t.values]) for t in nums] + [np.ones(len(outs))])
    y = np.array([float(v) for v in outs])
    coef, *_ = np.linalg.lstsq(X, y, rcond=None)
    if not np.all(within(X @ coef, y)):
        return None
    snapped = [snap(float(c)) for c in coef]
    if all(_is_int(v) for v in outs) and not all(isinstance(c, int) for c in snapped):
        return None
    return affine([t.expr for t in nums], snapped[:-1], snapped[-1])


def _round_constants(lo, hi) -> list:
    """Round numbers in [lo, hi], roundest first (integers by size, then halves), then the ends."""
    out = []
    if _is_num(lo) and _is_num(hi):
        for k in range(int(np.floor(lo)), int(np.ceil(hi)) + 1):
            if lo <= k <= hi:
                out.append(k)
        out.sort(key=abs)
        halves = [k / 2 for k in range(int(np.floor(2 * lo)), int(np.ceil(2 * hi)) + 1) if lo <= k / 2 <= hi]
        out += [h for h in halves if h not in out]
        out += [v for v in (hi, lo) if v not in out]
    else:
        out = [hi, lo]
    return out


def _threshold(t: Term, true_vals: set, false_vals: set) -> Iterator[Expr]:
    """t < c, t <= c, t > c, t >= c (c a round number in the gap) or lo <= t <= hi, when the values
    giving true are the smallest, the largest, or a run in the middle of t's values."""
    order = t.distinct
    flags = [v in true_vals for v in order]
    if all(flags) or not any(flags):
        return
    first, last = flags.index(True), len(flags) - 1 - flags[::-1].index(True)
    if not all(flags[first:last + 1]):
        return
    x = t.expr
    if first == 0 or last == len(order) - 1:
        if first == 0:  # true below: t < c for a < c <= b, t <= c for a <= c < b
            a, b, lt, le = order[last], order[last + 1], "lt", "le"
        else:
            a, b, lt, le = order[first], order[first - 1], "gt", "ge"
        lo, hi = min(a, b), max(a, b)
        for c in _round_constants(lo, hi):
            if c == b:
                yield call(lt, x, const(c))
            elif c == a:
                yield call(le, x, const(c))
            elif lo < c < hi:
                yield call(lt, x, const(c))
            break
    else:
        yield call("and", call("ge", x, const(order[first])), call("le", x, const(order[last])))


def _conditions(terms: list[Term], truth: list[bool]) -> Iterator[Expr]:
    """Conditions over the terms that hold exactly on the entries marked true, simplest first."""
    singles = []
    for t in terms:
        if t.kind == "tuple":
            continue
        by_value: dict = {}
        consistent = True
        for v, s in zip(t.values, truth):
            if by_value.setdefault(v, s) != s:
                consistent = False
                break
        if not consistent:
            continue
        true_vals = {v for v, s in by_value.items() if s}
        false_vals = {v for v, s in by_value.items() if not s}
        if t.flag:
            yield t.truth() if true_vals <= {True, 1} else call("not", t.truth())
        if len(true_vals) == 1:
            yield call("eq", t.expr, const(next(iter(true_vals))))
        if len(false_vals) == 1:
            yield call("ne", t.expr, const(next(iter(false_vals))))
        if t.ordered:
            yield from _threshold(t, true_vals, false_vals)
        singles.append((t, true_vals, false_vals))
    for t, true_vals, _ in singles:
        if t.kind == "int":
            for m in range(2, 5):
                for r in range(m):
                    yield call("eq", call("mod", t.expr, const(m)), const(r))
    pairs = [(a, b) for a, b in permutations(terms, 2) if _comparable(a, b)]
    for a, b in pairs:
        for op in CMP:
            if op in ("eq", "ne") and a.expr.__repr__() > b.expr.__repr__():
                continue  # symmetric: one order is enough
            yield call(op, a.expr, b.expr)
    for a, b in permutations(terms, 2):  # a letter against an ordinal (a label-free residual's values)
        if a.kind == "str" and b.kind == "int" and all(len(v) == 1 and "a" <= v <= "z" for v in a.distinct):
            yield call("eq", call("alpha", a.expr), b.expr)
            yield call("ne", call("alpha", a.expr), b.expr)
    flags = [t for t in terms if t.flag]
    for a, b in permutations(flags, 2):
        if repr(a.expr) < repr(b.expr):
            yield call("and", a.truth(), b.truth())
            yield call("or", a.truth(), b.truth())
        yield call("and", a.truth(), call("not", b.truth()))
    for t, true_vals, false_vals in singles:
        if t.kind in ("str", "other") or len(t.distinct) <= 4:
            small = true_vals if len(true_vals) <= len(false_vals) else false_vals
            member = call("in", t.expr, const(frozenset(small)))
            yield member if small is true_vals else call("notin", t.expr, const(frozenset(small)))


def _cast(cond: Expr, true_value, false_value) -> Expr:
    """A condition as the output's two values."""
    if true_value is True and false_value is False:
        return cond
    if _is_int(true_value) and (true_value, false_value) == (1, 0):
        if cond.op == "eq" and cond.args[0].op == "mod" and cond.args[0].args[1] == const(2) and cond.args[1] == const(1):
            return cond.args[0]  # x % 2: the parity itself
        return call("int", cond)
    if isinstance(true_value, float) and (true_value, false_value) == (1.0, 0.0):
        return call("float", cond)
    return call("ifelse", cond, const(true_value), const(false_value))


def _two_valued(terms: list[Term], outs: list) -> Iterator[Expr]:
    values = sorted(set(outs), key=_order_key)
    if len(values) != 2:
        return
    if set(values) <= {True, False, 0, 1, 0.0, 1.0} and all(type(v) is type(values[0]) for v in values):
        false_value, true_value = values  # sorted: False/0 first
    else:
        true_value, false_value = values
    truth = [same_value(o, true_value) and type(o) is type(true_value) for o in outs]
    for cond in _conditions(terms, truth):
        yield _cast(cond, true_value, false_value)


def _integer_maps(terms: list[Term], outs: list) -> Iterator[Expr]:
    if not all(_is_num(v) for v in outs):
        return
    ints = [t for t in terms if t.kind == "int"]
    top = min(MAX_MODULUS, max(abs(int(v)) for v in outs) + 2) if all(_is_int(v) for v in outs) else MAX_MODULUS
    for t in ints:
        x = t.expr
        for m in range(2, top + 1):
            yield call("mod", x, const(m))
            yield call("floordiv", x, const(m))
            for k in OFFSETS + tuple(-k for k in OFFSETS):
                shifted = call("add" if k > 0 else "sub", x, const(abs(k)))
                yield call("mod", shifted, const(m))
                yield call("floordiv", shifted, const(m))
        lo, hi = min(t.distinct), max(t.distinct)
        for c in range(int(lo), int(hi) + 1):
            yield call("min", x, const(c))
            yield call("max", x, const(c))
            yield call("abs", call("sub", x, const(c)) if c else x)
        yield call("mul", x, x)
    for a, b in permutations(ints, 2):
        yield call("mod", a.expr, b.expr)
        for k in OFFSETS + tuple(-k for k in OFFSETS):
            yield call("mod", call("add" if k > 0 else "sub", a.expr, const(abs(k))), b.expr)
        if repr(a.expr) < repr(b.expr):
            yield call("min", a.expr, b.expr)
            yield call("max", a.expr, b.expr)
            for m in range(2, top + 1):
                yield call("mod", call("add", a.expr, b.expr), const(m))
        yield call("abs", call("sub", a.expr, b.expr))
        for m in range(2, top + 1):
            yield call("mod", call("sub", a.expr, b.expr), const(m))
    nums = [t for t in terms if t.kind in ("int", "num")]
    for a, b in permutations(nums, 2):
        if repr(a.expr) < repr(b.expr):
            yield call("mul", a.expr, b.expr)
    for t in terms:
        if t.kind == "num":
            yield call("mul", t.expr, t.expr)
            for k in (2, 3, 4, 5, 8, 10):
                yield call("round", call("mul", t.expr, const(k)))


def _letters(terms: list[Term], outs: list) -> Iterator[Expr]:
    def letters(vals) -> bool:
        return all(isinstance(v, str) and len(v) == 1 and "a" <= v <= "z" for v in vals)

    for t in terms:
        if t.kind == "str" and letters(t.distinct):
            pos = call("alpha", t.expr)
            if all(_is_int(v) for v in outs):
                yield pos
                for k in OFFSETS:
                    yield call("add", pos, const(k))
                    yield call("sub", pos, const(k))
            if letters(outs):
                for m in range(2, 27):
                    for k in OFFSETS + tuple(-k for k in OFFSETS):
                        shifted = call("add" if k > 0 else "sub", pos, const(abs(k)))
                        yield call("letter", call("mod", shifted, const(m)))
        if t.kind == "int" and letters(outs):
            yield call("letter", t.expr)
            for m in range(2, 27):
                yield call("letter", call("mod", t.expr, const(m)))
    strs = [t for t in terms if t.kind == "str"]
    for a, b in permutations(strs, 2):
        if repr(a.expr) < repr(b.expr):
            yield call("min", a.expr, b.expr)
            yield call("max", a.expr, b.expr)


def map_candidates(rows: list[tuple], outs: list) -> Iterator[Expr]:
    """Candidate expressions over the arguments, simplest family first."""
    terms = terms_of(rows)
    if all(same_value(v, outs[0]) and type(v) is type(outs[0]) for v in outs):
        yield const(outs[0])
    for t in terms:
        yield t.expr
    if all(isinstance(v, tuple) and len(v) == 2 for v in outs):
        for a, b in permutations(terms, 2):
            yield call("pair", a.expr, b.expr)
    fit = _affine_fit([t for t in terms if t.kind in ("int", "num")], outs)
    if fit is not None:
        yield fit
    yield from _two_valued(terms, outs)
    yield from _integer_maps(terms, outs)
    yield from _letters(terms, outs)


def recognise_map(table: dict, arity: int) -> Optional[Expr]:
    """The simplest named expression giving every entry of a map's table (keys: the input value, or a
    tuple of input values when arity > 1), or None: the table stays a table. An entry with a missing
    (None) input must give None, as the rendered step passes a missing value through."""
    entries = [((k,) if arity == 1 else tuple(k), v) for k, v in table.items()]
    if any(any(a is None for a in args) and v is not None for args, v in entries):
        return None
    known = [(args, v) for args, v in entries if not any(a is None for a in args)]
    if not known or any(v is None for _, v in known):
        return None
    rows, outs = [a for a, _ in known], [v for _, v in known]
    for cand in map_candidates(rows, outs):
        if fits(cand, known):
            return cand
    return None


# -- selections -----------------------------------------------------------------------------------

K, Q = 0, 1  # a predicate's arguments: the key's value, then the query's


def holds(pred: Expr, k, q) -> bool:
    """Whether a selection predicate accepts (key, query): as the rendered Select evaluates it, a
    comparison a missing value cannot take selecting nothing."""
    try:
        return bool(evaluate(pred, (k, q)))
    except TypeError:
        return False


def _atoms(kt: list[Term], qt: list[Term]) -> Iterator[tuple[float, Expr]]:
    """(cost, predicate) for every single comparison the family holds."""
    yield 0.0, const(True)
    yield 0.0, const(False)
    op_cost = {"eq": 0.0, "lt": 0.1, "le": 0.1, "gt": 0.1, "ge": 0.1, "ne": 0.2}
    for a in kt:
        for b in qt:
            if not _comparable(a, b):
                continue
            depth = 0.3 * ((a.expr.op == "item") + (b.expr.op == "item"))
            ops = ("eq", "ne") if a.kind in ("tuple", "bool") else CMP
            for op in ops:
                yield 1.0 + depth + op_cost[op], call(op, a.expr, b.expr)
            if a.kind == "int" and b.kind == "int":
                for k in OFFSETS:
                    for sign in ("sub", "add"):
                        for op in ops:
                            yield 2.0 + depth + 0.1 * k + op_cost[op], call(op, a.expr, call(sign, b.expr, const(k)))
                yield 2.5 + depth, call("eq", a.expr, call("xor", b.expr, const(1)))
    for side in (kt, qt):
        for t in side:
            if t.kind == "tuple":
                continue
            depth = 0.3 * (t.expr.op == "item")
            if t.flag:
                yield 1.0 + depth, t.truth()
                yield 1.2 + depth, call("not", t.truth())
            for c in t.distinct:
                ops = CMP if t.ordered else ("eq", "ne")
                for op in ops:
                    yield 1.5 + depth + op_cost[op], call(op, t.expr, const(c))


def recognise_rule(table: dict) -> Optional[Expr]:
    """The simplest predicate over (k, q) — the key's value, the query's — that selects exactly as the
    table says on every entry (keys: (query value, key value)), or None: the rule stays a table."""
    entries = [((k, q), bool(s)) for (q, k), s in table.items()]
    if not entries:
        return None
    kt = terms_of([(k,) for (k, _), _ in entries])
    qt = [Term(_shift_arg(t.expr), t.values) for t in terms_of([(q,) for (_, q), _ in entries])]
    target = sum(1 << i for i, (_, s) in enumerate(entries) if s)
    full = (1 << len(entries)) - 1
    atoms = []
    for cost, pred in _atoms(kt, qt):
        mask = sum(1 << i for i, ((k, q), _) in enumerate(entries) if holds(pred, k, q))
        atoms.append((cost + 0.01 * size(pred), mask, pred))
    best: Optional[tuple] = None
    for cost, mask, pred in atoms:
        if mask == target and (best is None or cost < best[0]):
            best = (cost, pred)
    if best is None:
        over = sorted((a for a in atoms if a[1] & target == target and a[1] != full), key=lambda a: a[0])[:60]
        under = sorted((a for a in atoms if a[1] | target == target and a[1]), key=lambda a: a[0])[:60]
        for group, combine, op in ((over, lambda x, y: x & y, "and"), (under, lambda x, y: x | y, "or")):
            for i, (c1, m1, p1) in enumerate(group):
                for c2, m2, p2 in group[i + 1:]:
                    cost = c1 + c2 + (0.5 if op == "or" else 0.0)
                    if combine(m1, m2) == target and (best is None or cost < best[0]):
                        best = (cost, call(op, p1, p2))
    if best is None:
        return None
    pred = best[1]
    return pred if all(holds(pred, k, q) == s for (k, q), s in entries) else None


def _shift_arg(e: Expr) -> Expr:
    """A term of the query's one-argument rows as a term of the predicate's second argument."""
    if e.op == "arg":
        return arg(Q)
    return Expr(e.op, tuple(_shift_arg(a) for a in e.args), e.value)
