"""A generated program as data: its operations, how to build it in RASP, how to evaluate it.

The program is a list of operations, each naming its inputs and a library
function (tracr_agent.tools.subjects.generate.library), so it can be rebuilt,
rendered and described identically in any process. Every SOp gets an explicit
tracr label (`map_3`, `aggregate_5`, …): tracr orders residual dimensions by
label, and its automatic labels come from a process-global counter, which
would make the weights depend on what the process built before.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from tracr_agent.tools.subjects.generate import library as lib

ATTENTION_KINDS = ("aggregate", "numerical_aggregate", "selector_width")
KINDS = ("map", "numerical_map", "sequence_map", "linear_sequence_map", *ATTENTION_KINDS)


@dataclass(frozen=True)
class Op:
    var: str
    """The rendering's name for the result: v1, v2, …"""
    kind: str
    inputs: tuple[str, ...]
    """map: (x,); sequence maps: (x, y); aggregates: (keys, queries, values); selector_width: (keys, queries)."""
    fn: str = ""
    """Library key (maps) or comparison name (aggregates, selector_width)."""
    params: tuple = ()
    out: str = "int"
    """Kind of the result: int, str (letters) or num (numerical encoding)."""

    @property
    def label(self) -> str:
        """tracr's label: generic, so the leak check's rules treat it as tracr's own naming."""
        base = {"numerical_map": "map", "linear_sequence_map": "sequence_map",
                "numerical_aggregate": "aggregate"}.get(self.kind, self.kind)
        return f"{base}_{self.var[1:]}"


@dataclass(frozen=True)
class Program:
    vocab: tuple
    max_seq_len: int
    ops: tuple[Op, ...]
    token_kind: str = "int"
    meta: dict = field(default_factory=dict, compare=False)

    @property
    def output(self) -> Op:
        return self.ops[-1]

    @property
    def numerical_output(self) -> bool:
        return self.output.out == "num"

    def to_json(self) -> dict:
        return {"vocab": list(self.vocab), "max_seq_len": self.max_seq_len, "token_kind": self.token_kind,
                "ops": [[op.var, op.kind, list(op.inputs), op.fn, list(op.params), op.out] for op in self.ops]}

    @classmethod
    def from_json(cls, data: dict, meta: Optional[dict] = None) -> "Program":
        ops = tuple(Op(var, kind, tuple(inputs), fn, tuple(params), out)
                    for var, kind, inputs, fn, params, out in data["ops"])
        return cls(tuple(data["vocab"]), data["max_seq_len"], ops, data["token_kind"], dict(meta or {}))


def function(op: Op):
    """The Python function a Map/SequenceMap applies."""
    return lib.BY_KEY[op.fn].make(*op.params)


def build_op(op: Op, index: int, env: dict, selects: dict):
    """Adds the SOp of `op` (the `index`-th operation) to `env`, and its Select to `selects` (imports tracr)."""
    from tracr.rasp import rasp

    args = [env[name] for name in op.inputs]
    if op.kind in ("map", "numerical_map"):
        sop = rasp.Map(function(op), args[0], simplify=False)
        sop = rasp.numerical(sop) if op.out == "num" else rasp.categorical(sop)
    elif op.kind == "sequence_map":
        sop = rasp.categorical(rasp.SequenceMap(function(op), args[0], args[1]))
    elif op.kind == "linear_sequence_map":
        _, fx, fy, _, _ = lib.LINEAR_BY_KEY[op.fn]
        sop = rasp.numerical(rasp.LinearSequenceMap(args[0], args[1], fx, fy))
    else:
        select = selects[op.var] = rasp.Select(args[0], args[1], rasp.Comparison[op.fn]).named(f"select_{index + 1}")
        if op.kind == "selector_width":
            sop = rasp.categorical(rasp.SelectorWidth(select))
        elif op.kind == "numerical_aggregate":
            sop = rasp.numerical(rasp.Aggregate(select, args[2], default=0))
        else:
            sop = rasp.categorical(rasp.Aggregate(select, args[2]))
    env[op.var] = sop.named(op.label)
    return env[op.var]


def input_sops() -> dict:
    from tracr.rasp import rasp

    return {"tokens": rasp.tokens, "indices": rasp.indices}


def build_graph(program: Program) -> tuple[dict, dict]:
    """({variable: SOp} for tokens, indices and every operation, {attention variable: its Select}) (imports tracr)."""
    env, selects = input_sops(), {}
    for i, op in enumerate(program.ops):
        build_op(op, i, env, selects)
    return env, selects


def build_rasp(program: Program):
    """The RASP SOp of `program` (imports tracr)."""
    return build_graph(program)[0][program.output.var]


def evaluate(sop, tokens: list) -> tuple[Optional[list], list[str]]:
    """(outputs, tracr's compilability problems) for one input; outputs None when RASP raises
    (e.g. an undefined value reaching a Select)."""
    from tracr.compiler.validating import DynamicValidationEvaluator

    ev = DynamicValidationEvaluator()
    try:
        out = ev.evaluate(sop, list(tokens))
    except (ValueError, TypeError, ArithmeticError, KeyError, IndexError):
        return None, []
    return list(out), [u.reason for u in ev.unsupported_exprs]
