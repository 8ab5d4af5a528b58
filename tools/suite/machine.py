"""get_activations' machine-readable form (`format: "json"`): several inputs and hooks in one call.

A program reading tool results (the `decompiler` investigator) needs numbers, not prose: this
form gives each requested hook's activation for each input as sparse nested lists (the format:
tools/protocol/activations.py), and the residual basis' column labels once (whatever labels the
session shows: neutral names, or raw d0…dN). `positions` picks rows (an attention table's queries)
of every input, `positions_per_input` those of each input, so a reply can be filled to the cap: a
wide model's dense residual stream fits one long input per call, and the rest of that call can hold
some positions of another. It obeys
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


def positions_of(args, inputs: list[list]) -> list:
    """Each input's positions: `positions` for every input, or `positions_per_input`, one list each."""
    if args.positions_per_input is None:
        return [args.positions] * len(inputs)
    if args.positions is not None:
        raise ToolError("give positions (the same for every input) or positions_per_input (one list per input), "
                        "not both")
    if len(args.positions_per_input) != len(inputs):
        raise ToolError(f"positions_per_input has {len(args.positions_per_input)} lists for {len(inputs)} inputs: "
                        "give one list per input")
    return args.positions_per_input


def activations_json(subject, ctx: ToolContext, args, resolve, kind_of, check_positions) -> str:
    hooks = [resolve(subject, ctx, h) for h in str(args.hook).split(",") if h.strip()]
    if not hooks:
        raise ToolError("hook is empty: name one hook, or several separated by commas")
    inputs = batch_inputs(subject, args.input)
    out: dict = {"hooks": hooks, "inputs": []}
    if any(kind_of(h) == "resid" for h in hooks):
        out["residual_labels"] = list(subject.residual_labels)
    for tokens, wanted in zip(inputs, positions_of(args, inputs)):
        acts = subject.activations(tokens)
        entry = {"input": tokens, "acts": {}}
        try:
            rows = None if wanted is None else check_positions(wanted, len(tokens) + 1)
        except ToolError as e:
            raise ToolError(f"input {tokens}: {e}" if len(inputs) > 1 else str(e)) from None
        if rows is not None:
            entry["positions"] = rows
        for h in hooks:
            x = acts[h]
            if args.head is not None and kind_of(h) == "head_table":
                x = x[args.head:args.head + 1]
            elif args.head is not None and kind_of(h) == "per_head":
                x = x[:, args.head:args.head + 1]
            if rows is not None:  # an attention table's rows are its queries
                x = x[:, rows] if kind_of(h) == "head_table" else x[rows]
            entry["acts"][h] = sparse(x)
        out["inputs"].append(entry)
    text = reply(out)
    if len(text) > cap_chars(ctx.cap_tokens):
        raise ToolError(over_cap(len(text), ctx.cap_tokens))
    return text
