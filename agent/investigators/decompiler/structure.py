"""What each readable step is, structurally: the integer variables that are positions (affine in
the position i and the length n: `i - 1`, `n - 1 - i`), the position a selector picks, what a
selector width counts, the pair a variable holds, a variable as an affine form over the inputs.

Naming (naming.py), conventional names (conventions.py) and words (describe.py) all read the
program through these, so that each reading is said once.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Optional

from tracr_agent.agent.investigators.decompiler.primitives import Expr, arg, call, const
from tracr_agent.agent.investigators.decompiler.recognise import K, Q
from tracr_agent.agent.investigators.decompiler.simplify import Readable, Step

Form = dict  # {'i': coef, 'n': coef, 1: constant}


def affine_form(e: Expr, forms: list) -> Optional[Form]:
    """The expression as an affine form over the arguments' forms (a pair-valued argument's form is
    the tuple of its components' forms), or None."""
    if e.op == "arg":
        return forms[e.value]
    if e.op == "const":
        return {1: e.value} if isinstance(e.value, int) and not isinstance(e.value, bool) else None
    if e.op == "item" and e.args[0].op == "arg" and isinstance(forms[e.args[0].value], tuple):
        return forms[e.args[0].value][e.value]  # a pair's component: the form of what it holds
    parts = [affine_form(a, forms) for a in e.args]
    if any(p is None for p in parts):
        return None
    if e.op in ("add", "sub"):
        a, b = parts
        sign = 1 if e.op == "add" else -1
        out = dict(a)
        for k, c in b.items():
            out[k] = out.get(k, 0) + sign * c
        return {k: c for k, c in out.items() if c != 0}
    if e.op == "neg":
        return {k: -c for k, c in parts[0].items()}
    if e.op == "mul":
        a, b = parts
        if set(a) <= {1}:
            a, b = b, a
        if set(b) <= {1}:
            return {k: c * b.get(1, 0) for k, c in a.items() if c * b.get(1, 0) != 0}
    if e.op == "div" and set(parts[1]) == {1} and isinstance(parts[1][1], int):
        return {k: Fraction(c) / parts[1][1] for k, c in parts[0].items()}
    return None


def index_forms(readable: Readable) -> dict[str, Form]:
    """Variables that are affine in the position i and the length n: {name: {'i': a, 'n': b, 1: c}}."""
    forms: dict[str, Form] = {"indices": {"i": 1}}
    for s in readable.steps:
        if s.kind == "count" and s.predicate == const(True):
            forms[s.name] = {"n": 1}
        elif s.kind == "map" and s.expr is not None and s.inputs:
            f = affine_form(s.expr, [forms.get(v) for v in s.inputs])
            if f is not None and set(f) <= {"i", "n", 1}:
                forms[s.name] = f
    return forms


def form_text(form: Form, pos: str = "i") -> str:
    """An affine form over the position and the length as text: n - 1 - i."""
    parts = []
    for atom in ("n", "i"):
        c = form.get(atom, 0)
        if c:
            name = "n" if atom == "n" else pos
            mag = abs(c)
            term = name if mag == 1 else f"{mag} * {name}"
            parts.append((c > 0, term))
    k = form.get(1, 0)
    if k:
        parts.append((k > 0, str(abs(k))))
    if not parts:
        return "0"
    # positive terms, then the constant, then negative terms: i - 1, n - 1 - i
    parts.sort(key=lambda p: 0 if p[0] and not p[1].isdigit() else 1 if p[1].isdigit() else 2)
    text = ("" if parts[0][0] else "-") + parts[0][1]
    for positive, term in parts[1:]:
        text += f" {'+' if positive else '-'} {term}"
    return text


def _solve(kf: Form, rhs: Form) -> Optional[Form]:
    """j from kf(j) = rhs(i), when kf's position coefficient is ±1."""
    a = kf.get("i", 0)
    if a not in (1, -1):
        return None
    out = dict(rhs)
    for atom, c in kf.items():
        if atom != "i":
            out[atom] = out.get(atom, 0) - c
    return {atom: c * a for atom, c in out.items() if c != 0}


RUNNING = {"eq": "running_equal_to", "ne": "running_not", "lt": "running_below", "le": "running_at_most",
           "gt": "running_above", "ge": "running_at_least"}


class Structure:
    """Reads the readable program's structure."""

    def __init__(self, readable: Readable):
        self.r = readable
        self.forms = index_forms(readable)
        self.by_name = {s.name: s for s in readable.steps}

    def step(self, var: Optional[str]) -> Optional[Step]:
        return self.by_name.get(var) if var else None

    def position(self, s: Step) -> Optional[tuple[str, object]]:
        """For a selector that picks one position by index: ('form', Form) or ('text', formula)."""
        p = s.predicate
        if p is None or p.op != "eq" or p.args[0] != arg(K):
            return None
        kf, qf = self.forms.get(s.keys), self.forms.get(s.queries)
        rhs = p.args[1]
        if kf is None:
            return None
        if rhs.op == "xor" and kf == {"i": 1} and qf == {"i": 1} and rhs.args[1].op == "const":
            return ("text", f"i ^ {rhs.args[1].value}")
        if rhs.op == "const" and isinstance(rhs.value, int) and not isinstance(rhs.value, bool):
            return ("form", _solve(kf, {1: rhs.value} if rhs.value else {}))
        if qf is not None:
            rf = affine_form(rhs, [None, qf])
            if rf is not None:
                sol = _solve(kf, rf)
                return ("form", sol) if sol is not None else None
        if rhs == arg(Q) and kf == {"i": 1}:
            return ("var", s.queries)
        return None

    def pair_parts(self, var: str) -> Optional[list[str]]:
        """The variables a pair-valued map step holds, in order."""
        s = self.by_name.get(var)
        if s and s.kind == "map" and s.expr is not None and s.expr.op == "pair" and all(a.op == "arg" for a in s.expr.args):
            return [s.inputs[a.value] for a in s.expr.args]
        return None

    def count_kind(self, s: Step) -> Optional[tuple]:
        """What a selector width counts, structurally: ('all',), ('same'|'smaller'|'larger'|'other', var),
        ('equal_to', var, c), ('flag', var), ('running_equal_to', var, c), ('earlier_same', var),
        ('previous_same', var), ('at_most', var, c)."""
        p = s.predicate
        if p is None:
            return None
        if p == const(True):
            return ("all",)
        words_of_cmp = {"eq": "same", "lt": "smaller", "gt": "larger", "ne": "other"}
        if p.op in words_of_cmp and p.args == (arg(K), arg(Q)) and s.keys == s.queries:
            return (words_of_cmp[p.op], s.keys)
        if p.op in ("eq", "le", "lt") and p.args[0] == arg(K) and p.args[1].op == "const":
            c = p.args[1].value
            if p.op == "eq":
                return ("equal_to", s.keys, c)
            return ("at_most", s.keys, c if p.op == "le" else c - 1) if isinstance(c, int) else None
        if p.op == "arg" and p.value == K or p == call("eq", arg(K), const(1)):
            return ("flag", s.keys)
        parts = self.pair_parts(s.keys)
        if p.op == "and" and parts:
            a, b = p.args
            q_parts = self.pair_parts(s.queries) if s.queries != "indices" else None
            prefix = call("le", call("item", arg(K), value=1), arg(Q))
            key_pos, query_pos = call("item", arg(K), value=1), call("item", arg(Q), value=1)
            relations = {call("lt", key_pos, query_pos): "earlier", call("gt", key_pos, query_pos): "later",
                         call("eq", key_pos, call("sub", query_pos, const(1))): "previous"}
            for x, y in ((a, b), (b, a)):
                if self.forms.get(parts[1]) == {"i": 1} and s.queries == "indices" and x == prefix \
                        and y.op in RUNNING and y.args[0] == call("item", arg(K), value=0) and y.args[1].op == "const":
                    return (RUNNING[y.op], parts[0], y.args[1].value)
                if q_parts == parts and self.forms.get(parts[1]) == {"i": 1} and x in relations \
                        and y.op in ("eq", "lt", "gt") \
                        and y.args == (call("item", arg(K), value=0), call("item", arg(Q), value=0)):
                    what = {"eq": "same", "lt": "smaller", "gt": "larger"}[y.op]
                    return (f"{relations[x]}_{what}", parts[0])
        return None

    def base_form(self, var: str) -> Optional[dict]:
        """The variable as an affine form over base variables (tokens, indices, length, counts)."""
        if var in ("tokens", "indices"):
            return {var: 1}
        s = self.by_name.get(var)
        if s is None:
            return None
        if s.kind != "map" or s.expr is None:
            return {var: 1}
        forms = [self.base_form(v) for v in s.inputs]
        if s.expr.op == "pair" and all(a.op == "arg" for a in s.expr.args):
            return tuple(forms[a.value] for a in s.expr.args)  # a pair: its components' forms
        return affine_form(s.expr, forms)

    def moved(self, s: Step) -> tuple[Optional[str], Optional[Expr]]:
        """(the variable a head's value is a map of, that map) — through its own renaming or a map
        step of one input it reads; (value, None) when it moves a variable as it is."""
        if s.value_expr is not None:
            return s.value, s.value_expr
        m = self.by_name.get(s.value) if s.value else None
        if m is not None and m.kind == "map" and m.expr is not None and len(m.inputs) == 1:
            return m.inputs[0], m.expr
        return s.value, None

    def carried(self, s: Step) -> Optional[str]:
        """The variable a head moves as it is: its value, or the component of a pair it picks out."""
        if s.value_expr is None and not s.value_table:
            return s.value
        e = s.value_expr
        parts = self.pair_parts(s.value) if s.value else None
        if e is not None and e.op == "item" and e.args[0] == arg(0) and parts and e.value < len(parts):
            return parts[e.value]
        return None

    def indicator_of(self, s: Step):
        """c when the step aggregates [token == c] (directly, or through a map computing it)."""
        var, e = self.moved(s)
        if e is None or var != "tokens":
            return None
        e = e.args[0] if e.op in ("float", "int") else e
        if e.op == "eq" and e.args[0] == arg(0) and e.args[1].op == "const":
            return e.args[1].value
        return None
