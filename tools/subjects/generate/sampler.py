"""The random program sampler: candidate k of (seed, difficulty) as a Program.

Each candidate draws from its own `random.Random` seeded with the string
`gen/<version>/<seed>-<difficulty>-<k>` (string seeds are hashed with SHA-512
by `random`, unlike `hash()`, so this is the same on every machine and under
any PYTHONHASHSEED). The program is a chain: every operation takes the
previous one's result as an input, so every operation reaches the output.

Each drawn step is evaluated at once (tracr's RASP evaluator, on a few hundred
probe inputs of the domain) and refused, then drawn again, when it does
nothing (simplify.idle_reason), would not compile, or is undefined too often;
the finished chain must have the size, attention patterns and depth of its
difficulty (difficulty.DIFFICULTIES). Value sets are tracked as tracr infers
them, to keep every operation's inputs inside what tracr can compile
(numerical aggregates average 0/1 values only; Selects compare categorical
values of one kind).
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from typing import Optional

from tracr_agent.tools.subjects.generate import library as lib
from tracr_agent.tools.subjects.generate.difficulty import DIFFICULTIES, measure, misfit
from tracr_agent.tools.subjects.generate.program import ATTENTION_KINDS, Op, Program
from tracr_agent.tools.subjects.generate.simplify import Context, built_on_attention, idle_reason
from tracr_agent.tools.subjects.generate.trace import Evaluation, Step, probe_inputs

GENERATOR_VERSION = "3"
"""Bump whenever the sampler, the library, the simplifier or the filters change what an id means."""

MAX_VALUES = 12
"""Largest value set an operation may produce (categorical MLPs grow with it)."""
MAX_STRUCTURE_TRIES = 60
MAX_MISSES = 40
"""Draws refused in a row before the chain is abandoned and started again."""
UNDEFINED_LIMIT = 0.25
"""Most positions must be defined: a step undefined on more than a quarter of them is refused."""


def candidate_rng(seed: int, difficulty: int, k: int) -> random.Random:
    return random.Random(f"gen/{GENERATOR_VERSION}/{seed}-{difficulty}-{k}")


@dataclass
class Var:
    name: str
    kind: str  # int | str | num
    values: frozenset
    sublayer: int  # -1 for the inputs; attention of layer L is 2L, its MLP 2L+1
    maybe_none: bool = False
    """Undefined somewhere (a categorical Aggregate that can select nothing, or built on one): RASP
    raises when it reaches a Select, and a Map into a number reads it as 0 where RASP says None."""
    exact: bool = True
    """tracr's inferred value set is exact. Not after a numerical Aggregate: tracr assumes means v/n
    only (2/3 is missing), so a Map reading it is compiled wrong; only averaging may follow."""


def _next_sublayer(after: int, attention: bool) -> int:
    s = after + 1
    if (s % 2 == 0) != attention:
        s += 1
    return s


def layers_of(variables: list[Var]) -> int:
    return max(v.sublayer for v in variables) // 2 + 1


def _apply(f, values, *more):
    out = set()
    if more:
        for x in values:
            for y in more[0]:
                try:
                    out.add(f(x, y))
                except ArithmeticError:
                    pass
    else:
        for x in values:
            try:
                out.add(f(x))
            except ArithmeticError:
                pass
    return frozenset(v for v in out if v is not None)


def _undefined_share(step: Step) -> float:
    positions = sum(len(row) for row in step.values)
    return sum(v is None for row in step.values for v in row) / max(1, positions)


class _Builder:
    def __init__(self, rng: random.Random, vocab: tuple, max_seq_len: int, token_kind: str, probes: list[list]):
        self.rng = rng
        self.max_seq_len = max_seq_len
        self.vars = [Var("tokens", token_kind, frozenset(vocab), -1),
                     Var("indices", "int", frozenset(range(max_seq_len)), -1)]
        self.ops: list[Op] = []
        self.probes = Evaluation(probes)
        self.attended: set[str] = set()
        """Variables built on an attention step."""

    def categorical(self, kind: Optional[str] = None) -> list[Var]:
        """Categorical variables a Select may compare (never one that can be undefined)."""
        return [v for v in self.vars if v.kind != "num" and not v.maybe_none and (kind is None or v.kind == kind)]

    def _refusal(self, op: Op, step: Step) -> Optional[str]:
        """Why the evaluated step is not taken (None: it is)."""
        if step.problems:
            return step.problems[0]
        if _undefined_share(step) > UNDEFINED_LIMIT:
            return "undefined too often"
        ctx = Context({**self.probes.values, op.var: step.values}, {**self.probes.patterns, op.var: step.pattern},
                      self.attended, {o.var: o for o in self.ops},
                      Counter(v for o in (*self.ops, op) for v in dict.fromkeys(o.inputs)))
        return idle_reason(op, ctx)

    def _add(self, op: Op, values, inputs: list[Var], attention: bool, mlp_after: bool = False) -> Optional[Var]:
        limit = 2 * MAX_VALUES if op.out == "num" else MAX_VALUES
        if len(values) < 2 or len(values) > limit:  # a constant intermediate is dead weight
            return None
        s = _next_sublayer(max(v.sublayer for v in inputs), attention)
        maybe_none = op.kind == "aggregate" or (op.kind != "numerical_aggregate" and any(v.maybe_none for v in inputs))
        if maybe_none and op.out == "num":
            return None
        step = self.probes.try_step(op, len(self.ops))
        if self._refusal(op, step) is not None:
            self.probes.forget(step)
            return None
        self.probes.add(op, step)
        if built_on_attention(op, self.attended):
            self.attended.add(op.var)
        exact = op.kind != "numerical_aggregate" and all(v.exact for v in inputs)
        var = Var(op.var, op.out, frozenset(values), s + 1 if mlp_after else s, maybe_none, exact)
        self.ops.append(op)
        self.vars.append(var)
        return var

    def step(self, prev: Var, attention_only: bool = False) -> Optional[Var]:
        """One operation that takes `prev` as an input (None: this draw did not fit; draw again);
        `attention_only`: an attention step."""
        rng, name = self.rng, f"v{len(self.ops) + 1}"
        if prev.kind == "num":
            choices = (["numerical_map"] * 3 if prev.exact else []) + ["linear_sequence_map"]
            if prev.values <= {0, 1}:
                choices += ["numerical_aggregate"] * 3
        else:
            choices = ["map"] * 3 + ["numerical_map"] * 2 + ["sequence_map"] * 2 + ["aggregate"] * 3 + \
                ["selector_width"] * 2 + ["numerical_aggregate"]
        if attention_only:
            choices = [c for c in choices if c in ATTENTION_KINDS]
            if not choices:
                return None
        kind = rng.choice(choices)
        if kind in ("map", "numerical_map"):
            table = lib.MAPS if kind == "map" else lib.NUMERICAL_MAPS
            fns = [f for f in table if f.kinds[0] == prev.kind]
            if not fns:
                return None
            f = rng.choice(fns)
            params = rng.choice(f.params)
            kind = "numerical_map" if "num" in (f.out, prev.kind) else "map"
            op = Op(name, kind, (prev.name,), f.key, params, f.out)
            return self._add(op, _apply(f.make(*params), prev.values), [prev], attention=False)
        if kind == "sequence_map":
            pairs = [(f, a, b) for f in lib.SEQUENCE_MAPS for a in self.vars for b in self.vars
                     if a is not b and prev in (a, b) and (a.kind, b.kind) == f.kinds]
            if not pairs:
                return None
            f, a, b = rng.choice(pairs)
            params = rng.choice(f.params)
            op = Op(name, "sequence_map", (a.name, b.name), f.key, params, f.out)
            return self._add(op, _apply(f.make(*params), a.values, b.values), [a, b], attention=False)
        if kind == "linear_sequence_map":
            others = [v for v in self.vars if v.kind == "num" and v is not prev and v.exact]
            if not others:
                return None
            other = rng.choice(others)
            key, fx, fy, _, _ = rng.choice(lib.LINEAR_SEQUENCE_MAPS)
            a, b = (prev, other) if rng.random() < 0.5 else (other, prev)
            op = Op(name, "linear_sequence_map", (a.name, b.name), key, (), "num")
            values = frozenset(fx * x + fy * y for x in a.values for y in b.values)
            return self._add(op, values, [a, b], attention=False)
        return self._attention(kind, prev, name)

    def _selector(self, prev: Var, must_use_prev: bool) -> Optional[tuple[Var, Var, str]]:
        """keys, queries, comparison; prev among keys/queries when `must_use_prev`. Never FALSE (it selects
        nothing: an aggregate over it is constant); TRUE compares tokens with tokens (what it compares
        does not matter), so never when prev must be compared."""
        rng = self.rng
        comparisons = [c for c in lib.COMPARISONS if c != "FALSE" and not (must_use_prev and c == "TRUE")]
        comparison = rng.choices(comparisons, [4 if c == "EQ" else 2 for c in comparisons])[0]
        if comparison == "TRUE":
            return self.vars[0], self.vars[0], comparison
        if must_use_prev:
            if prev.kind == "num" or prev.maybe_none:
                return None
            partner = rng.choice(self.categorical(prev.kind))
            keys, queries = (prev, partner) if rng.random() < 0.5 else (partner, prev)
        else:
            kind = rng.choice(["int", "int", self.vars[0].kind])
            pool = self.categorical(kind) or self.categorical("int")
            keys, queries = rng.choice(pool), rng.choice(pool)
        return keys, queries, comparison

    def _attention(self, kind: str, prev: Var, name: str) -> Optional[Var]:
        rng = self.rng
        if kind == "selector_width":
            sel = self._selector(prev, must_use_prev=True)
            if sel is None:
                return None
            keys, queries, cmp = sel
            op = Op(name, "selector_width", (keys.name, queries.name), cmp, (), "int")
            return self._add(op, range(self.max_seq_len + 1), [keys, queries], attention=True, mlp_after=True)
        if kind == "numerical_aggregate":
            if prev.kind == "num":
                values = prev
            else:  # the previous result selects; the averaged 0/1 value comes from an earlier numerical one
                binary = [v for v in self.vars if v.kind == "num" and v.values <= {0, 1}]
                if not binary:
                    return None
                values = rng.choice(binary)
            sel = self._selector(prev, must_use_prev=prev.kind != "num")
            if sel is None:
                return None
            keys, queries, cmp = sel
            op = Op(name, "numerical_aggregate", (keys.name, queries.name, values.name), cmp, (), "num")
            n = self.max_seq_len
            means = {v / m for v in values.values for m in range(1, n + 1)} | {0}
            return self._add(op, means, [keys, queries, values], attention=True)
        # categorical aggregate: prev is what moves, or it decides where to read
        if rng.random() < 0.5:
            values, sel = prev, self._selector(prev, must_use_prev=False)
            if sel is not None and rng.random() < 0.6:  # a selector of width one: read at a computed index
                sel = (self.vars[1], rng.choice(self.categorical("int")), "EQ")
        else:
            values, sel = rng.choice(self.categorical()), self._selector(prev, must_use_prev=True)
        if sel is None or values.kind == "num":
            return None
        keys, queries, cmp = sel
        op = Op(name, "aggregate", (keys.name, queries.name, values.name), cmp, (), values.kind)
        return self._add(op, values.values, [keys, queries, values], attention=True)


def sample_program(seed: int, difficulty: int, k: int) -> Program:
    """Candidate k of (seed, difficulty): the same arguments give the same program everywhere."""
    level = DIFFICULTIES[difficulty]
    rng = candidate_rng(seed, difficulty, k)
    token_kind = rng.choice(["int", "int", "str"])
    size = rng.randint(3, 5)
    if token_kind == "str":
        vocab = tuple(lib.LETTERS[:size])
    else:
        start = rng.choice([0, 1])
        vocab = tuple(range(start, start + size))
    max_seq_len = rng.randint(4, 8)
    probes = probe_inputs(vocab, max_seq_len)
    for _ in range(MAX_STRUCTURE_TRIES):
        n_ops = rng.randint(*level.steps)
        b = _Builder(rng, vocab, max_seq_len, token_kind, probes)
        prev = b.vars[0] if rng.random() < 0.85 else b.vars[1]
        misses = 0
        while len(b.ops) < n_ops and misses < MAX_MISSES:
            patterns = len(b.probes.distinct_patterns)
            nxt = b.step(prev, attention_only=level.patterns - patterns >= n_ops - len(b.ops))
            if nxt is None:
                misses += 1
                continue
            prev, misses = nxt, 0
        if len(b.ops) < n_ops:
            continue
        program = Program(vocab=vocab, max_seq_len=max_seq_len, ops=tuple(b.ops), token_kind=token_kind,
                          meta={"seed": seed, "difficulty": difficulty, "candidate": k,
                                "estimated_layers": layers_of(b.vars)})
        if misfit(difficulty, measure(program, b.probes.patterns)) is None:
            return program
    raise RuntimeError(f"the sampler found no program of difficulty {difficulty} for candidate {k} of seed {seed}")
