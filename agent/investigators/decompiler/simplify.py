"""From the recovered steps to the steps a person would write: RASP primitives, tables only where
nothing simpler is exact.

The recovered `Program` (program.py) says what each model component computes, in tracr's terms:
a selector width is a head writing 1/(w+1) then an MLP decoding w; an indicator is averaged
straight from the token; a label-free output is an ordinal mapped onto the output's values. This
module rewrites it, without changing what it computes on any recovered entry:

- every head's rule and every table is recognised as a named primitive when one gives every entry
  (recognise.py); the rest stay tables;
- a selector width is one step, `SelectorWidth(Select(…))`, holding the count w itself: the MLP
  that decodes w from 1/(w+1) merges into it, and other readers of 1/(w+1) read w (their tables
  re-keyed by w);
- the renaming of a value a head moves, an averaged indicator, the output's ordinal -> value map
  become part of the step that uses them; a map step that computes the indicator a head averages
  becomes that head's value;
- a tuple a label-free residual holds as an ordinal is the tuple again (encodings.py);
- steps the output does not depend on are left out (and counted).

The result is a list of `Step`s in the model's order; naming.py names their variables, rasp_source.py
writes them as Python, describe.py in words.
"""

from __future__ import annotations

from copy import copy
from dataclasses import dataclass, field
from typing import Any, Optional

from tracr_agent.agent.investigators.decompiler.encodings import decode
from tracr_agent.agent.investigators.decompiler.mlps import key_of
from tracr_agent.agent.investigators.decompiler.primitives import Expr, arg, call, const
from tracr_agent.agent.investigators.decompiler.program import HeadStep, MlpStep, Program
from tracr_agent.agent.investigators.decompiler.recognise import K, Q, affine, recognise_map, recognise_rule, snap

COMPARISONS = {"==": "eq", "!=": "ne", "<": "lt", "<=": "le", ">": "gt", ">=": "ge"}
COUNT = "#count"  # suffix of a selector width's count before a decoding MLP names it


@dataclass
class Step:
    """One readable step: a map of per-position values, or a selector and what it aggregates."""

    name: str
    kind: str  # 'map' | 'count' (selector width) | 'pick' (categorical aggregate) | 'mean' (numerical)
    where: list[str] = field(default_factory=list)  # the model components it stands for
    inputs: list[str] = field(default_factory=list)  # map: its arguments, in order
    expr: Optional[Expr] = None  # map: over its arguments; None: `table`
    table: dict = field(default_factory=dict)  # key (value, or tuple of values) -> value
    default: Any = None
    keys: str = ""
    queries: str = ""
    predicate: Optional[Expr] = None  # over (k, q); None: `selection`
    selection: dict = field(default_factory=dict)  # (query value, key value) -> selected
    value: Optional[str] = None  # the variable aggregated
    value_expr: Optional[Expr] = None  # applied to the value before aggregating (a renaming, an indicator)
    value_table: dict = field(default_factory=dict)  # a renaming nothing simpler gives
    faithful: Optional[tuple[str, str]] = None  # (recovered variable, 'same' | 'fraction' | 'output' | 'encoded')

    @property
    def reads(self) -> list[str]:
        if self.kind == "map":
            return list(self.inputs)
        return [v for v in (self.keys, self.queries, self.value) if v]

    @property
    def tables(self) -> int:
        """How many tables the step keeps (0: it is named primitives only)."""
        if self.kind == "map":
            return int(self.expr is None and bool(self.inputs))
        return int(self.predicate is None) + int(self.value_expr is None and bool(self.value_table))


@dataclass
class Readable:
    steps: list[Step]
    output: Optional[str]
    index_offset: int = 0
    recovered: int = 0  # steps the model was decompiled into
    unused: list[str] = field(default_factory=list)  # model components whose values the output does not use
    unexplained: list[str] = field(default_factory=list)
    numerical_output: bool = False
    encodings: dict = field(default_factory=dict)  # variable -> {tuple: the ordinal the model holds for it}

    def step(self, name: str) -> Optional[Step]:
        return next((s for s in self.steps if s.name == name), None)


def _rule(st: HeadStep, forced: bool) -> tuple[Optional[Expr], dict]:
    if st.rule == "true":
        return const(True), {}
    if st.rule == "false":
        return const(False), {}
    if st.rule in COMPARISONS:
        return call(COMPARISONS[st.rule], arg(K), arg(Q)), {}
    pred = None if forced else recognise_rule(st.table)
    return pred, ({} if pred is not None else st.table)


def _count_of(fraction) -> Optional[int]:
    """The count w a selector width's 1/(w+1) stands for (as recovered: rounded like a table key)."""
    if not isinstance(fraction, float) or fraction <= 0:
        return None
    w = round(1 / fraction) - 1
    return w if w >= 0 and key_of((1 / (w + 1),)) == fraction else None


def _rekeyed(table: dict, positions: list[int], arity: int) -> Optional[dict]:
    """The table with the fraction inputs at `positions` read as their counts (None: a key is not one)."""
    out = {}
    for key, v in table.items():
        parts = list(key) if arity > 1 else [key]
        for p in positions:
            w = _count_of(parts[p])
            if w is None:
                return None
            parts[p] = w
        out[tuple(parts) if arity > 1 else parts[0]] = v
    return out


def _fold_output(steps: list, prog: Program) -> list:
    """The steps with the output's ordinal -> value map (a label-free residual) applied by the step
    that writes the output; [] when no step can take it (the caller then adds a map)."""
    omap = prog.output_map
    out = []
    folded = False
    for st in steps:
        if st.out == prog.output and isinstance(st, MlpStep) and st.table and st.linear is None:
            st = copy(st)
            st.table = {k: omap.get(v) for k, v in st.table.items()}
            st.default = omap.get(st.default)
            folded = True
        elif st.out == prog.output and isinstance(st, HeadStep) and st.mode == "pick":
            st = copy(st)
            moved = st.vmap or {o: o for o in omap}
            st.vmap = {v: omap.get(w) for v, w in moved.items()}
            folded = True
        out.append(st)
    return out if folded else []


def simplify(prog: Program, keep_tables: frozenset = frozenset()) -> Readable:
    """The readable steps of a recovered program. `keep_tables`: variables whose step is written
    with its recovered tables even where a primitive fits (where the primitive was found to differ
    from the recovered program off the recovered entries)."""
    recovered, encoded = decode(list(prog.steps), prog.output, keep_tables)
    output_mapped = False
    if prog.output_map and prog.output:
        folded = _fold_output(recovered, prog)
        output_mapped = bool(folded)
        recovered = folded or recovered
    fractions = {st.out for st in recovered if isinstance(st, HeadStep) and st.mode == "width"}
    steps: list[Step] = []
    reads_fraction: set[str] = set()
    for st in recovered:
        forced = st.out in keep_tables
        faithful = (st.out, "output" if output_mapped and st.out == prog.output else
                    "encoded" if st.out in encoded else "same")
        if isinstance(st, HeadStep):
            pred, selection = _rule(st, forced)
            s = Step(name=st.out, kind={"width": "count", "mean": "mean"}.get(st.mode, "pick"), where=[st.where],
                     keys=st.key, queries=st.query, predicate=pred, selection=selection, faithful=faithful)
            if st.mode == "width":
                s.name, s.faithful = st.out + COUNT, (st.out, "fraction")
            elif st.mode == "mean":
                s.value = st.value
                if st.indicator is not None:
                    s.value_expr = call("eq", arg(0), const(st.indicator))
            else:
                s.value = st.value
                if st.vmap:
                    s.value_expr = None if forced else recognise_map(st.vmap, 1)
                    s.value_table = {} if s.value_expr is not None else st.vmap
                    if s.value_expr == arg(0):  # renamed to itself (an output map undoing an ordinal)
                        s.value_expr = None
            if s.value in fractions:
                reads_fraction.add(s.value)
            steps.append(s)
            continue
        s = Step(name=st.out, kind="map", where=[st.where], inputs=list(st.inputs), default=st.default,
                 faithful=faithful)
        fraction_at = [i for i, v in enumerate(st.inputs) if v in fractions]
        table = st.table
        if fraction_at and st.linear is None and not forced:  # a kept table reads 1/(w+1), as recovered
            rekeyed = _rekeyed(st.table, fraction_at, len(st.inputs))
            if rekeyed is None:
                reads_fraction |= {st.inputs[i] for i in fraction_at}
            else:
                table = rekeyed
                s.inputs = [v + COUNT if v in fractions else v for v in st.inputs]
        elif fraction_at:
            reads_fraction |= {st.inputs[i] for i in fraction_at}
        if st.linear is not None:
            s.expr = affine([arg(i) for i in range(len(st.inputs))], [snap(c) for c in st.linear[:-1]],
                            snap(st.linear[-1]))
        elif not st.inputs:
            s.expr = const(st.default)
        else:
            s.table = table
            s.expr = None if forced else recognise_map(table, len(st.inputs))
            if s.expr is not None:
                s.table = {}
        steps.append(s)
    if prog.output in fractions and not output_mapped:
        reads_fraction.add(prog.output)  # the model outputs 1/(w+1) itself
    steps = _merge_counts(steps, reads_fraction)
    if prog.output_map and prog.output and not output_mapped:
        steps.append(_output_map_step(prog, keep_tables))
    _reuse_maps(steps)
    output = _renamed_output(steps, prog.output)
    needed = _needed(steps, output)
    unused = [w for s in steps if s.name not in needed for w in s.where]
    return Readable([s for s in steps if s.name in needed], output, prog.index_offset, len(prog.steps),
                    unused, list(prog.unexplained), prog.numerical_output, encoded)


def _output_map_step(prog: Program, keep_tables: frozenset) -> Step:
    name = prog.output + "#value"
    expr = None if name in keep_tables else recognise_map(prog.output_map, 1)
    return Step(name=name, kind="map", where=["the output's ordinals read as its values"], inputs=[prog.output],
                expr=expr, table={} if expr is not None else dict(prog.output_map), faithful=(prog.output, "output"))


def _renamed_output(steps: list[Step], output: Optional[str]) -> Optional[str]:
    names = [s.name for s in steps]
    for candidate in (f"{output}#value", output):
        if candidate in names:
            return candidate
    return output


def _merge_counts(steps: list[Step], reads_fraction: set[str]) -> list[Step]:
    """A selector width's count takes the name of the MLP that decodes it (the model's variable);
    1/(w+1) itself stays only for readers that could not read w (as a map of the count)."""
    rename: dict[str, str] = {}
    out: list[Step] = []
    for s in steps:
        if s.kind == "map" and len(s.inputs) == 1 and s.inputs[0].endswith(COUNT) and s.expr == arg(0) \
                and s.inputs[0] not in rename:
            count = next(c for c in out if c.name == s.inputs[0])
            rename[count.name] = s.name
            count.name = s.name
            count.where += s.where
            count.faithful = s.faithful
            continue
        out.append(s)
    extra: list[tuple[int, Step]] = []
    for i, s in enumerate(out):
        s.inputs = [rename.get(v, v) for v in s.inputs]
        s.keys, s.queries = rename.get(s.keys, s.keys), rename.get(s.queries, s.queries)
        s.value = rename.get(s.value, s.value) if s.value else s.value
        if s.kind == "count" and s.faithful and s.faithful[1] == "fraction" and s.faithful[0] in reads_fraction:
            frac = s.faithful[0]
            extra.append((i + 1, Step(name=frac, kind="map", where=list(s.where), inputs=[s.name],
                                      expr=call("div", const(1), call("add", arg(0), const(1))),
                                      faithful=(frac, "same"))))
    for i, step in reversed(extra):
        out.insert(i, step)
    return out


def _reuse_maps(steps: list[Step]) -> None:
    """A head that maps the value it moves (a renaming, an averaged indicator [value == c]) reads the
    map step that computes exactly that, when there is one."""
    for s in steps:
        if s.kind not in ("pick", "mean") or s.value_expr is None:
            continue
        wanted = s.value_expr
        for m in steps:
            if m.kind != "map" or m.inputs != [s.value] or m.expr is None or m is s:
                continue
            same = m.expr == wanted or (s.kind == "mean" and m.expr.op in ("float", "int") and m.expr.args[0] == wanted)
            if same:
                s.value, s.value_expr = m.name, None
                break


def _needed(steps: list[Step], output: Optional[str]) -> set[str]:
    by_name = {s.name: s for s in steps}
    needed: set[str] = set()
    todo = [output] if output else []
    while todo:
        v = todo.pop()
        if v in needed or v not in by_name:
            continue
        needed.add(v)
        todo += by_name[v].reads
    return needed
