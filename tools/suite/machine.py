"""get_activations' machine-readable form (`format: "json"`): several inputs and hooks in one call.

A program reading tool results (the `decompiler` investigator) needs numbers, not prose: this
form gives each requested hook's activation for each input as sparse nested lists (the format:
tools/protocol/activations.py), and the residual basis' column labels once (whatever labels the
session shows: neutral names, or raw d0…dN). It obeys
the same output cap as every tool: a reply that would not fit is refused with the way to split it,
never cut (a cut JSON text could not be parsed).
"""

from __future__ import annotations

from tracr_agent.tools.suite.base import ToolContext
from tracr_agent.tools.errors import ToolError
from tracr_agent.tools.protocol.activations import reply, sparse
from tracr_agent.tools.protocol.cap import cap_chars, over_cap

MAX_JSON_INPUTS = 64


def batch_inputs(subject, raw) -> list[list]:
    """`input` is one sequence or, in json form, a list of sequences."""
    if isinstance(raw, list) and raw and all(isinstance(x, list) for x in raw):
        if len(raw) > MAX_JSON_INPUTS:
            raise ToolError(f"at most {MAX_JSON_INPUTS} inputs per call (got {len(raw)})")
        return [subject.check_input(x) for x in raw]
    return [subject.check_input(raw)]


def activations_json(subject, ctx: ToolContext, args, resolve, kind_of) -> str:
    hooks = [resolve(subject, ctx, h) for h in str(args.hook).split(",") if h.strip()]
    if not hooks:
        raise ToolError("hook is empty: name one hook, or several separated by commas")
    inputs = batch_inputs(subject, args.input)
    out: dict = {"hooks": hooks, "inputs": []}
    if any(kind_of(h) == "resid" for h in hooks):
        out["residual_labels"] = list(subject.residual_labels)
    for tokens in inputs:
        acts = subject.activations(tokens)
        entry = {"input": tokens, "acts": {}}
        for h in hooks:
            x = acts[h]
            if args.head is not None and kind_of(h) == "head_table":
                x = x[args.head:args.head + 1]
            elif args.head is not None and kind_of(h) == "per_head":
                x = x[:, args.head:args.head + 1]
            entry["acts"][h] = sparse(x)
        out["inputs"].append(entry)
    text = reply(out)
    if len(text) > cap_chars(ctx.cap_tokens):
        raise ToolError(over_cap(len(text), ctx.cap_tokens))
    return text
