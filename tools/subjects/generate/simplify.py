"""Which steps of a program do nothing, and the program rewritten without them.

Every judgement reads behaviour on a set of inputs (the program's whole domain,
or the sampler's probes), never syntax: two variables are the same when they
take the same values on every input; a selection is constant when it selects
the same on every input. A step does nothing (`idle_reason`) when

- it is constant (e.g. an aggregate over a FALSE selection: always the default);
- it takes the same values as another variable, in any encoding (an identity
  aggregate, a map chain that cancels, a letter/index round trip);
- it is a two-input map that one of its inputs alone decides (the other is decoration);
- it is a map that, with the map it reads (or the single-input map that reads it), tracr
  could compute as one step, and nothing else reads the step in between (a chain of maps
  is one map written as several);
- it is an attention step whose selection is every position while it compares
  something, or the same when comparing a map's input instead of the map's
  result (what it compares is decoration);
- it is an attention step that the values it reads at the same position decide
  (it moves nothing: e.g. selecting the position itself);
- it is built on attention yet the token and position at the same place decide it
  (the attention in between was padding: many layers for a function of one token).

`simplify` first rewrites what can be rewritten without changing any remaining
variable's values: an attention step that selects the same comparing a map's
input as comparing the map's result compares the input (the map was
decoration there); an attention step that selects every position on every
input gets the comparison TRUE over tokens (its keys and queries were
decoration); a step equal to an earlier variable in the same encoding is
replaced by it; steps that no longer reach the output are dropped and the rest
renumbered. `idle_step` then names a step that still does nothing, if any.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Optional

from tracr_agent.tools.subjects.generate.program import ATTENTION_KINDS, Op, Program
from tracr_agent.tools.subjects.generate.trace import INPUTS, Trace, trace_program
from tracr_agent.tools.subjects.generate.trace import comparison as comparison_function

TWO_INPUT_MAPS = ("sequence_map", "linear_sequence_map")


def determined(result: list[tuple], by: list[list[tuple]]) -> bool:
    """Is `result` at each position a function of the `by` variables' values at that position, on these
    inputs (None counts as a value)? Only with evidence: a key seen once proves nothing, so the keys must
    repeat (at most half as many distinct keys as positions)."""
    seen: dict[tuple, object] = {}
    positions = 0
    for n, row in enumerate(result):
        for i, value in enumerate(row):
            positions += 1
            key = tuple(b[n][i] for b in by)
            if seen.setdefault(key, value) != value:
                return False
    return 2 * len(seen) <= positions


def selects_everything(pattern: list[tuple]) -> bool:
    return all(rows and all(all(row) for row in rows) for rows in pattern)


def _one_map(first: Op, second: Op) -> bool:
    """Could tracr compute `second` reading `first` as one step? A map into a map is a map; a categorical
    map into a two-input map, or a two-input map into a categorical map, is a two-input map."""
    maps = ("map", "numerical_map")
    return (first.kind in maps and second.kind in maps) or (first.kind, second.kind) in (
        ("map", "sequence_map"), ("sequence_map", "map"))


def same_pattern(comparison: str, keys: list[tuple], queries: list[tuple], pattern: list) -> bool:
    """Does tracr's Select with `comparison` over these keys and queries select `pattern` on every input?
    (False where the values cannot be compared: an undefined value, letters against numbers.)"""
    cmp = comparison_function(comparison)
    try:
        return all([[bool(cmp(k, q)) for k in ks] for q in qs] == rows for ks, qs, rows in zip(keys, queries, pattern))
    except (ValueError, TypeError):
        return False


@dataclass
class Context:
    """What judging one step needs: every variable's values (the step's own included), the attention
    steps' patterns, the variables built on attention so far, the steps by variable and how many steps
    read each variable."""
    values: dict[str, list[tuple]]
    patterns: dict[str, list[tuple]]
    attended: set[str] = field(default_factory=set)
    producers: dict[str, Op] = field(default_factory=dict)
    readers: dict[str, int] = field(default_factory=dict)


def decoration(op: Op, ctx: Context) -> Optional[tuple[str, str]]:
    """(map variable, its input) when `op` selects the same on every input comparing the map's input
    instead of the map's result (e.g. `x + 2` compared with itself): the map is decoration here."""
    if op.kind not in ATTENTION_KINDS or op.fn == "TRUE":
        return None
    for v in dict.fromkeys(op.inputs[:2]):
        producer = ctx.producers.get(v)
        if producer is None or producer.kind != "map":
            continue
        x = producer.inputs[0]
        keys, queries = (x if w == v else w for w in op.inputs[:2])
        if same_pattern(op.fn, ctx.values[keys], ctx.values[queries], ctx.patterns[op.var]):
            return v, x
    return None


def idle_reason(op: Op, ctx: Context) -> Optional[str]:
    """Why step `op` does nothing (see the module docstring), or None when it does something."""
    values = ctx.values
    for v in dict.fromkeys(op.inputs):
        if v in ctx.producers and ctx.readers.get(v, 0) == 1 and _one_map(ctx.producers[v], op):
            return f"{v} and {op.var} are one map written as two steps (nothing else reads {v})"
    mine = values[op.var]
    distinct = {v for row in mine for v in row}
    if len(distinct) == 1:
        return f"{op.var} is always {next(iter(distinct))!r}"
    twin = next((w for w in values if w != op.var and values[w] == mine), None)
    if twin is not None:
        return f"{op.var} takes the same values as {twin} on every input"
    if op.kind in TWO_INPUT_MAPS:
        for keep, other in ((0, 1), (1, 0)):
            if determined(mine, [values[op.inputs[keep]]]):
                return f"{op.var} ignores {op.inputs[other]}: {op.inputs[keep]} alone decides it"
    if op.kind in ATTENTION_KINDS:
        if op.fn != "TRUE" and selects_everything(ctx.patterns[op.var]):
            return f"{op.var} selects every position on every input: what it compares is decoration"
        plain = decoration(op, ctx)
        if plain is not None:
            return f"{op.var} selects the same comparing {plain[1]} as comparing {plain[0]}: the map is decoration"
        if determined(mine, [values[v] for v in dict.fromkeys(op.inputs)]):
            return f"{op.var} moves nothing: the values it reads at the same position decide it"
    if (op.kind in ATTENTION_KINDS or ctx.attended & set(op.inputs)) and \
            determined(mine, [values["tokens"], values["indices"]]):
        return f"{op.var} is a function of the token and the position alone: the attention before it is padding"
    return None


def built_on_attention(op: Op, attended: set[str]) -> bool:
    return op.kind in ATTENTION_KINDS or bool(attended & set(op.inputs))


def idle_step(program: Program, trace: Trace) -> Optional[str]:
    """Why a step of `program` does nothing (the first such step), or None when every step does something."""
    ctx = Context(trace.values, trace.patterns, set(), {op.var: op for op in program.ops},
                  Counter(v for op in program.ops for v in dict.fromkeys(op.inputs)))
    for op in program.ops:
        reason = idle_reason(op, ctx)
        if reason is not None:
            return reason
        if built_on_attention(op, ctx.attended):
            ctx.attended.add(op.var)
    return None


# -- rewriting -------------------------------------------------------------------------------------

@dataclass
class Simplified:
    program: Program
    trace: Trace
    """The simplified program's own trace."""
    rewrites: list[str] = field(default_factory=list)
    """One line per rewrite, in the sampled program's variable names."""


def _reaching(ops: list[Op], output: str) -> set[str]:
    inputs = {op.var: op.inputs for op in ops}
    live, todo = set(), [output]
    while todo:
        v = todo.pop()
        if v in inputs and v not in live:
            live.add(v)
            todo += inputs[v]
    return live


def rewrite(program: Program, trace: Trace) -> tuple[Program, list[str]]:
    """The program with the value-preserving rewrites of the module docstring applied, and what they were."""
    numerical = {op.var for op in program.ops if op.out == "num"}
    alias: dict[str, str] = {}
    notes: list[str] = []
    kept: list[Op] = []
    ctx = Context(trace.values, trace.patterns, producers={op.var: op for op in program.ops})
    for op in program.ops:
        op = replace(op, inputs=tuple(alias.get(v, v) for v in op.inputs))
        plain = decoration(op, ctx)
        if plain is not None:
            x = alias.get(plain[1], plain[1])
            notes.append(f"{op.var}: selects the same comparing {x} as {plain[0]}: compares {x}")
            op = replace(op, inputs=tuple(x if v == plain[0] else v for v in op.inputs[:2]) + op.inputs[2:])
        if op.kind in ATTENTION_KINDS and selects_everything(trace.patterns[op.var]) and \
                (op.fn, *op.inputs[:2]) != ("TRUE", "tokens", "tokens"):
            notes.append(f"{op.var}: selects every position on every input: comparison TRUE over tokens")
            op = replace(op, fn="TRUE", inputs=("tokens", "tokens", *op.inputs[2:]))
        same = next((w for w in (*INPUTS, *(k.var for k in kept))
                     if trace.values[w] == trace.values[op.var] and (w in numerical) == (op.var in numerical)), None)
        # an output equal to an input stays: the behaviour rules reject it, saying so
        if same is not None and not (op.var == program.output.var and same in INPUTS):
            notes.append(f"{op.var}: equal to {same} on every input: replaced by it")
            alias[op.var] = same
            continue
        kept.append(op)
    live = _reaching(kept, alias.get(program.output.var, program.output.var))
    dropped = [op.var for op in kept if op.var not in live]
    if dropped:
        notes.append(f"{', '.join(dropped)}: no longer reach the output: dropped")
    kept = [op for op in kept if op.var in live]
    names = {op.var: f"v{i + 1}" for i, op in enumerate(kept)}  # renumbered in order; the output is last
    ops = tuple(replace(op, var=names[op.var], inputs=tuple(names.get(v, v) for v in op.inputs)) for op in kept)
    return replace(program, ops=ops), notes


def simplify(program: Program, trace: Optional[Trace] = None) -> Simplified:
    """The program with its no-op steps rewritten away, and the trace of what is left."""
    trace = trace or trace_program(program)
    out, notes = rewrite(program, trace)
    return Simplified(out, trace if out.ops == program.ops else trace_program(out), notes)
