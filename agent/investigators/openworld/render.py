"""A synthesized program as the prediction: Python source, an English description, a neutral label.

The source composes the building blocks step by step (one line per operation, with the
helpers it uses defined above `f`), so the submission is a mechanism, never an input ->
output table. The description is generated from the same steps, what before how: the label and
the output's last step in words, then every step; the label names the kind of computation (the
family) and the output's formula, since the baseline knows no task names.
"""

from __future__ import annotations

import re
from typing import Optional

from tracr_agent.agent.investigators.openworld import blocks as B
from tracr_agent.agent.investigators.openworld.synthesis import SOp, Space
from tracr_agent.tools.subjects.compare import FLOAT_NOISE, outputs_equal, within

PRIMITIVE_NAMES = {"tokens": "tokens", "indices": "indices", "length": "length"}
PRIMITIVE_LINES = {"indices": "indices = list(range(len(tokens)))",
                   "length": "length = [len(tokens)] * len(tokens)"}
SHORT = {"tokens": "t", "indices": "i", "length": "n"}
PRIMITIVE_TEXT = {"tokens": "the token", "indices": "the position index i", "length": "the sequence length n"}


def _py(space: Space, code: float, kind: str):
    return space.decode(code, kind)


def _selector_parts(sel: tuple) -> list[SOp]:
    return [sel[1]] if sel[0] in ("filter", "prefix") else [sel[1], sel[2]]


def _deps(s: SOp) -> list[SOp]:
    if s.op == "reduce":
        return _selector_parts(s.args[0]) + list(s.args[1:])
    return list(s.args)


class Program:
    """Names every step of a synthesized SOp and writes it out as Python and as English."""

    def __init__(self, space: Space, root: SOp, out_kind: str):
        self.space, self.root, self.out_kind = space, root, out_kind
        self.order: list[SOp] = []
        self.names: dict[int, str] = {}
        self.helpers: list[str] = []
        self._visit(root)

    def _visit(self, s: SOp) -> None:
        if id(s) in self.names:
            return
        for d in _deps(s):
            self._visit(d)
        if s.op == "reduce" and s.args[0][0] in ("filter", "prefix"):
            self._visit_primitive("indices")
        if s.op in PRIMITIVE_NAMES:
            self.names[id(s)] = PRIMITIVE_NAMES[s.op]
        else:
            self.names[id(s)] = f"v{sum(1 for x in self.order if x.op not in PRIMITIVE_NAMES) + 1}"
        self.order.append(s)

    def _visit_primitive(self, op: str) -> None:
        if op not in [x.op for x in self.order]:
            p = SOp(op)
            self.names[id(p)] = op
            self.order.append(p)

    def _helper(self, key: str) -> None:
        if key not in self.helpers:
            self.helpers.append(key)

    def name(self, s: SOp) -> str:
        if s.op in PRIMITIVE_NAMES:
            return s.op
        return self.names[id(s)]

    # -- Python -------------------------------------------------------------------------------
    def _selector_code(self, sel: tuple) -> str:
        self._helper("select")
        if sel[0] == "filter":
            return f"select({self.name(sel[1])}, indices, lambda k, q: k)"
        if sel[0] == "prefix":
            rel = B.COMPARISONS[sel[2]][0].replace("k", "k[1]")
            return f"select(list(zip({self.name(sel[1])}, indices)), indices, lambda k, q: bool(k[0]) and {rel})"
        _, keys, queries, cmp = sel
        return f"select({self.name(keys)}, {self.name(queries)}, lambda k, q: {B.COMPARISONS[cmp][0]})"

    def _line(self, s: SOp) -> Optional[str]:
        n = self.name(s)
        if s.op == "tokens":
            return None
        if s.op in PRIMITIVE_LINES:
            return PRIMITIVE_LINES[s.op]
        if s.op == "map":
            return f"{n} = [None if x is None else ({s.params[0].code}) for x in {self.name(s.args[0])}]"
        if s.op == "seqmap":
            a, b = s.args
            return (f"{n} = [None if x is None or y is None else ({s.params[0].code}) "
                    f"for x, y in zip({self.name(a)}, {self.name(b)})]")
        if s.op == "reduce":
            how = s.params[0]
            self._helper(how)
            sel = self._selector_code(s.args[0])
            if how == "width":
                return f"{n} = selector_width({sel})"
            return f"{n} = {B.REDUCER_CALL[how]}({sel}, {self.name(s.args[1])})"
        if s.op == "sort":
            self._helper("sort")
            vals, keys = s.args
            return f"{n} = sort_by({self.name(vals)}, {self.name(keys)}, descending={s.params[0]})"
        if s.op == "table":
            table, kind = s.params
            srcs = s.args
            py = {}
            for key, val in table.items():
                k = tuple(_py(self.space, float("nan") if c is None else c, a.kind) for c, a in zip(key, srcs))
                py[k[0] if len(k) == 1 else k] = _py(self.space, float("nan") if val is None else val, kind)
            items = ", ".join(f"{k!r}: {v!r}" for k, v in sorted(py.items(), key=lambda kv: repr(kv[0])))
            if len(srcs) == 1:
                return f"{n} = [{{{items}}}.get(x) for x in {self.name(srcs[0])}]"
            return f"{n} = [{{{items}}}.get((x, y)) for x, y in zip({self.name(srcs[0])}, {self.name(srcs[1])})]"
        if s.op == "linear":
            coef = [_num(c) for c in s.params]
            if len(s.args) == 1:
                return f"{n} = [{coef[0]} * x + {coef[1]} for x in {self.name(s.args[0])}]"
            return (f"{n} = [{coef[0]} * x + {coef[1]} * y + {coef[2]} "
                    f"for x, y in zip({self.name(s.args[0])}, {self.name(s.args[1])})]")
        raise ValueError(s.op)

    def source(self) -> str:
        lines = [ln for ln in (self._line(s) for s in self.order) if ln]
        out = self.name(self.root)
        conv = {("bool", "int"): "bool(x)", ("int", "bool"): "int(x)"}.get((self.out_kind, self.root.kind))
        if conv:
            lines.append(f"out = [None if x is None else {conv} for x in {out}]")
            out = "out"
        body = "\n".join("    " + ln for ln in lines + [f"return {out}"])
        helpers = "\n\n".join(B.HELPERS[h] for h in self.helpers)
        return (helpers + "\n\n" if helpers else "") + f"def f(tokens):\n{body}\n"

    # -- English ------------------------------------------------------------------------------
    def _phrase(self, s: SOp) -> str:
        if s.op in PRIMITIVE_TEXT:
            return PRIMITIVE_TEXT[s.op]
        return self.name(s)

    def _step_text(self, s: SOp) -> Optional[str]:
        n = self.name(s)
        if s.op in PRIMITIVE_NAMES:
            return None
        if s.op == "map":
            return f"{n} = {_fill(s.params[0].text, x=self._phrase(s.args[0]))}"
        if s.op == "seqmap":
            return f"{n} = {_fill(s.params[0].text, x=self._phrase(s.args[0]), y=self._phrase(s.args[1]))}"
        if s.op == "reduce":
            sel = s.args[0]
            if sel[0] == "filter":
                where = f"every position where {self._phrase(sel[1])} holds"
            elif sel[0] == "prefix":
                where = (f"the positions j where {self._phrase(sel[1])} holds and j {B.COMPARISONS[sel[2]][0][2:]} "
                         f"(j {B.COMPARISONS[sel[2]][0][2:].replace('q', 'i')})").split(" (")[0].replace(" q", " i")
            else:
                _, keys, queries, cmp = sel
                where = ("every position" if cmp == "TRUE" else
                         f"the positions j whose {self._phrase(keys)} (key) and position i's "
                         f"{self._phrase(queries)} (query) satisfy: {B.COMPARISONS[cmp][1]}")
            how = s.params[0]
            if how == "width":
                return f"{n} = at each position i, the number of {where}"
            what = {"unique": "the value of", "mean": "the mean of", "max": "the largest", "min": "the smallest"}[how]
            return f"{n} = at each position i, {what} {self._phrase(s.args[1])} over {where}"
        if s.op == "sort":
            vals, keys = s.args
            return (f"{n} = {self._phrase(vals)} reordered by {self._phrase(keys)}, "
                    f"{'descending' if s.params[0] else 'ascending'} (a stable sort)")
        if s.op == "table":
            return f"{n} = a function of the value of {' and '.join(self._phrase(a) for a in s.args)} " \
                   f"({len(s.params[0])} cases, fitted from the observations)"
        if s.op == "linear":
            terms = " + ".join(f"{_num(c)} x {self._phrase(a)}" for c, a in zip(s.params, s.args))
            return f"{n} = {terms} + {_num(s.params[-1])}"
        return None

    def description(self) -> str:
        """What the output is at each position (the label, then the last step in words), then how:
        every step of the composition."""
        steps = [t for t in (self._step_text(s) for s in self.order) if t]
        what = self._step_text(self.root)
        if what is None:
            what = PRIMITIVE_TEXT.get(self.root.op, self.name(self.root))
        else:
            what = what.split(" = ", 1)[1].replace("at each position i, ", "")
        head = f"What it computes: {self.label()} — at each position i, {what}."
        if len(steps) <= 1:
            return head + " How: that one RASP-style step, which reproduces every observed output."
        return (head + " How: a composition of RASP-style steps that reproduces every observed output: "
                + "; ".join(steps) + f". The output at each position is {self.name(self.root)}.")

    # -- label --------------------------------------------------------------------------------
    def family(self) -> str:
        ops = [s for s in self.order if s.op not in PRIMITIVE_NAMES]
        top = self.root
        while top.op in ("table", "linear", "map") and top.args and top.args[0].op not in PRIMITIVE_NAMES:
            top = top.args[0]
        reduces = [s for s in ops if s.op in ("reduce", "sort")]
        if self.root.op == "length":
            return "counting"
        if not reduces:
            return "elementwise map"
        if top.op == "sort":
            return "permutation"
        if top.op == "reduce":
            how, sel = top.params[0], top.args[0]
            if how == "width":
                return "counting"
            if how == "unique" and top.args[1].op == "tokens" and sel[0] == "select" and "indices" in (
                    sel[1].op, sel[2].op) and self.out_kind != "bool":
                return "permutation"
            return "aggregation"
        return "pattern" if self.out_kind == "bool" else "aggregation"

    def expr(self, s: SOp) -> str:
        """A compact formula for `s` (i: the position, n: the length, t: the token, j: a key position)."""
        if s.op in SHORT:
            return SHORT[s.op]
        if s.op == "map":
            a = f"({self.expr(s.args[0])})" if s.args[0].args else self.expr(s.args[0])
            return re.sub(r"(?<!')\bx\b(?!')", lambda _: a, s.params[0].code)
        if s.op == "seqmap":
            a, b = (f"({self.expr(x)})" if x.args else self.expr(x) for x in s.args)
            return re.sub(r"(?<!')\b[xy]\b(?!')", lambda m: a if m.group(0) == "x" else b, s.params[0].code)
        if s.op == "reduce":
            sel = s.args[0]
            if sel[0] == "filter":
                cond = f"{self._at(sel[1], 'j')}"
            elif sel[0] == "prefix":
                cond = f"{self._at(sel[1], 'j')} and " + B.COMPARISONS[sel[2]][0].replace("k", "j").replace("q", "i")
            else:
                _, keys, queries, cmp = sel
                cond = "all j" if cmp == "TRUE" else (
                    B.COMPARISONS[cmp][0].replace("k", self._at(keys, "j")).replace("q", self._at(queries, "i")))
            how = s.params[0]
            if how == "width":
                return f"#{{j: {cond}}}"
            return f"{how}({self._at(s.args[1], 'j')} : {cond})"
        if s.op == "sort":
            return f"sort {self.expr(s.args[0])} by {self.expr(s.args[1])}{' desc' if s.params[0] else ''}"
        if s.op == "table":
            return f"g({', '.join(self.expr(a) for a in s.args)})"
        if s.op == "linear":
            terms = " + ".join(f"{_num(c)}*{self.expr(a)}" for c, a in zip(s.params, s.args))
            return f"{terms} + {_num(s.params[-1])}"
        return s.op

    def _at(self, s: SOp, pos: str) -> str:
        """`s` read at position `pos` (j for keys, i for queries): t and i become t[j] and j."""
        text = self.expr(s)
        if pos == "i":
            return text
        return re.sub(r"(?<!')\b[ti]\b(?!['\[])", lambda m: "t[j]" if m.group(0) == "t" else "j", text)

    def label(self) -> str:
        short = self.expr(self.root)
        short = short if len(short) <= 70 else short[:67] + "..."
        return f"{self.family()}: {short}"


def _num(c: float) -> str:
    from fractions import Fraction

    fr = Fraction(c).limit_denominator(12)
    if within(float(fr), c, FLOAT_NOISE):
        return str(fr.numerator) if fr.denominator == 1 else f"({fr.numerator} / {fr.denominator})"
    return repr(round(c, 6))


def check(source: str, observations: dict, numerical: bool) -> bool:
    """Runs the rendered source on the observations (it is our own code, built from the blocks above)."""
    scope: dict = {}
    try:
        exec(compile(source, "<synthesized>", "exec"), scope)  # noqa: S102 - our own generated program
        f = scope["f"]
        return all(outputs_equal(list(f(list(x))), list(y), numerical) for x, y in observations.items())
    except Exception:  # noqa: BLE001 - a rendering bug means the candidate is not used
        return False


def _fill(text: str, **phrases: str) -> str:
    """A map's phrase with its {x} / {y} filled in. Not str.format: the phrase may quote a token
    holding braces (a Dyck vocabulary's "{" and "}")."""
    for name, phrase in phrases.items():
        text = text.replace("{" + name + "}", phrase)
    return text
