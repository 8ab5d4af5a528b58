"""Conventional names for what a variable holds, when its composition is one — read off the
structure of the readable steps (structure.py), never off the model or a list of tasks.

A selector of positions i - 1, n - 1 - i, 0, (i + 1) mod n … copying tokens is a shift, a
reversal, the first token, a rotation; tokens gathered by their rank among smaller keys are a sort
(by the key: the token, its negation, its frequency); a flag "no token is larger" picks the
maximum; the width of an all-true selector is the length, of a same-token selector the histogram,
of a token filter a count; a mean of [token == c] is a fraction, over a prefix a running one; a
check that no position satisfies P names P ("all tokens equal", "first occurrence", "palindrome",
"is sorted"); running fractions of an opener minus a closer are a balance, and a balance zero at
the end and never negative is balanced brackets; a conjunction of token tests at consecutive
offsets detects a pattern; a map of the token is an increment, a parity, …
"""

from __future__ import annotations

from fractions import Fraction
from typing import Optional

from tracr_agent.agent.investigators.decompiler.primitives import Expr, arg, call, const, literal
from tracr_agent.agent.investigators.decompiler.recognise import K, Q
from tracr_agent.agent.investigators.decompiler.simplify import Step
from tracr_agent.agent.investigators.decompiler.structure import Form, Structure, affine_form

def _lit(c) -> str:
    return literal(c)


BRACKETS = {("(", ")"): "parentheses", ("[", "]"): "brackets", ("{", "}"): "braces", ("<", ">"): "angle brackets"}


def _brackets(opener, closer) -> str:
    """The conventional name of an opener and closer pair, else the two tokens."""
    return BRACKETS.get((opener, closer)) or f"{_lit(opener)} against {_lit(closer)}"


def _shift_name(form: Form) -> Optional[str]:
    keys = set(form)
    c = form.get(1, 0)
    if keys <= {"i", 1} and form.get("i") == 1:
        if c == -1:
            return "previous token"
        if c == 1:
            return "next token"
        if c < 0:
            return f"shift right by {-c}"
        if c > 0:
            return f"shift left by {c}"
        return "identity"
    if form in ({}, {1: 0}):
        return "first token"
    if form == {"n": 1, 1: -1}:
        return "last token"
    if form == {"n": 1, "i": -1, 1: -1}:
        return "reverse"
    return None


class Conventions:
    """Conventional names read off the readable program's structure."""

    def __init__(self, structure: Structure):
        self.rd = structure

    def step(self, var: Optional[str]) -> Optional[Step]:
        return self.rd.step(var)

    def name(self, var: Optional[str]) -> Optional[str]:
        s = self.step(var) if var else None
        if s is None:
            return "identity" if var == "tokens" else None
        if s.kind == "pick":
            return self._pick(s)
        if s.kind == "count":
            return self._count(s)
        if s.kind == "mean":
            return self._mean(s, 1)
        return self._map(s)

    def _sort_direction(self, key_var: str) -> Optional[str]:
        """'' (ascending) / ' descending' / ' by frequency' / ' unique' for a sort keyed on key_var."""
        if key_var == "tokens":
            return " unique"
        parts = self.rd.pair_parts(key_var)
        if parts and len(parts) == 2 and parts[1] == "indices":  # (key, position): the position breaks ties
            inner = self._sort_direction(parts[0])
            return inner.replace(" unique", "") if inner is not None else None
        form = self.rd.base_form(key_var)
        if not isinstance(form, dict) or not form:
            return None
        coef = {k: v for k, v in form.items() if k != 1}
        tie = coef.pop("indices", None)
        if len(coef) != 1:
            return None
        (base, c), = coef.items()
        if base == "tokens":
            order = "" if c > 0 else " descending"
        else:
            counted = self.step(base)
            kind = self.rd.count_kind(counted) if counted is not None and counted.kind == "count" else None
            if not kind or kind[0] != "same" or kind[1] != "tokens":
                return None
            order = " by frequency" if c < 0 else " by frequency ascending"
        return order if tie else (order + " unique" if order else " unique")

    def _pick(self, s: Step) -> Optional[str]:
        if self.rd.carried(s) != "tokens":
            return None
        pos = self.rd.position(s)
        if pos is not None and pos[0] == "form":
            return _shift_name(pos[1])
        if pos is not None and pos[0] == "text" and pos[1] == "i ^ 1":
            return "swap adjacent pairs"
        if pos is not None:
            q = self.step(s.queries)
            if q is not None and q.kind == "map" and q.expr is not None and q.expr.op == "mod" and len(q.inputs) == 2:
                forms = [self.rd.forms.get(v) for v in q.inputs]
                inner = affine_form(q.expr.args[0], forms)
                modulus = affine_form(q.expr.args[1], forms)
                if modulus == {"n": 1} and inner and set(inner) <= {"i", 1} and inner.get("i") == 1:
                    c = inner.get(1, 0)
                    return ("rotate left" if c == 1 else f"rotate left by {c}") if c > 0 else \
                        ("rotate right" if c == -1 else f"rotate right by {-c}")
            return None
        rank = self.step(s.keys)
        if s.predicate == call("eq", arg(K), arg(Q)) and self.rd.forms.get(s.queries) == {"i": 1} \
                and rank is not None and rank.kind == "count":
            kind = self.rd.count_kind(rank)
            if kind and kind[0] in ("smaller", "larger"):
                order = self._sort_direction(kind[1])
                if order is None:
                    return None
                if kind[0] == "larger":
                    order = {"": " descending", " descending": ""}.get(order, order)
                return "sort" + order
        if s.predicate is not None and (s.predicate == arg(K) or s.predicate == call("eq", arg(K), const(1))):
            flag = self.step(s.keys)
            extreme = self._extreme(flag)
            if extreme:
                return extreme
        return None

    def _extreme(self, flag: Optional[Step]) -> Optional[str]:
        """'maximum'/'minimum' for a flag 'no token is larger/smaller than this one'."""
        if flag is None or flag.kind != "map" or flag.expr is None or len(flag.inputs) != 1:
            return None
        if not _is_zero_test(flag.expr):
            return None
        counted = self.step(flag.inputs[0])
        kind = self.rd.count_kind(counted) if counted is not None and counted.kind == "count" else None
        if kind and kind[1] == "tokens" and kind[0] in ("larger", "smaller"):
            return "maximum" if kind[0] == "larger" else "minimum"
        return None

    def _count(self, s: Step) -> Optional[str]:
        kind = self.rd.count_kind(s)
        if kind is None:
            return None
        if kind[0] == "all":
            return "length"
        if kind[1] != "tokens" and kind[0] not in ("flag", "at_most"):
            return None
        if kind[0] == "same":
            return "histogram"
        if kind[0] in ("smaller", "larger"):
            return f"count of {kind[0]} tokens"
        if kind[0] == "other":
            return "count of other tokens"
        if kind[0] == "equal_to":
            return f"count of token {_lit(kind[2])}"
        if kind[0] == "running_equal_to" and kind[1] == "tokens":
            return f"running count of {_lit(kind[2])}"
        if kind[0] == "flag":
            inner = self.name(kind[1])
            if inner == "first occurrence":
                return "distinct count"
            return f"number of positions with {inner}" if inner else None
        if kind[0] == "at_most":
            counted = self.step(kind[1])
            ck = self.rd.count_kind(counted) if counted is not None and counted.kind == "count" else None
            if ck and ck[0] == "same" and ck[1] == "tokens":
                return f"count of tokens occurring at most {kind[2]} times"
        return None

    def _mean(self, s: Step, scale) -> Optional[str]:
        running = s.predicate == call("le", arg(K), arg(Q)) and s.keys == s.queries == "indices"
        if s.predicate != const(True) and not running:
            return None
        c = self.rd.indicator_of(s)
        if c is not None:
            return f"fraction of previous tokens that are {_lit(c)}" if running else f"fraction of token {_lit(c)}"
        form = self.rd.base_form(s.value) if s.value else None
        if isinstance(form, dict) and set(form) == {"tokens"} and form["tokens"] * scale == 1:
            return "running mean" if running else "mean of tokens"
        return None

    def _map(self, s: Step) -> Optional[str]:
        e = s.expr
        if e is None:
            return None
        if len(s.inputs) == 1:
            src = self.step(s.inputs[0])
            if src is not None and src.kind == "mean" and e.op == "mul" and e.args[0].op == "const":
                return self._mean(src, Fraction(e.args[0].value))
            if src is not None and src.kind == "count" and e == arg(0):
                return self._count(src)
            if src is not None and src.kind == "count":
                return self._count_test(e, src)
            if s.inputs[0] == "tokens":
                return _token_map(e)
        form = self.rd.base_form(s.name)
        if isinstance(form, dict) and set(form) == {"tokens", "indices"} and form["tokens"] == form["indices"] == 1:
            return "token plus index"
        balance = self._balance(s)
        if balance:
            return f"running balance of {_brackets(*balance)}"
        if e.op == "and":
            return self._dyck(s) or self._pattern(s)
        if len(s.inputs) == 2 and e in (call("eq", arg(0), arg(1)), call("eq", arg(1), arg(0))):
            other = s.inputs[1] if s.inputs[0] == "tokens" else s.inputs[0] if s.inputs[1] == "tokens" else None
            moved = self.name(other) if other else None
            if moved in ("first token", "previous token", "last token", "next token"):
                return f"equals {moved}"
        return None

    def _count_test(self, e: Expr, counted: Step) -> Optional[str]:
        kind = self.rd.count_kind(counted)
        if kind is None:
            return None
        if _is_zero_test(e):
            if kind[0] == "other" and kind[1] == "tokens":
                return "all tokens equal"
            if kind[0] == "earlier_same" and kind[1] == "tokens":
                return "first occurrence"
            if kind[0] == "flag" and self._counts_inversions(kind[1]):
                return "is sorted"
            if kind[0] == "flag":
                flag = self.step(kind[1])
                if flag is not None and flag.kind == "map" and flag.expr in (call("ne", arg(0), arg(1)),
                                                                           call("ne", arg(1), arg(0))):
                    names = {self.name(v) for v in flag.inputs}
                    if "tokens" in flag.inputs and "reverse" in names:
                        return "palindrome"
        if _is_nonzero_test(e):
            if kind[0] == "equal_to" and kind[1] == "tokens":
                return f"contains token {_lit(kind[2])}"
            if kind[0] == "previous_same" and kind[1] == "tokens":
                return "repeat of the previous token"
        if kind[0] == "previous_same" and kind[1] == "tokens" and e == call("eq", arg(0), const(1)):
            return "repeat of the previous token"  # at most one previous position: == 1 is > 0
        return None

    def _counts_inversions(self, flag_var: str) -> bool:
        """Whether the flag says 'some earlier token is larger than this one'."""
        flag = self.step(flag_var)
        if flag is None or flag.kind != "map" or flag.expr is None or len(flag.inputs) != 1 \
                or not _is_nonzero_test(flag.expr):
            return False
        counted = self.step(flag.inputs[0])
        kind = self.rd.count_kind(counted) if counted is not None and counted.kind == "count" else None
        return bool(kind) and kind[0] in ("earlier_larger", "later_smaller") and kind[1] == "tokens"

    # -- brackets and patterns -------------------------------------------------------------------
    def _running_fraction(self, var: str):
        s = self.step(var)
        return self._mean_indicator(s, running=True) if s is not None and s.kind == "mean" else None

    def _mean_indicator(self, s: Step, running: bool):
        prefix = s.predicate == call("le", arg(K), arg(Q)) and s.keys == s.queries == "indices"
        return self.rd.indicator_of(s) if prefix == running else None

    def _balance(self, s: Optional[Step]) -> Optional[tuple]:
        """(opener, closer) when the step is the running fraction of one token minus another's."""
        if s is None or s.kind != "map" or s.expr is None or len(s.inputs) != 2:
            return None
        fr = [self._running_fraction(v) for v in s.inputs]
        if None in fr:
            return None
        if s.expr == call("sub", arg(0), arg(1)):
            return fr[0], fr[1]
        if s.expr == call("sub", arg(1), arg(0)):
            return fr[1], fr[0]
        return None

    def _tested(self, var: str, test) -> list:
        """The balances a flag tests with `test` (== 0, < 0), through and/or of such flags."""
        s = self.step(var)
        if s is None or s.kind != "map" or s.expr is None:
            return []
        e = s.expr.args[0] if s.expr.op in ("int", "float") else s.expr
        if len(s.inputs) == 1 and e == arg(0):  # a flag cast to a number: the flag itself
            return self._tested(s.inputs[0], test)
        if len(s.inputs) == 1 and test(e):
            b = self._balance(self.step(s.inputs[0]))
            return [b] if b else []
        if e.op in ("and", "or") and len(s.inputs) == 2 and set(e.args) <= {arg(0), arg(1), call("eq", arg(0), const(1)),
                                                                           call("eq", arg(1), const(1))}:
            return self._tested(s.inputs[0], test) + self._tested(s.inputs[1], test)
        return []

    def _dyck(self, s: Step) -> Optional[str]:
        """'balanced parentheses' for: every balance is 0 at the last position, and at no position is
        any balance negative."""
        ends, nevers = [], []
        for v in s.inputs:
            last = self.step(v)
            pos = self.rd.position(last) if last is not None and last.kind == "pick" else None
            if pos and pos[0] == "form" and pos[1] == {"n": 1, 1: -1} and last.value_expr is None:
                ends += self._tested(last.value, lambda e: e in (call("eq", arg(0), const(0)),
                                                              call("eq", arg(0), const(0.0))))
            never = self.step(v)
            if never is not None and never.kind == "map" and never.expr is not None and _is_zero_test(never.expr):
                mean = self.step(never.inputs[0])
                if mean is not None and mean.kind == "mean" and mean.predicate == const(True) and mean.value_expr is None:
                    nevers += self._tested(mean.value, lambda e: e == call("lt", arg(0), const(0)))
        if ends and sorted(ends, key=repr) == sorted(nevers, key=repr):
            kinds = len(ends)
            if kinds == 1:
                return f"balanced {_brackets(*ends[0])}"
            return f"balanced brackets of {('two', 'three', 'four')[kinds - 2] if kinds <= 4 else kinds} kinds"
        return None

    def _pattern(self, s: Step) -> Optional[str]:
        """'detect pattern abc' for a conjunction of token tests at consecutive offsets ending here."""
        tests: dict[int, object] = {}

        def collect(var: str) -> bool:
            st = self.step(var)
            if var == "tokens" or st is None:
                return False
            if st.kind == "map" and st.expr is not None:
                e = st.expr.args[0] if st.expr.op in ("int", "float") else st.expr
                if st.inputs == ["tokens"] and e.op == "eq" and e.args[0] == arg(0) and e.args[1].op == "const":
                    return tests.setdefault(0, e.args[1].value) == e.args[1].value
                if e.op == "and" and set(e.args) <= {arg(0), arg(1)}:
                    return all(collect(v) for v in st.inputs)
                return False
            c = self.rd.indicator_of(st) if st.kind == "pick" else None
            if c is not None:
                pos = self.rd.position(st)
                if pos and pos[0] == "form" and set(pos[1]) <= {"i", 1} and pos[1].get("i") == 1:
                    return tests.setdefault(pos[1].get(1, 0), c) == c
            return False

        if not all(collect(v) for v in s.inputs) or len(tests) < 2:
            return None
        offsets = sorted(tests)
        if offsets != list(range(offsets[0], 1)):
            return None
        seq = [tests[o] for o in offsets]
        if all(isinstance(c, str) and len(c) == 1 for c in seq):
            return f"detect pattern {''.join(seq)}"
        return "detect pattern " + ", ".join(_lit(c) for c in seq)


def _is_zero_test(e: Expr) -> bool:
    e = e.args[0] if e.op in ("int", "float") else e
    return e in (call("eq", arg(0), const(0)), call("lt", arg(0), const(1)), call("le", arg(0), const(0)),
                 call("eq", arg(0), const(0.0)))


def _is_nonzero_test(e: Expr) -> bool:
    e = e.args[0] if e.op in ("int", "float") else e
    return e in (call("ne", arg(0), const(0)), call("gt", arg(0), const(0)), call("ge", arg(0), const(1)))


def _token_map(e: Expr) -> Optional[str]:
    if e == arg(0):
        return "identity"
    if e.op in ("add", "sub") and e.args[0] == arg(0) and e.args[1].op == "const":
        c = e.args[1].value
        if c == 1:
            return "increment" if e.op == "add" else "decrement"
        return f"{'add' if e.op == 'add' else 'subtract'} {c}"
    if e == call("mod", arg(0), const(2)):
        return "parity"
    if e.op == "mul" and e.args[0].op == "const":
        return f"multiply by {e.args[0].value}"
    inner = e.args[0] if e.op in ("int", "float") else e
    if inner.op == "eq" and inner.args[0] == arg(0) and inner.args[1].op == "const":
        return f"is token {_lit(inner.args[1].value)}"
    return None
