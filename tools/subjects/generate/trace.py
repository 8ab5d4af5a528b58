"""Every step of a generated program evaluated on a set of inputs, by tracr's own RASP evaluator.

An `Evaluation` holds, per input, tracr's `DynamicValidationEvaluator` with a
memo, so adding a step evaluates that step only (its inputs are remembered):
the sampler adds candidate steps one by one on a few hundred probe inputs and
refuses those that do nothing; `trace_program` evaluates a whole program on its
whole domain. Either gives each variable's values (tokens, indices and every
step), each attention step's selection pattern, and tracr's compilability
problems per step.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Optional

from tracr_agent.tools.subjects.generate.program import Op, Program, build_op, input_sops
from tracr_agent.tools.subjects.subject import input_domain

INPUTS = ("tokens", "indices")
PROBES = 150
"""Inputs the sampler judges each drawn step on (a seeded sample of the domain; all of it when smaller)."""
_RAISES = (ValueError, TypeError, ArithmeticError, KeyError, IndexError)
"""What RASP raises on an input where a step is undefined (e.g. None reaching a comparison)."""


def comparable(value):
    """A value as the judgements compare it: numbers to 9 decimals (1 - (1 - 1/3) is 1/3), -0.0 as 0.0."""
    if isinstance(value, float):
        return round(value, 9) + 0.0
    return value


def program_domain(program: Program) -> list[list]:
    """The inputs the program is judged on: the same domain its subject is verified and scored on."""
    return input_domain(program.vocab, program.max_seq_len)


def probe_inputs(vocab, max_seq_len: int) -> list[list]:
    domain = input_domain(vocab, max_seq_len)
    return domain if len(domain) <= PROBES else random.Random(0).sample(domain, PROBES)


_MEMO_CLASS = None


def comparison(name: str):
    """tracr's comparison `name` as a plain function of (key, query); like tracr's, it raises on None."""
    from tracr.rasp import rasp

    cmp = rasp.Comparison[name]
    f = getattr(rasp, "_comparison_table", {}).get(cmp)
    if f is None:  # a tracr without the table: its own (slower) call
        return cmp

    def compare(key, query):
        if key is None or query is None:
            raise ValueError("None compared")
        return f(key, query)

    return compare



def _memo_evaluator():
    """tracr's validating evaluator, evaluating each expression once per input (set `memo` to the input's)."""
    global _MEMO_CLASS
    if _MEMO_CLASS is None:
        _MEMO_CLASS = _memo_class()
    return _MEMO_CLASS()


def _memo_class():
    from tracr.compiler.validating import DynamicValidationEvaluator, TracrUnsupportedExpr
    from tracr.rasp import rasp

    compare = getattr(rasp, "_comparison_table", {})

    class Memo(DynamicValidationEvaluator):
        def __init__(self):
            super().__init__()
            self.memo: dict[int, object] = {}

        def evaluate(self, expr, xs):
            key = id(expr)
            if key not in self.memo:
                # tracr's own dispatch; the children come back through this memo
                out = rasp.DefaultRASPEvaluator.evaluate(self, expr, xs)
                if isinstance(expr, rasp.Aggregate):
                    self._check_aggregate(expr, xs, out)
                self.memo[key] = out
            return self.memo[key]

        def _check_aggregate(self, expr, xs, out):
            """DynamicValidationEvaluator's two checks on an aggregate, reading its input from the memo
            (tracr's own re-evaluates the whole input expression for every aggregate)."""
            agg_in = self.evaluate(expr.sop, xs)
            if rasp.is_categorical(expr) and not set(out).issubset(set(agg_in) | {None}):
                self.unsupported_exprs.append(TracrUnsupportedExpr(
                    expr=expr, reason="Categorical aggregate does not support Selectors with width > 1 that "
                                      "require aggregation (eg. averaging)."))
            if rasp.is_numerical(expr) and not set(agg_in).issubset({0, 1}):
                self.unsupported_exprs.append(TracrUnsupportedExpr(
                    expr=expr, reason=f"Numerical aggregate only supports binary inputs 0, 1. But got {set(agg_in)}."))

        def eval_select(self, sel, xs):
            keys, queries = self.evaluate(sel.keys, xs), self.evaluate(sel.queries, xs)
            f = compare.get(sel.predicate)
            if f is None or None in keys or None in queries:  # tracr's own, which raises on None
                return super().eval_select(sel, xs)
            return [[f(k, q) for k in keys] for q in queries]  # the table's comparisons give bools

    return Memo


def pattern_key(pattern: list) -> tuple:
    """A selection on every input as one hashable value (equal selections, equal keys)."""
    return tuple(tuple(map(tuple, rows)) for rows in pattern)


@dataclass
class Step:
    """One step's behaviour: `values[n]` is the tuple of its values on input n (None where undefined or
    where RASP raised; numbers `comparable`), `raw[n]` as RASP gave them; `pattern[n]` an attention
    step's selection (a list of query rows, each a list of key bools; empty where RASP raised before it),
    else None."""
    values: list[tuple]
    raw: list[tuple]
    pattern: Optional[list[tuple]] = None
    problems: list[str] = field(default_factory=list)
    """tracr's compilability problems with this step (at the first input that showed them)."""
    raised: int = 0


class Evaluation:
    """Variables' values on `inputs`, one step added at a time. One evaluator serves every input, switching
    to that input's memo."""

    def __init__(self, inputs: list[list]):
        self.inputs = [list(x) for x in inputs]
        self._ev = _memo_evaluator()
        self._memos: list[dict] = [{} for _ in self.inputs]
        self.env, self.selects = input_sops(), {}
        self.values: dict[str, list[tuple]] = {"tokens": [tuple(x) for x in self.inputs],
                                               "indices": [tuple(range(len(x))) for x in self.inputs]}
        self.patterns: dict[str, list[tuple]] = {}
        self.distinct_patterns: set[tuple] = set()
        """pattern_key of every attention step added."""

    def try_step(self, op: Op, index: int) -> Step:
        """Evaluates `op` (its inputs already added) without adding it."""
        env, selects = dict(self.env), dict(self.selects)
        sop = build_op(op, index, env, selects)
        select = selects.get(op.var)
        raw, pattern, problems, raised = [], [] if select is not None else None, [], 0
        ev = self._ev
        for x, memo in zip(self.inputs, self._memos):
            ev.memo, ev.unsupported_exprs = memo, []
            try:
                raw.append(tuple(ev.evaluate(sop, x)))
            except _RAISES:
                raw.append((None,) * len(x))
                raised += 1
            if ev.unsupported_exprs and not problems:
                problems = [f"input {x}: {u.reason}" for u in ev.unsupported_exprs]
            if select is not None:  # lists of bools, as the evaluator made them (never changed afterwards)
                pattern.append(memo.get(id(select)) or [])
        # only numerical steps hold floats
        values = [tuple(comparable(v) for v in row) for row in raw] if op.out == "num" else raw
        step = Step(values, raw, pattern, problems, raised)
        step.sop, step.select = sop, select  # kept for `add`
        return step

    def add(self, op: Op, step: Step) -> None:
        self.env[op.var] = step.sop
        if step.select is not None:
            self.selects[op.var] = step.select
            self.patterns[op.var] = step.pattern
            self.distinct_patterns.add(pattern_key(step.pattern))
        self.values[op.var] = step.values

    def forget(self, step: Step) -> None:
        """Drops a refused step's memo entries (they would only take memory)."""
        for memo in self._memos:
            memo.pop(id(step.sop), None)
            if step.select is not None:
                memo.pop(id(step.select), None)


@dataclass
class Trace:
    """A program's behaviour on its domain (see Step for the tables)."""
    domain: list[list]
    values: dict[str, list[tuple]]
    patterns: dict[str, list[tuple]]
    output: list[tuple]
    """The output on each input, as RASP gave it (the reference)."""
    problems: list[str] = field(default_factory=list)
    """tracr's compilability problems (of the first step that has any), empty when it compiles."""

    def outputs(self) -> list[list]:
        return [list(v) for v in self.output]


def trace_program(program: Program, domain: Optional[list[list]] = None) -> Trace:
    """Evaluates every step of `program` on `domain` (default: program_domain)."""
    ev = Evaluation(program_domain(program) if domain is None else domain)
    problems: list[str] = []
    for i, op in enumerate(program.ops):
        step = ev.try_step(op, i)
        ev.add(op, step)
        problems = problems or step.problems
    return Trace(ev.inputs, ev.values, ev.patterns, step.raw, problems)
