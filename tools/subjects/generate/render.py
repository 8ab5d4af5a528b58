"""Readable forms of a generated program: pseudo-code and an auto-written description.

Both are ground truth for scoring (the judge reads the description) and for
reports; neither is ever shown to the investigating agent.
"""

from __future__ import annotations

from typing import Optional

from tracr_agent.tools.subjects.generate import library as lib
from tracr_agent.tools.subjects.generate.program import Op, Program


def _code(op: Op) -> str:
    if op.kind == "linear_sequence_map":
        return lib.LINEAR_BY_KEY[op.fn][3]
    return lib.BY_KEY[op.fn].code.format(*op.params)


def _statement(op: Op, python: bool = False, producers: Optional[dict] = None) -> str:
    """`op` as one line of pseudo-code, or (`python`) of runnable RASP (`producers`: the steps by variable)."""
    p = "rasp." if python else ""
    a = [f"rasp.{n}" if python and n in ("tokens", "indices") else n for n in op.inputs]
    if op.kind in ("map", "numerical_map"):
        # tracr folds a Map of a Map into one Map unless told not to; the model was compiled unfolded
        inner = (producers or {}).get(op.inputs[0])
        unfold = ", simplify=False" if python and inner is not None and inner.kind in ("map", "numerical_map") else ""
        body = f"{p}Map(lambda x: {_code(op)}, {a[0]}{unfold})"
    elif op.kind == "sequence_map":
        body = f"{p}SequenceMap(lambda x, y: {_code(op)}, {a[0]}, {a[1]})"
    elif op.kind == "linear_sequence_map":
        _, fx, fy, _, _ = lib.LINEAR_BY_KEY[op.fn]
        body = f"{p}LinearSequenceMap({a[0]}, {a[1]}, {fx:g}, {fy:g})"
    else:
        select = f"rasp.Select({a[0]}, {a[1]}, rasp.Comparison.{op.fn})" if python else \
            f"Select(keys={a[0]}, queries={a[1]}, predicate={op.fn})"
        if op.kind == "selector_width":
            body = f"{p}SelectorWidth({select})"
        elif op.kind == "numerical_aggregate":
            body = f"{p}Aggregate({select}, {a[2]}, default=0)"
        else:
            body = f"{p}Aggregate({select}, {a[2]})"
    return f"{op.var} = {p}{'numerical' if op.out == 'num' else 'categorical'}({body})"


def render_op(op: Op) -> str:
    return _statement(op)


def _vocab_text(program: Program) -> str:
    return "{" + ", ".join(repr(t) for t in program.vocab) + "}"


def render_program(program: Program, task_id: str = "") -> str:
    """Pseudo-code in tracr's RASP vocabulary, one operation a line (predicates are called (key, query))."""
    head = [f"# {task_id}" if task_id else "# generated RASP program",
            f"# vocab {_vocab_text(program)}, max_seq_len {program.max_seq_len}, "
            f"output {'numerical' if program.numerical_output else 'categorical'}"]
    return "\n".join(head + [render_op(op) for op in program.ops] + [f"output = {program.output.var}"])


def _at(name: str, pos: str) -> str:
    return f"{name}[{pos}]"


def _condition(op: Op) -> str:
    keys, queries = op.inputs[0], op.inputs[1]
    if op.fn == "TRUE":
        return "every position j" if op.kind != "selector_width" else "all positions (the input's length)"
    if op.fn == "FALSE":
        return "no position at all"
    return f"the positions j where {_at(keys, 'j')} {lib.COMPARISONS[op.fn][1]} {_at(queries, 'i')}"


def describe_op(op: Op) -> str:
    x = _at(op.inputs[0], "i")
    if op.kind in ("map", "numerical_map"):
        what = lib.BY_KEY[op.fn].text.format(x=x, **{f"p{i}": p for i, p in enumerate(op.params)})
    elif op.kind == "sequence_map":
        what = lib.BY_KEY[op.fn].text.format(x=x, y=_at(op.inputs[1], "i"),
                                             **{f"p{i}": p for i, p in enumerate(op.params)})
    elif op.kind == "linear_sequence_map":
        what = lib.LINEAR_BY_KEY[op.fn][4].format(x=x, y=_at(op.inputs[1], "i"))
    elif op.kind == "selector_width":
        what = f"the count of {_condition(op)}"
    elif op.kind == "numerical_aggregate":
        what = f"the mean of {_at(op.inputs[2], 'j')} over {_condition(op)} (0 where there is none)"
    else:
        what = (f"{_at(op.inputs[2], 'j')} read from {_condition(op)} (every such position holds the same "
                "value; undefined where there is none)")
    return f"{op.var}[i] = {what}."


def describe_program(program: Program) -> str:
    """An auto-written English description, one sentence per operation, naming the output."""
    kind = "letters" if program.token_kind == "str" else "integers"
    lines = [f"The input is a sequence of 1 to {program.max_seq_len} {kind} from {_vocab_text(program)}; "
             f"the output has one {'number' if program.numerical_output else 'value'} per position. "
             "For each position i (j ranges over all positions; indices[i] = i):"]
    lines += [describe_op(op) for op in program.ops]
    lines.append(f"The output at position i is {program.output.var}[i].")
    return "\n".join(lines)


def python_source(program: Program, task_id: str = "") -> str:
    """The program as a runnable RASP module: `tracr-agent run --program FILE.py:program` compiles it."""
    producers = {op.var: op for op in program.ops}
    vocab = _vocab_text(program)
    return "\n".join([
        f'"""{task_id or "A generated RASP program"}: {len(program.ops)} step(s), '
        f'{"numerical" if program.numerical_output else "categorical"} output."""',
        "", "from tracr.rasp import rasp", "", "",
        "def program():",
        *(f"    {_statement(op, True, producers)}" for op in program.ops),
        f"    return {program.output.var}, {vocab}, {program.max_seq_len}", ""])
