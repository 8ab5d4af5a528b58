"""run_model: decoded outputs for inputs the caller chooses (the black-box view)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from tracr_agent.tools.protocol.run_model import format_outputs, run_lines
from tracr_agent.tools.suite.base import ToolContext, TokenLists, check_inputs, tool

MAX_INPUTS = 32


class RunArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    inputs: TokenLists = Field(description="Input sequences (tokens from the vocab, BOS excluded), at most 32.")


def format_output(subject, out) -> str:
    return format_outputs(out, subject.output_kind == "numerical")


@tool("run_model", RunArgs, kind="io")
def run_model(subject, ctx: ToolContext, args: RunArgs) -> str:
    """Run the model on up to 32 input sequences of your choice and get its decoded output at every position ('-' means no value)."""
    inputs = check_inputs(subject, args.inputs, MAX_INPUTS)
    outs = subject.run(inputs)
    return run_lines(inputs, outs, subject.output_kind == "numerical")
