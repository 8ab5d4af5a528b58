"""Names for the decompiled variables, from how each is computed (its role), never from the model.

`length` is the width of an everything-selector; `prev_token` the token one position back;
`token_count` how often a position's own token occurs; `count_a` how many tokens are 'a';
`frac_x` the fraction of tokens that are 'x'; `mirror_index` is n - 1 - i; a map is named by its
formula over its inputs' names (`token_plus_1`, `length_minus_index`, `is_open` …). A name longer
than a reader can hold falls back to the kind of step (`count_2`, `moved_1`, `value_3`); names are
unique Python identifiers. A variable with a conventional name (conventions.py: `reverse`,
`histogram`, `first_occurrence` …) is named by it.
"""

from __future__ import annotations

import keyword
import re
from fractions import Fraction
from typing import Any, Optional

from tracr_agent.agent.investigators.decompiler.conventions import Conventions
from tracr_agent.agent.investigators.decompiler.primitives import Expr, arg, call, const
from tracr_agent.agent.investigators.decompiler.recognise import K, Q
from tracr_agent.agent.investigators.decompiler.simplify import Readable, Step
from tracr_agent.agent.investigators.decompiler.structure import Form, Structure

MAX_NAME = 28
INPUT_NAMES = {"tokens": "tokens", "indices": "indices", "one": "one"}
SINGULAR = {"tokens": "token", "indices": "index"}
SYMBOLS = {"(": "open", ")": "close", "[": "lbracket", "]": "rbracket", "{": "lbrace", "}": "rbrace",
           "<": "lt", ">": "gt", "+": "plus", "-": "minus", "*": "star", "/": "slash", "=": "equals",
           "!": "bang", "?": "query", ".": "dot", ",": "comma", " ": "space", "#": "hash", "_": "underscore"}
OP_WORDS = {"eq": "is", "ne": "is_not", "lt": "below", "le": "at_most", "gt": "above", "ge": "at_least"}
COUNT_WORDS = {"eq": "same", "ne": "other", "lt": "smaller", "le": "at_most", "gt": "larger", "ge": "at_least"}
KIND_FALLBACK = {"count": "count", "pick": "moved", "mean": "mean", "map": "value"}


def word(v: Any) -> str:
    """A constant as part of an identifier: 'a' -> a, '(' -> open, -1 -> neg1, 0.5 -> 0_5."""
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, (int, float, Fraction)):
        text = f"{v:g}" if isinstance(v, float) else str(v)
        return text.replace("-", "neg").replace(".", "_").replace("/", "_over_")
    if isinstance(v, str):
        text = "".join(ch if ch.isalnum() else f"_{SYMBOLS.get(ch, 'sym')}_" for ch in v)
        return re.sub(r"_+", "_", text).strip("_").lower() or "empty"
    return "value"


INDEX_NAMES = {
    (("i", 1), (1, -1)): "prev_index", (("i", 1), (1, 1)): "next_index", (("n", 1), (1, -1)): "last_index",
    (("i", -1), ("n", 1), (1, -1)): "mirror_index", (("i", -1), ("n", 1)): "length_minus_index",
    (("n", 1),): "length", (("i", 1),): "indices",
}


def form_key(form: Form) -> tuple:
    return tuple(sorted(form.items(), key=lambda kv: (kv[0] == 1, str(kv[0]))))


# -- names by role ------------------------------------------------------------------------------------

class Namer(Structure):
    def __init__(self, readable: Readable):
        super().__init__(readable)
        self.names: dict[str, str] = dict(INPUT_NAMES)
        self.conventions = Conventions(self)

    def sg(self, var: str) -> str:
        return SINGULAR.get(var) or self.names.get(var, "value")

    def base(self, s: Step) -> str:
        form = self.forms.get(s.name)
        if form is not None and form_key(form) in INDEX_NAMES:
            return INDEX_NAMES[form_key(form)]
        conventional = self.conventions.name(s.name)
        if conventional and conventional.startswith("running balance"):
            return "balance"
        if conventional and len(_identifier(conventional)) <= MAX_NAME:
            return conventional
        if s.kind == "count":
            return self._count(s)
        if s.kind == "pick":
            return self._pick(s)
        if s.kind == "mean":
            return self._mean(s)
        return self._map(s)

    def _count(self, s: Step) -> str:
        kind = self.count_kind(s)
        if kind is None:
            return "count"
        what = kind[0]
        x = self.sg(kind[1]) if len(kind) > 1 else ""
        if what == "all":
            return "length"
        if what == "same":
            return f"{x}_count"
        if what == "smaller":
            return "n_smaller_tokens" if kind[1] == "tokens" else "rank"
        if what in ("larger", "other"):
            return f"n_{what}_tokens" if kind[1] == "tokens" else f"n_{what}_{x}"
        if what in ("equal_to", "running_equal_to"):
            return f"{'running_' if what.startswith('running') else ''}count_{word(kind[2])}"
        if what.startswith("running_"):
            return f"running_count_{what[len('running_'):]}_{word(kind[2])}"
        if what == "at_most":
            return f"n_{x}_at_most_{word(kind[2])}"
        if what == "flag":
            return f"count_{x}"
        return f"n_{what}_{x}"  # earlier_same, previous_same, earlier_larger …

    def _moved(self, s: Step) -> str:
        v = self.sg(s.value) if s.value else "value"
        if s.value_expr is not None and s.value_expr != arg(0):
            v = self._map_name(s.value_expr, [s.value or "value"]) or f"{v}_value"
        elif s.value_table:
            v = f"{v}_value"
        return v

    def _pick(self, s: Step) -> str:
        v = self._moved(s)
        pos = self.position(s)
        if pos is not None and pos[0] == "form":
            form = pos[1]
            c = form.get(1, 0)
            if set(form) <= {"i", 1} and form.get("i") == 1:
                if c in (-1, 1):
                    return f"{'prev' if c < 0 else 'next'}_{v}"
                return f"{v}_{abs(c)}_{'back' if c < 0 else 'ahead'}" if c else v
            if form in ({}, {1: 0}):
                return f"first_{v}"
            if form == {"n": 1, 1: -1}:
                return f"last_{v}"
            if form == {"n": 1, "i": -1, 1: -1}:
                return f"mirrored_{v}"
        if pos is not None and pos[0] == "text":
            return f"{v}_of_pair_partner"
        if pos is not None and pos[0] == "var":
            return f"{v}_at_{self.names.get(pos[1], 'value')}"
        if s.predicate == call("eq", arg(K), arg(Q)) and self.forms.get(s.queries) == {"i": 1} and s.keys in self.names:
            return f"{v}_by_{self.names[s.keys]}"
        if s.predicate is not None and s.predicate.op == "arg" and s.predicate.value == K and s.keys in self.names:
            return f"{v}_where_{self.names[s.keys]}"
        return f"{v}_moved" if not v.endswith("_value") else v

    def _mean(self, s: Step) -> str:
        p = s.predicate
        scope = "" if p == const(True) else ("running_" if p == call("le", arg(K), arg(Q)) else "selected_")
        c = self.indicator_of(s)
        if c is not None:
            return f"{scope}frac_{word(c)}"
        flag = self.step(s.value)
        if flag is not None and flag.kind == "map" and flag.expr is not None and flag.expr.op in ("int", "float"):
            return f"{scope}frac_{self.sg(s.value)}"
        return f"{scope}mean_{self.sg(s.value) if s.value else 'value'}"

    def _map(self, s: Step) -> str:
        if not s.inputs:
            return f"constant_{word(s.expr.value)}" if s.expr is not None and s.expr.op == "const" else "constant"
        if s.expr is None:
            return f"{'_'.join(self.sg(v) for v in s.inputs)}_table"
        return self._map_name(s.expr, s.inputs) or "value"

    def _map_name(self, e: Expr, inputs: list[str]) -> Optional[str]:
        xs = [self.sg(v) for v in inputs]
        if e.op in ("float", "int"):
            e = e.args[0]
        if e.op == "arg":
            return xs[e.value]
        if e.op == "item":
            return f"{self._map_name(e.args[0], inputs)}_{('first', 'second', 'third')[e.value]}"
        if e.op == "pair":
            return "_and_".join(filter(None, (self._map_name(a, inputs) for a in e.args)))
        if e.op == "mod" and e.args[1] == const(2):
            return f"{self._map_name(e.args[0], inputs)}_parity"
        if e.op == "alpha":
            return f"{self._map_name(e.args[0], inputs)}_position"
        names = [self._map_name(a, inputs) if a.op != "const" else word(a.value) for a in e.args]
        if any(n is None for n in names):
            return None
        if e.op == "eq" and e.args[1].op == "const" and inputs and e.args[0] == arg(0) and inputs[0] == "tokens":
            return f"is_{names[1]}"
        joins = {"add": "plus", "sub": "minus", "mul": "times", "div": "over", "floordiv": "div", "mod": "mod",
                 "and": "and", "or": "or", "xor": "xor", "in": "in", "notin": "not_in", **OP_WORDS}
        if e.op in joins and len(names) == 2:
            if e.op in ("in", "notin"):
                names[1] = "_".join(word(v) for v in sorted(e.args[1].value, key=repr))
            return f"{names[0]}_{joins[e.op]}_{names[1]}"
        if e.op in ("min", "max", "abs", "round", "neg", "not", "letter"):
            return f"{ {'neg': 'minus', 'letter': 'letter_at'}.get(e.op, e.op)}_{'_'.join(names)}"
        if e.op == "ifelse":
            return f"{names[1]}_if_{names[0]}"
        return None

    def name_all(self) -> dict[str, str]:
        used = set(self.names.values())
        counters: dict[str, int] = {}
        for s in self.r.steps:
            base = _identifier(self.base(s))
            if len(base) > MAX_NAME:
                fallback = KIND_FALLBACK[s.kind]
                counters[fallback] = counters.get(fallback, 0) + 1
                base = f"{fallback}_{counters[fallback]}"
            name, n = base, 2
            while name in used:
                name, n = f"{base}_{n}", n + 1
            used.add(name)
            self.names[s.name] = name
        return self.names


def _identifier(text: str) -> str:
    text = re.sub(r"'([^']*)'", lambda m: word(m.group(1)), text)  # a quoted token by its word: '(' -> open
    text = re.sub(r"[^0-9a-zA-Z_]", "_", text)
    text = re.sub(r"_+", "_", text).strip("_").lower() or "value"
    if text[0].isdigit() or keyword.iskeyword(text):
        text = "v_" + text
    return text


def variable_names(readable: Readable) -> dict[str, str]:
    """{variable: Python identifier} for the inputs and every step, each named by its role."""
    return Namer(readable).name_all()
