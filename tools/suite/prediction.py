"""submit_prediction: the investigator's commitment (label, description, implementation, confidence)."""

from __future__ import annotations

import ast

from pydantic import BaseModel, ConfigDict, Field

from tracr_agent.tools.suite.base import ToolContext, tool
from tracr_agent.tools.errors import ToolError


class Prediction(BaseModel):
    model_config = ConfigDict(extra="forbid")
    label: str = Field(description="A short name for the task the model performs, e.g. 'sum of pairs'.")
    description: str = Field(description="What the model computes, in one paragraph.")
    implementation: str = Field(
        description="Python source defining f(tokens: list) -> list that reproduces the model's output "
        "(BOS excluded; one output per input position; None where the model outputs no value)."
    )
    confidence: float = Field(ge=0.0, le=1.0, description="Your confidence, 0..1.")


def check_implementation(source: str) -> None:
    try:
        tree = ast.parse(source)
    except SyntaxError as e:
        raise ToolError(f"implementation is not valid Python: line {e.lineno}: {e.msg}") from None
    if not any(isinstance(n, ast.FunctionDef) and n.name == "f" for n in tree.body):
        raise ToolError("implementation must define a top-level function f(tokens: list) -> list")


@tool("submit_prediction", Prediction, kind="meta")
def submit_prediction(subject, ctx: ToolContext, args: Prediction) -> str:
    """Commit to your answer: a label, a description, a Python implementation of f(tokens) -> outputs, and a confidence. This ends the investigation."""
    if not args.label.strip():
        raise ToolError("label must not be empty")
    check_implementation(args.implementation)
    return f"prediction recorded: {args.label.strip()} (confidence {args.confidence:g})"
