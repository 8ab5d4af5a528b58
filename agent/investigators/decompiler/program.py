"""The decompiled program: its steps, and the Python source that runs them as recovered.

A step is what one model component computes, over residual VALUES (never over whole inputs):
an attention head selects keys by a rule over (query value, key value) and moves a value
(categorical pick, numerical mean, or tracr's selector-width fraction); an MLP maps its input
variables' values to its output's value (a table per value, or an exact linear formula).
`source` writes the steps as they were recovered (tables and all): the program the decompiler
checks against the model. What it submits is the readable version (account.py).

The source is built from data a model directory supplies (its residual labels, its values), and
`trace` runs it in this process: no artefact text ever becomes code. A variable's name becomes an
identifier only through `python_names` (anything but a plain name gets a `var_` name of its own),
a value only through `repr` of the scalar `value_of` read, and a name in a comment only on one line
with its control characters shown.
"""

from __future__ import annotations

import builtins
import hashlib
import keyword
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Iterable, Optional

from tracr_agent.tools.untrusted.text import shown

COMPARATORS = {
    "==": lambda k, q: k == q, "!=": lambda k, q: k != q, "<": lambda k, q: k < q,
    "<=": lambda k, q: k <= q, ">": lambda k, q: k > q, ">=": lambda k, q: k >= q,
    "true": lambda k, q: True, "false": lambda k, q: False,
}
COMPARATOR_SOURCE = {
    "==": "k == q", "!=": "k != q", "<": "k < q", "<=": "k <= q", ">": "k > q", ">=": "k >= q",
    "true": "True", "false": "False",
}


INPUT_VARS = ("tokens", "indices", "one")
_PLAIN = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")
_TAKEN = frozenset(dir(builtins)) | {"n", "selected", "run", "f", "k", "q", "v", "x", "y", "z", "w", "keys", "held",
                                     "out", "vals", "t", "OUTPUT_VALUES"}
"""Names the generated source uses itself (its locals, helpers' arguments, builtins): no variable may
take one."""


def python_name(name: str) -> str:
    """The identifier of one variable: a plain name as it is (`v3`, `tokens`); a dotted one with
    underscores (`v3.sw` -> `v3_sw`); anything else — or a name the source uses itself — `var_` plus
    its word characters and a hash of the whole name, so that no text becomes code."""
    if name in INPUT_VARS:
        return name
    plain = name.replace(".", "_").replace(":", "_")
    if _PLAIN.fullmatch(plain) and not keyword.iskeyword(plain) and plain not in _TAKEN \
            and not plain.startswith(("SELECT_", "MAP_")):
        return plain
    word = re.sub(r"[^A-Za-z0-9_]", "_", name, flags=re.ASCII)[:40]
    return f"var_{word}_{hashlib.sha1(name.encode('utf-8', 'surrogatepass')).hexdigest()[:8]}"


def python_names(names: Iterable[str]) -> dict[str, str]:
    """name -> identifier for several variables, no two the same (`v3.sw` and `v3_sw` differ)."""
    out: dict[str, str] = {}
    used: set[str] = set()
    for name in names:
        ident = python_name(name)
        if ident in used:
            ident = f"var_{hashlib.sha1(name.encode('utf-8', 'surrogatepass')).hexdigest()[:12]}"
        used.add(ident)
        out[name] = ident
    return out


def comment(text: Any) -> str:
    """Text for a `#` comment of the source: one line, nothing hidden."""
    return shown(text, one_line=True)


@dataclass
class HeadStep:
    layer: int
    head: int
    out: str
    query: str
    key: str
    rule: str  # a comparator name, or 'table'
    table: dict = field(default_factory=dict)  # (query value, key value) -> bool, when rule == 'table'
    mode: str = "pick"  # 'pick' (categorical), 'mean' (numerical), 'width' (selector width)
    value: Optional[str] = None  # the variable moved (pick/mean)
    vmap: dict = field(default_factory=dict)  # value moved -> value written, when not the identity
    indicator: Any = None  # mean of (value == indicator) instead of the value itself, when set
    alternatives: list = field(default_factory=list)
    """Other (query, key, rule, table) that explain every observed selection as well (coverage)."""

    @property
    def where(self) -> str:
        return f"layer {self.layer} head {self.layer}.{self.head}"


@dataclass
class MlpStep:
    layer: int
    out: str
    inputs: list[str]
    table: dict = field(default_factory=dict)  # key (value, or tuple of values) -> value
    default: Any = None
    linear: Optional[list[float]] = None  # coefficients per input, then the constant
    alternatives: list = field(default_factory=list)
    """Other input sets (names, table) that explain every observation as well: inputs on which one of
    them reaches an entry never observed, or predicts otherwise, tell them apart (decompiler/coverage.py)."""

    @property
    def where(self) -> str:
        return f"layer {self.layer} MLP"


@dataclass
class Program:
    steps: list = field(default_factory=list)
    output: Optional[str] = None
    idents: dict = field(default_factory=dict)  # variable name -> python identifier
    index_offset: int = 0  # the first input token's index
    numerical_output: bool = False
    unexplained: list[str] = field(default_factory=list)  # what could not be decompiled, in words
    output_map: dict = field(default_factory=dict)  # raw residual: output dim ordinal -> output value
    open_orders: dict = field(default_factory=dict)
    """variable -> pairs of its values (a, b) whose order no observed comparison settles (named by
    decompiler/orders.py from comparisons that leave them open): inputs holding both would settle it."""
    output_open: bool = False
    """The output map names only the output variable's values observed (found without labels): a value
    the program reaches that it lacks was never seen, and which column it has is not known."""

    def ident(self, name: str) -> str:
        return self.idents.get(name) or python_name(name)


# -- Python source ------------------------------------------------------------------------------

HELPERS = {
    "_select": '''def Select(keys, queries, predicate):
    """RASP Select: for each query position, the key positions j where predicate(keys[j], query) holds."""
    def holds(k, q):
        try:
            return bool(predicate(k, q))
        except TypeError:  # a missing value (None) compares to nothing
            return False
    return [[j for j, k in enumerate(keys) if holds(k, q)] for q in queries]
''',
    "_pick": '''def _pick(selected, values, vmap=None):
    """Categorical aggregate: the value held at the selected keys (None when none is selected)."""
    out = []
    for keys in selected:
        held = [values[j] for j in keys]
        v = max(set(held), key=held.count) if held else None
        out.append(vmap.get(v, v) if vmap and v is not None else v)
    return out
''',
    "_mean": '''def _mean(selected, values):
    """Numerical aggregate: the mean value over the selected keys (0 when none is selected)."""
    return [sum(values[j] or 0.0 for j in keys) / len(keys) if keys else 0.0 for keys in selected]
''',
    "_width": '''def _width(selected):
    """Selector width's attention: BOS and the selected keys share the weight, BOS's share is 1/(w+1)."""
    return [1.0 / (len(keys) + 1) for keys in selected]
''',
    "_map": '''def _map(table, default, *columns):
    """An MLP as a function of its input values at each position: table[a][b]…; default for a
    combination never observed. A number not in the table reads as the nearest one that is: tracr's
    numerical MLPs read their input by thresholds half-way between the values they know."""
    def lookup(t, v):
        if isinstance(v, float):
            v = round(v, 3)
        if v in t:
            return t[v]
        near = [k for k in t if isinstance(k, (int, float)) and not isinstance(k, bool)]
        if isinstance(v, (int, float)) and not isinstance(v, bool) and near:
            return t[min(near, key=lambda k: abs(k - v))]
        return default
    out = []
    for vals in zip(*columns):
        t = table
        for v in vals:
            t = lookup(t, v) if isinstance(t, dict) else default
        out.append(default if isinstance(t, dict) else t)
    return out
''',
}


def _lit(v) -> str:
    """A value as a Python literal that reads back exactly (a categorical output such as 1.40625
    must match to the last bit)."""
    return repr(float(v)) if isinstance(v, float) else repr(v)


def nested(d: dict, depth: int) -> dict:
    """A table keyed by `depth`-tuples of values as nested one-value-per-level tables:
    {(a, b): v} -> {a: {b: v}} (depth 1: the keys are the values themselves, tuples included)."""
    out: dict = {}
    for k, v in d.items():
        if depth == 1:
            out[k] = v
            continue
        t = out
        for x in k[:-1]:
            t = t.setdefault(x, {})
        t[k[-1]] = v
    return out


def _dict_lit(d: dict) -> str:
    items = sorted(d.items(), key=lambda kv: repr(kv[0]))
    return "{" + ", ".join(f"{_lit(k)}: {_dict_lit(v) if isinstance(v, dict) else _lit(v)}" for k, v in items) + "}"


def source(prog: Program) -> str:
    """A self-contained implementation f(tokens) that runs the decompiled steps in the model's order."""
    used: list[str] = []
    consts: list[str] = []
    body = ["def run(tokens):", '    """Every variable of the decompiled program, computed in the model order."""',
            "    tokens = list(tokens)", "    n = len(tokens)",
            f"    indices = [p + {prog.index_offset} for p in range(n)]" if prog.index_offset else
            "    indices = list(range(n))",
            "    one = [1] * n"]
    names = ["tokens", "indices", "one"]

    def need(h: str):
        if h not in used:
            used.append(h)

    computed = set(names) | {prog.ident(st.out) for st in prog.steps}
    for st in prog.steps:  # a variable no step explains still exists: as no value, so the rest runs
        reads = [st.query, st.key, st.value] if isinstance(st, HeadStep) else list(st.inputs)
        for v in reads:
            if v and prog.ident(v) not in computed:
                body.append(f"    {prog.ident(v)} = [None] * n  # not decompiled")
                computed.add(prog.ident(v))
    for st in prog.steps:
        out = prog.ident(st.out)
        names.append(out)
        if isinstance(st, HeadStep):
            need("_select")
            q, k = prog.ident(st.query), prog.ident(st.key)
            if st.rule == "table":
                name = f"SELECT_{out.upper()}"
                consts.append(f"{name} = {_dict_lit(nested(st.table, 2))}  # query value -> key value -> selected")
                rule = f"lambda k, q: {name}.get(q, {{}}).get(k, False)"
            else:
                rule = f"lambda k, q: {COMPARATOR_SOURCE[st.rule]}"
            body.append(f"    # {st.where}: query reads {comment(st.query)}, key reads {comment(st.key)}")
            body.append(f"    selected = Select({k}, {q}, {rule})")
            if st.mode == "width":
                need("_width")
                body.append(f"    {out} = _width(selected)")
            elif st.mode == "mean":
                need("_mean")
                vals = prog.ident(st.value)
                if st.indicator is not None:
                    vals = f"[1.0 if v == {_lit(st.indicator)} else 0.0 for v in {vals}]"
                body.append(f"    {out} = _mean(selected, {vals})")
            else:
                need("_pick")
                vm = f", {_dict_lit(st.vmap)}" if st.vmap else ""
                body.append(f"    {out} = _pick(selected, {prog.ident(st.value)}{vm})")
        else:
            ins = [prog.ident(v) for v in st.inputs]
            body.append(f"    # {st.where}: {comment(st.out)} from {comment(', '.join(st.inputs) or 'nothing (constant)')}")
            if st.linear is not None:
                terms = " + ".join(f"{_lit(c)} * {v}" for c, v in zip(st.linear[:-1], "xyzw")) or "0"
                zipped = f"zip({', '.join(ins)})" if len(ins) > 1 else ins[0]
                loopvars = ", ".join("xyzw"[: len(ins)])
                body.append(f"    {out} = [{terms} + {_lit(st.linear[-1])} for {loopvars} in {zipped}]")
            elif not ins:
                body.append(f"    {out} = [{_lit(st.default)}] * n")
            else:
                need("_map")
                name = f"MAP_{out.upper()}"
                consts.append(f"{name} = {_dict_lit(nested(st.table, len(st.inputs)))}  # "
                              f"{comment(' -> '.join([*st.inputs, st.out]))}")
                body.append(f"    {out} = _map({name}, {_lit(st.default)}, {', '.join(ins)})")
    body.append("    return {" + ", ".join(f"{x!r}: {x}" for x in dict.fromkeys(names)) + "}")
    out = prog.ident(prog.output) if prog.output else None
    if out and prog.output_map:
        consts.append(f"OUTPUT_VALUES = {_dict_lit(prog.output_map)}  # the output variable's dims, in order, are these values")
        main = f"def f(tokens):\n    return [OUTPUT_VALUES.get(v) for v in run(tokens)[{out!r}]]\n"
    else:
        main = ("def f(tokens):\n" + (f"    return run(tokens)[{out!r}]\n" if out else "    return [None] * len(tokens)\n"))
    parts = ([HELPERS[h] for h in HELPERS if h in used] + (["\n".join(consts) + "\n"] if consts else [])
             + ["\n".join(body) + "\n", main])
    return "\n\n".join(parts)


def trace(src: str, tokens: list) -> dict:
    """Every variable the source computes on one input (our own generated code, run to check it)."""
    return _compiled(src)(list(tokens))


@lru_cache(maxsize=8)
def _compiled(src: str):
    ns: dict = {}
    exec(compile(src, "<decompiled>", "exec"), ns)
    return ns["run"]
