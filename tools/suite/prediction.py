"""submit_prediction: the investigator's commitment (label, description, implementation, confidence),
checked when it is made.

Before a prediction is recorded its `f` runs in the sandbox (tools/sandbox/) on a handful of inputs
drawn with the episode's seed (the shortest and the longest input among them). What would score it 0%
for a reason the investigator can fix comes back as a tool error instead: a blocked import, an
exception, a wrong number of outputs, a value outside the model's output set (or not a number,
for a numerical model). The check compares f with nothing but the interface the investigator was
told (the output vocabulary model_info shows), never with the model's outputs, so it reveals no
output the investigator did not ask for.
"""

from __future__ import annotations

import ast
import random
import re
from typing import Optional

from pydantic import BaseModel, ConfigDict, Field

from tracr_agent.tools.errors import ToolError
from tracr_agent.tools.protocol.values import fmt_seq
from tracr_agent.tools.sandbox.runner import run_implementation
from tracr_agent.tools.sandbox.worker import ALLOWED_TEXT
from tracr_agent.tools.subjects.compare import value_equal
from tracr_agent.tools.suite.base import ToolContext, tool

CHECK_INPUTS = 6
"""How many inputs a submitted f is tried on (the shortest and the longest length among them)."""
CHECK_SECONDS = 10.0
"""The sandbox's wall time for the check (CPU time is half of it)."""
ENVIRONMENT_REFUSALS = ("refused to run untrusted code", "cannot start the sandbox")
"""How the sandbox's reply begins when the machine, not f, is the problem (no usable isolation): the
prediction is then recorded unchecked, and scoring reports the same problem."""


class Prediction(BaseModel):
    model_config = ConfigDict(extra="forbid")
    label: str = Field(description="A short conventional name for the algorithm, e.g. 'cumulative sum'.")
    description: str = Field(description="What the model computes, in one paragraph.")
    implementation: str = Field(
        description="Python source defining f(tokens: list) -> list that reproduces the model's output "
        "(BOS excluded; one output per input position; None where the model outputs no value). Only these "
        f"modules may be imported: {ALLOWED_TEXT}."
    )
    confidence: float = Field(ge=0.0, le=1.0, description="Your confidence, 0..1.")


def check_source(source: str) -> None:
    try:
        tree = ast.parse(source)
    except SyntaxError as e:
        raise ToolError(f"implementation is not valid Python: line {e.lineno}: {e.msg}") from None
    if not any(isinstance(n, ast.FunctionDef) and n.name == "f" for n in tree.body):
        raise ToolError("implementation must define a top-level function f(tokens: list) -> list")


def check_inputs_for(subject, seed: int) -> list[list]:
    """The inputs a submission is tried on: CHECK_INPUTS random ones drawn with `seed`, the first of
    length 1 and the second of the maximum length."""
    rng = random.Random(f"submission-check:{seed}")
    n = subject.max_seq_len
    lengths = [1, n][:CHECK_INPUTS] + [rng.randint(1, n) for _ in range(CHECK_INPUTS - 2)]
    return [[rng.choice(subject.vocab) for _ in range(k)] for k in lengths]


def output_set_text(subject) -> str:
    """The outputs a model may give, as the prompt and the check state them (Python values)."""
    if subject.output_kind == "numerical":
        return "a number (int or float) per position, or None where the model outputs no value"
    values = [v for v in subject.output_values or [] if v is not None]
    return "one of " + ", ".join(repr(v) for v in values) + " per position, or None where the model outputs no value"


def value_problem(subject, value) -> Optional[str]:
    """Why `value` (one position of f's output) cannot be an output of this model, or None."""
    if value is None:
        return None
    if subject.output_kind == "numerical":
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    else:
        ok = any(value_equal(value, v, False) for v in subject.output_values or [] if v is not None)
    return None if ok else f"{value!r} is not a possible output (the model's outputs are {output_set_text(subject)})"


_WRONG_SIZE = re.compile(r"^output for input (.*?) has length (\d+), expected (\d+)(.*)$")


def _worded(error: str) -> str:
    """The sandbox's reason as the agent reads it: a wrong-sized output in words that name no variable
    a compiled program may have (leak checks: tools/subjects/leak.py)."""
    m = _WRONG_SIZE.match(error)
    return f"f({m.group(1)}) gave {m.group(2)} outputs for {m.group(3)} tokens{m.group(4)}" if m else error


def check_behaviour(subject, source: str, seed: int) -> list[str]:
    """What is wrong with f on the check's inputs (empty: nothing found), each one line."""
    inputs = check_inputs_for(subject, seed)
    res = run_implementation(source, inputs, cpu_seconds=CHECK_SECONDS / 2, wall_seconds=CHECK_SECONDS)
    if res.outputs is None:
        if res.error and res.error.startswith(ENVIRONMENT_REFUSALS):
            return []
        return [res.error or "f gave no outputs"]
    problems = [_worded(res.error)] if res.error else []
    for x, out in zip(inputs, res.outputs):
        if out is None:
            continue  # failed: named by res.error (the first such input)
        bad = next(((i, p) for i, v in enumerate(out) if (p := value_problem(subject, v))), None)
        if bad:
            problems.append(f"f({fmt_seq(x)}) at position {bad[0] + 1}: {bad[1]}")
            break
    return problems


@tool("submit_prediction", Prediction, kind="meta")
def submit_prediction(subject, ctx: ToolContext, args: Prediction) -> str:
    """Commit to your answer: a label, a description, a Python implementation of f(tokens) -> outputs, and a confidence. The implementation is first run on a few inputs: if it fails there (an exception, a blocked import, a wrong number of outputs or a value the model cannot output) nothing is recorded and you get the problem to fix. Once recorded, the investigation ends."""
    if not args.label.strip():
        raise ToolError("label must not be empty")
    check_source(args.implementation)
    problems = check_behaviour(subject, args.implementation, ctx.seed) if ctx.check_submission else []
    if problems:
        raise ToolError(f"the prediction was not recorded: your f was run on {CHECK_INPUTS} inputs (lengths 1 to "
                        f"{subject.max_seq_len}) and " + "; ".join(problems)
                        + ". Fix the implementation and call submit_prediction again.")
    return f"prediction recorded: {args.label.strip()} (confidence {args.confidence:g})"
