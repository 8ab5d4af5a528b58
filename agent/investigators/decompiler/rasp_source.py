"""The readable program as Python that reads like the RASP a person would write.

`f(tokens)` is a sequence of named steps — `Map`, `SequenceMap`, `Select`, `Aggregate`, `Mean`,
`SelectorWidth`, defined above it, each the RASP primitive of that name over plain lists — with a
comment naming the model components each step stands for. A step nothing simpler fits keeps its
recovered table (`lookup`, the same reading of a table as the recovered program's). With
`trace=True` the function returns every variable instead, by its recovered name (for the check
that the readable program computes what the recovered one does).
"""

from __future__ import annotations

from tracr_agent.agent.investigators.decompiler.primitives import Expr, literal, python
from tracr_agent.agent.investigators.decompiler.program import HELPERS as RECOVERED_HELPERS, nested
from tracr_agent.agent.investigators.decompiler.simplify import Readable, Step

HELPERS = {
    "Select": RECOVERED_HELPERS["_select"],
    "Aggregate": '''def Aggregate(selector, values):
    """RASP categorical Aggregate: the value at the selected positions (None when none is selected)."""
    out = []
    for selected in selector:
        held = [values[j] for j in selected]
        out.append(max(set(held), key=held.count) if held else None)
    return out
''',
    "Mean": '''def Mean(selector, values):
    """RASP numerical Aggregate: the mean of the values at the selected positions (0 when none is)."""
    return [sum(values[j] or 0 for j in selected) / len(selected) if selected else 0.0 for selected in selector]
''',
    "SelectorWidth": '''def SelectorWidth(selector):
    """RASP SelectorWidth: how many positions each position selects."""
    return [len(selected) for selected in selector]
''',
    "Map": '''def Map(fn, values):
    """RASP Map: fn of the value at each position (a missing value stays missing)."""
    return [None if v is None else fn(v) for v in values]
''',
    "SequenceMap": '''def SequenceMap(fn, *columns):
    """RASP SequenceMap: fn of the values at each position (a missing value stays missing)."""
    return [None if any(v is None for v in vals) else fn(*vals) for vals in zip(*columns)]
''',
    # a step no simpler rule fits: its table, read as the recovered program reads it
    "lookup": RECOVERED_HELPERS["_map"].replace("def _map(table", "def lookup(table"),
}
PARAMS = {"tokens": "t", "indices": "i", "length": "n"}


def _dict_lit(d: dict) -> str:
    items = sorted(d.items(), key=lambda kv: repr(kv[0]))
    return "{" + ", ".join(f"{literal(k)}: {_dict_lit(v) if isinstance(v, dict) else literal(v)}" for k, v in items) + "}"


def params(inputs: list[str], names: dict[str, str]) -> list[str]:
    """Lambda parameter names for a map's inputs: t, i, n for tokens, indices, length, else x, y, z."""
    out: list[str] = []
    spare = iter("xyzuvw")
    for v in inputs:
        p = PARAMS.get(names.get(v, v))
        if p is None or p in out:
            p = next(spare)
        out.append(p)
    return out


class Writer:
    def __init__(self, readable: Readable, names: dict[str, str]):
        self.r, self.names = readable, names
        self.used: list[str] = []
        self.consts: list[str] = []

    def need(self, helper: str) -> None:
        if helper not in self.used:
            self.used.append(helper)

    def n(self, var: str) -> str:
        return self.names.get(var, var)

    def table_name(self, s: Step, what: str) -> str:
        return f"{self.n(s.name).upper()}_{what}"

    def map_call(self, e: Expr, inputs: list[str]) -> str:
        ps = params(inputs, self.names)
        helper = "Map" if len(inputs) == 1 else "SequenceMap"
        self.need(helper)
        return f"{helper}(lambda {', '.join(ps)}: {python(e, ps)}, {', '.join(self.n(v) for v in inputs)})"

    def selector(self, s: Step) -> str:
        self.need("Select")
        if s.predicate is not None:
            rule = f"lambda k, q: {python(s.predicate, ['k', 'q'])}"
        else:
            name = self.table_name(s, "SELECTS")
            self.consts.append(f"{name} = {_dict_lit(nested(s.selection, 2))}  # query value -> key value -> selected")
            rule = f"lambda k, q: {name}.get(q, {{}}).get(k, False)"
        return f"Select({self.n(s.keys)}, {self.n(s.queries)}, {rule})"

    def moved(self, s: Step) -> str:
        if s.value_expr is not None:
            return self.map_call(s.value_expr, [s.value])
        if s.value_table:
            name = self.table_name(s, "VALUES")
            self.consts.append(f"{name} = {_dict_lit(s.value_table)}  # value moved -> value written")
            self.need("Map")
            return f"Map(lambda v: {name}.get(v, v), {self.n(s.value)})"
        return self.n(s.value)

    def line(self, s: Step) -> str:
        if s.kind == "count":
            self.need("SelectorWidth")
            return f"SelectorWidth({self.selector(s)})"
        if s.kind in ("pick", "mean"):
            helper = "Aggregate" if s.kind == "pick" else "Mean"
            self.need(helper)
            return f"{helper}({self.selector(s)}, {self.moved(s)})"
        if not s.inputs:
            return f"[{literal(s.expr.value if s.expr is not None else s.default)}] * len(tokens)"
        if s.expr is not None:
            return self.map_call(s.expr, s.inputs)
        self.need("lookup")
        name = self.table_name(s, "TABLE")
        self.consts.append(f"{name} = {_dict_lit(nested(s.table, len(s.inputs)))}  "
                           f"# {' -> '.join(self.n(v) for v in s.inputs)} -> {self.n(s.name)}")
        return f"lookup({name}, {literal(s.default)}, {', '.join(self.n(v) for v in s.inputs)})"

    def source(self, trace: bool = False) -> str:
        off = self.r.index_offset
        body = ["def f(tokens):", "    tokens = list(tokens)",
                f"    indices = [p + {off} for p in range(len(tokens))]" if off else "    indices = list(range(len(tokens)))"]
        reads = {v for s in self.r.steps for v in s.reads}
        if "one" in reads:
            body.append("    one = [1] * len(tokens)")
        defined = {"tokens", "indices", "one"} | {s.name for s in self.r.steps}
        for v in sorted(reads - defined):  # read but never decompiled: no value, so the rest still runs
            body.append(f"    {self.n(v)} = [None] * len(tokens)  # not decompiled")
        for s in self.r.steps:
            body.append(f"    # {', '.join(s.where)}")
            body.append(f"    {self.n(s.name)} = {self.line(s)}")
        if trace:
            shown = ["tokens", "indices"] + [s.name for s in self.r.steps]
            body.append("    return {" + ", ".join(f"{v!r}: {self.n(v)}" for v in shown) + "}")
        elif self.r.output:
            body.append(f"    return {self.n(self.r.output)}")
        else:
            body.append("    return [None] * len(tokens)")
        parts = [HELPERS[h] for h in HELPERS if h in self.used]
        if self.consts:
            parts.append("\n".join(self.consts) + "\n")
        return "\n\n".join(parts + ["\n".join(body) + "\n"])


def rasp_source(readable: Readable, names: dict[str, str], trace: bool = False) -> str:
    """The readable program's Python source: helpers, recovered tables (only where kept), then f."""
    return Writer(readable, names).source(trace)
