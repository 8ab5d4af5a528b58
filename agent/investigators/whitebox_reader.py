"""The closed-world baseline's whitebox strategy: no decoded outputs, so read the residual stream instead.

1. model_info (vocab, layers, output kind);
2. decode_residual after every layer for one input: the layer where each
   variable is first written gives the computation order;
3. decode_residual after the last layer for designed probe inputs;
4. hypothesis elimination (as in black-box mode) on each variable's values,
   latest-written variable first: the first variable that some hypothesis
   explains is taken as the output. The description says so — it is an
   inference from the residual stream, not an observation of outputs.
"""

from __future__ import annotations

from langchain_core.messages import AIMessage

from tracr_agent.agent.investigators.hypotheses import (
    BATCH,
    generic_hypotheses,
    probe_inputs,
    submit_prediction,
)
from tracr_agent.agent.investigators.zoo_lookup import zoo_hypotheses

N_PROBES = 16


def whitebox_step(info, results, forced, call, seed: int) -> AIMessage:
    n_layers = info.get("n_layers", 1)
    decodes = []  # (input tuple, layer, values)
    for r in results:
        if r.name == "decode_residual" and r.ok and r.data:
            decodes.append((tuple(r.args.get("input", [])), r.data["layer"], r.data["values"]))
    probes = probe_inputs(info, seed)[:N_PROBES]
    order_input = max(probes, key=len)
    if not decodes and not forced:
        calls = [call("decode_residual", {"input": order_input, "layer": layer, "where": "post"}, i)
                 for i, layer in enumerate(range(n_layers))]
        return AIMessage(content="No outputs to observe: reading the residual stream after every layer to see "
                                 "the order in which variables are written.", tool_calls=calls)
    final = {x: vals for x, layer, vals in decodes if layer == n_layers - 1}
    if len(final) < 2 and not forced:
        todo = [p for p in probes if tuple(p) not in final]
        calls = [call("decode_residual", {"input": p, "layer": n_layers - 1, "where": "post"}, i)
                 for i, p in enumerate(todo[:BATCH])]
        return AIMessage(content="Decoding the final residual stream on designed probe inputs.", tool_calls=calls)
    first_written, candidates = write_order(decodes)
    numerical = info.get("numerical", False)
    for var in candidates:
        obs = {x: vals[var] for x, vals in final.items() if var in vals and len(vals[var]) == len(x)}
        if not obs:
            continue
        hyps = [h for h in zoo_hypotheses() + generic_hypotheses(obs) if h.consistent(obs, numerical)]
        zoo = [h for h in hyps if h.zoo] or hyps
        if zoo:
            best = zoo[0]
            note = (f"Variable {var} is written last (layer {first_written[var]}); taking it as the output, "
                    f"{len(zoo)} hypothesis(es) explain its values on {len(obs)} inputs")
            desc = (best.description + f" (Inferred without decoded outputs: variable {var}, written last, "
                    f"holds these values on {len(obs)} probe inputs.)")
            return submit_prediction(call, best.label, desc, best.source, 0.7 if len(zoo) == 1 else 0.4, note)
    return submit_prediction(call, "unknown",
                             "No hypothesis explains the values of any variable written in the residual stream.",
                             "def f(tokens):\n    return [None] * len(tokens)\n", 0.05,
                             f"Checked {len(candidates)} variables on {len(final)} inputs")


INPUT_VARS = ("tokens", "indices", "one")


def write_order(decodes: list[tuple[tuple, int, dict]]) -> tuple[dict[str, int], list[str]]:
    """From decode_residual readings (input, layer, values): the layer where each variable is first
    written, and the non-input variables latest-written first (candidates for the output)."""
    first_written: dict[str, int] = {}
    for _, layer, vals in sorted(decodes, key=lambda d: d[1]):
        for var, seq in vals.items():
            if var not in first_written and any(v is not None for v in seq):
                first_written[var] = layer
    candidates = [v for v in first_written if v.split(":")[0] not in INPUT_VARS and not v.endswith(".sw")]
    candidates.sort(key=lambda v: (-first_written[v], v))
    return first_written, candidates
