"""The label and the description: what the program computes, then how.

The label is the output's conventional name when its composition is one (conventions.py: a
reversal, a sort, a histogram, a fraction, balanced brackets …), else the kind of computation and
the output's formula (`counting: #{j: t[j] < t[i]}`).

The description is one paragraph: the label and what the output is at each position, in words
(the output's phrase, with the variables it reads spelled out a level deep); then how the model
computes it, one clause per step with the model components it stands for; then what was left
out (values the output does not use, what could not be decompiled, tables kept).
"""

from __future__ import annotations


from tracr_agent.agent.investigators.decompiler.conventions import Conventions
from tracr_agent.agent.investigators.decompiler.primitives import Expr, arg, const, python, words
from tracr_agent.agent.investigators.decompiler.recognise import K
from tracr_agent.agent.investigators.decompiler.simplify import Readable, Step
from tracr_agent.agent.investigators.decompiler.structure import Structure, form_text

INLINE = 70  # a phrase at most this long is spelled out where a variable is read
CONDITIONS = ("eq", "ne", "lt", "le", "gt", "ge", "in", "notin", "not", "and", "or")


class Reader(Structure):
    """Formulas and phrases for the readable program's variables."""

    def __init__(self, readable: Readable, names: dict[str, str]):
        super().__init__(readable)
        self.names = names

    def n(self, var: str) -> str:
        return self.names.get(var, var)

    def where(self, pos) -> str:
        """A picked position as text."""
        kind, what = pos
        return form_text(what) if kind == "form" else self.formula(what) if kind == "var" else what

    # -- formulas and phrases -----------------------------------------------------------------------
    def formula(self, var: str, depth: int = 2) -> str:
        """A compact formula of a variable at position i (t: the token, i: the position, n: the length)."""
        if var in ("tokens", "indices") or var in self.forms:
            return self.at(var, "i")
        s = self.by_name.get(var)
        if s is None or depth <= 0 or (s.kind == "map" and s.expr is None) or (s.kind != "map" and s.predicate is None):
            return self.n(var)
        if s.kind == "map":
            return python(s.expr, [_wrap(self.formula(v, depth - 1)) for v in s.inputs])
        if s.kind == "count":
            return f"#{{j: {self.predicate_text(s, python, self.at)}}}"
        pos = self.position(s) if s.kind == "pick" else None
        moved = self.at(s.value, "j")
        if pos is not None:
            moved = _at_text(moved, self.where(pos))
        if s.value_expr is not None:
            moved = python(s.value_expr, [_wrap(moved)])
        if pos is not None:
            return moved
        return f"{'mean' if s.kind == 'mean' else 'the'}({moved} : {self.predicate_text(s, python, self.at)})"

    def at(self, var: str, pos: str, spoken: bool = False) -> str:
        """The variable's value at position `pos` (j: a key position), as a formula or in words."""
        if var == "tokens":
            return f"the token at {pos}" if spoken else f"t[{pos}]"
        if var == "indices":
            return pos
        f = self.forms.get(var)
        if f is not None:
            return form_text(f, pos)
        return f"{self.n(var)} at {pos}" if spoken else f"{self.n(var)}[{pos}]"

    def spoken_at(self, var: str, pos: str) -> str:
        return self.at(var, pos, spoken=True)

    def predicate_text(self, s: Step, render, at) -> str:
        """The selector's predicate with its key read at j and its query at i (a pair's components
        as the variables the pair holds), rendered by `render` (python or words)."""
        sub: dict = {}
        names = [at(s.keys, "j"), at(s.queries, "i")]
        e = _components(s.predicate, self.pair_parts(s.keys), self.pair_parts(s.queries), names, sub, at)
        return render(e, names + [sub[i] for i in sorted(sub)])

    def phrase(self, var: str, depth: int = 1) -> str:
        """The variable's value at position i, in English."""
        if var == "tokens":
            return "the token"
        if var == "indices":
            return "the position i"
        f = self.forms.get(var)
        if f is not None:
            return "the length n" if f == {"n": 1} else form_text(f)
        s = self.by_name.get(var)
        if s is None:
            return f"{self.n(var)} (not decompiled)"
        if depth < 0:
            return self.n(var)
        if s.kind == "map":
            if s.expr is None:
                return f"a function of {', '.join(self.n(v) for v in s.inputs)} given by a table"
            ins = [self._inline(v, depth - 1) for v in s.inputs]
            return words(s.expr, ins)
        if s.predicate is None:
            sel = "the positions a table selects"
        else:
            sel = self.predicate_text(s, words, self.spoken_at)
        if s.kind == "count":
            return "the length n" if s.predicate == const(True) else f"the number of positions j where {sel}"
        moved = self._moved_words(s)
        everywhere = s.predicate == const(True)
        if s.kind == "mean" and moved.startswith("whether "):
            what = f"the fraction of positions j at which {moved[len('whether '):]}"
            return what if everywhere else f"{what}, among the positions j where {sel}"
        if s.kind == "mean":
            return f"the mean of {moved} over {'all positions j' if everywhere else f'the positions j where {sel}'}"
        pos = self.position(s)
        if pos is not None:
            return f"{moved.replace(' at j', '')} at position {self.where(pos)}"
        return f"{moved.replace(' at j', '')} at the position j where {sel}"

    def _moved_words(self, s: Step) -> str:
        """What a head moves from key position j, in words ('whether …' for a flag)."""
        if s.value_table:
            return f"{self.spoken_at(s.value, 'j')}, renamed by a table"
        var, e = self.moved(s)
        base = self.spoken_at(var, "j")
        if e is None:
            return base
        e = e.args[0] if e.op in ("float", "int") else e
        text = words(e, [base])
        return f"whether {text}" if e.op in CONDITIONS else text

    def _inline(self, var: str, depth: int) -> str:
        if var in ("tokens", "indices") or var in self.forms:
            return self.phrase(var)
        text = self.phrase(var, depth) if depth >= 0 else self.n(var)
        return text if len(text) <= INLINE else self.n(var)


def _wrap(text: str) -> str:
    """The text in parentheses when it has an operator at its top level (a space outside brackets)."""
    depth = 0
    for ch in text:
        depth += ch in "([{"
        depth -= ch in ")]}"
        if ch == " " and depth == 0:
            return f"({text})"
    return text


def _at_text(value_at_j: str, where: str) -> str:
    return value_at_j.replace("[j]", f"[{where}]") if value_at_j.endswith("[j]") else f"{value_at_j} at {where}"


def _components(e: Expr, key_parts, query_parts, names: list, sub: dict, at) -> Expr:
    """The predicate with a pair's components (k[0], q[1] …) read as the variables the pair holds."""
    if e.op == "item" and e.args[0].op == "arg":
        parts = key_parts if e.args[0].value == K else query_parts
        if parts and e.value < len(parts):
            pos = "j" if e.args[0].value == K else "i"
            idx = len(names) + len(sub)
            sub[idx] = at(parts[e.value], pos)
            return arg(idx)
        return e
    if not e.args:
        return e
    return Expr(e.op, tuple(_components(a, key_parts, query_parts, names, sub, at) for a in e.args), e.value)


# -- the conventional name --------------------------------------------------------------------------

FAMILY = {"count": "counting", "mean": "aggregation", "pick": "moving values", "map": "elementwise"}


def label(readable: Readable, names: dict[str, str]) -> str:
    """A conventional name for what the output is, when its composition is one; else the kind of
    computation and the output's formula."""
    rd = Reader(readable, names)
    if readable.output is None:
        return "unknown computation"
    conventional = Conventions(rd).name(readable.output)
    if conventional:
        return conventional
    s = rd.by_name.get(readable.output)
    kinds = {st.kind for st in readable.steps}
    family = FAMILY.get(s.kind, "program") if s else "program"
    if s is not None and s.kind == "map" and kinds & {"count", "pick", "mean"}:
        family = "pattern" if _two_valued(s) else "composition"
    formula = rd.formula(readable.output)
    if len(formula) > 70:
        formula = formula[:67] + "..."
    return f"{family}: {formula}"


def _two_valued(s: Step) -> bool:
    e = s.expr
    return e is not None and (e.op in ("int", "float") or e.op in ("eq", "ne", "lt", "le", "gt", "ge", "and", "or", "not"))


def description(readable: Readable, names: dict[str, str], title: str) -> str:
    """One paragraph: what the output is (the label, then at each position in words), how each step
    computes it, and what was left out."""
    rd = Reader(readable, names)
    if readable.output is None:
        what = "What it computes could not be decompiled: no output variable was found."
    else:
        phrase = rd.phrase(readable.output, depth=1)
        what = f"What it computes: {title} — at each position i of an input of length n, {phrase}."
    steps = []
    for s in readable.steps:
        text = rd.phrase(s.name, depth=0)
        kept = f" (a table: no simpler rule gives every recovered entry)" if s.tables else ""
        steps.append(f"{rd.n(s.name)} = {text}{kept} [{', '.join(s.where)}]")
    how = (f"How the model computes it ({len(readable.steps)} step{'s' if len(readable.steps) != 1 else ''}, "
           f"decompiled from {readable.recovered} model components, in the model's order): " + "; ".join(steps) + ".")
    tail = []
    if readable.unused:
        tail.append(f"The model also computes values the output does not use ({', '.join(readable.unused)}); "
                    f"they are left out.")
    if readable.unexplained:
        tail.append("Not decompiled: " + "; ".join(readable.unexplained) + ".")
    return " ".join([what, how] + tail)
