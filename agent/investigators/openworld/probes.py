"""What the open-world baseline asks the residual stream when it cannot see outputs (`whitebox`).

1. decode_residual after every layer for one long input: the layer where each variable is
   first written gives the computation order;
2. decode_residual after the last layer for designed probe inputs;
3. each non-input variable, latest-written first, becomes a set of observations
   (input -> the variable's values) for the synthesizer.
"""

from __future__ import annotations

from typing import Optional

from langchain_core.messages import AIMessage

from tracr_agent.agent.investigators.hypotheses import BATCH, probe_inputs
from tracr_agent.agent.investigators.parsing import parse_decode, write_order

N_PROBES = 24


def _decodes(results) -> list[tuple[tuple, int, dict]]:
    out = []
    for name, args, text in results:
        if name == "decode_residual" and not text.startswith("error"):
            parsed = parse_decode(text)
            if parsed:
                out.append((tuple(args.get("input", [])), parsed[0], parsed[1]))
    return out


def whitebox_requests(info: dict, results, seed: int, call) -> Optional[AIMessage]:
    """The next decode_residual calls, or None once every probe has been read."""
    n_layers = info.get("n_layers", 1)
    decodes = _decodes(results)
    probes = probe_inputs(info, seed)[:N_PROBES]
    if not any(name == "decode_residual" for name, _, _ in results):
        order_input = max(probes, key=len)
        return AIMessage(content="No outputs to observe: reading the residual stream after every layer to see "
                                 "the order in which variables are written.",
                         tool_calls=[call("decode_residual", {"input": order_input, "layer": layer, "where": "post"}, i)
                                     for i, layer in enumerate(range(n_layers))])
    done = {x for x, layer, _ in decodes if layer == n_layers - 1}
    asked = sum(name == "decode_residual" for name, _, _ in results)
    todo = [p for p in probes if tuple(p) not in done]
    if todo and asked <= n_layers:
        return AIMessage(content="Decoding the final residual stream on designed probe inputs.",
                         tool_calls=[call("decode_residual", {"input": p, "layer": n_layers - 1, "where": "post"}, i)
                                     for i, p in enumerate(todo[:BATCH])])
    return None


def residual_observations(info: dict, results) -> Optional[list[tuple[str, int, dict]]]:
    """[(variable, layer first written, {input: values})], latest-written first; None if nothing was read."""
    n_layers = info.get("n_layers", 1)
    decodes = _decodes(results)
    if not decodes:
        return None
    final = {x: vals for x, layer, vals in decodes if layer == n_layers - 1}
    first_written, candidates = write_order(decodes)
    out = []
    for var in candidates:
        obs = {x: vals[var] for x, vals in final.items() if var in vals and len(vals[var]) == len(x)}
        if obs:
            out.append((var, first_written[var], obs))
    return out
