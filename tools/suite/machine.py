"""get_activations' machine-readable form (`format: "json"`): several inputs and hooks in one call.

A program reading tool results (the `decompiler` investigator) needs numbers, not prose: this
form gives each requested hook's activation for each input as sparse nested lists (at the last
axis only the non-zero entries, as [index, value] pairs, 4 decimals), and the residual basis'
column labels once (whatever labels the session shows: neutral names, or raw d0…dN). It obeys
the same output cap as every tool: a reply that would not fit is refused with the way to split it,
never cut (a cut JSON text could not be parsed).
"""

from __future__ import annotations

import json

from tracr_agent.tools.suite.base import CHARS_PER_TOKEN, ToolContext, ToolError

MAX_JSON_INPUTS = 64


def sparse(x) -> list:
    """Nested lists; at the last axis [[index, value], …] of the non-zero entries (rounded to 4 decimals)."""
    if x.dim() == 1:
        return [[j, _num(v)] for j, v in enumerate(x.tolist()) if _num(v) != 0]
    return [sparse(row) for row in x]


def _num(v: float):
    """4 decimals; a whole number as an int (most entries are exactly 1: '1' instead of '1.0')."""
    v = round(v, 4)
    return int(v) if v == int(v) else v


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
    text = json.dumps(out, separators=(",", ":"))
    limit = ctx.cap_tokens * CHARS_PER_TOKEN
    if len(text) > limit:
        raise ToolError(f"the json reply would be {len(text)} characters, over the output cap (~{limit}): "
                        "ask for fewer inputs or hooks per call")
    return text
