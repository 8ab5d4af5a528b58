"""run_model: decoded outputs for inputs the caller chooses (the black-box view)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from tracr_agent.tools.suite.base import ToolContext, check_inputs, fmt_num, fmt_seq, tool

MAX_INPUTS = 32


class RunArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    inputs: list[list] = Field(description="Input sequences (tokens from the vocab, BOS excluded), at most 32.")


def format_output(subject, out) -> str:
    if subject.output_kind == "numerical":
        return "[" + ", ".join(fmt_num(x, 4) for x in out) + "]"
    return fmt_seq(out)


@tool("run_model", RunArgs, kind="io")
def run_model(subject, ctx: ToolContext, args: RunArgs) -> str:
    """Run the model on up to 32 input sequences of your choice and get its decoded output at every position ('-' means no value)."""
    inputs = check_inputs(subject, args.inputs, MAX_INPUTS)
    outs = subject.run(inputs)
    return "\n".join(f"{fmt_seq(x)} -> {format_output(subject, y)}" for x, y in zip(inputs, outs))
