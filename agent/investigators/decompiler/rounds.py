"""Which activations to read, in get_activations json calls that fit the output cap.

Round 1 is the same for every investigator that reads internals: a scan (every stage of the
residual stream on a few long inputs: which layer writes each variable), then, on designed probe
inputs, the final residual stream and every attention layer's pattern. Its size is chosen from the
scan's replies only, so every turn (recomputed from the history) computes the same reads.
"""

from __future__ import annotations

from dataclasses import dataclass

from langchain_core.messages import AIMessage

from tracr_agent.agent.investigators.decompiler import probes
from tracr_agent.agent.investigators.decompiler.analysis import stage_hooks
from tracr_agent.tools.protocol.hooks import attn_pattern, final_resid
from tracr_agent.agent.investigators.decompiler.observations import Observations, read_results
from tracr_agent.agent.investigators.rule_based import phase_message

ROUND1_CALLS = 24
"""Round 1's share of the budget (the rest: a later round and the submission)."""

Request = tuple[tuple, tuple[str, ...]]
"""(input, hooks to read on it)."""


def requests(info: dict, xs, scan, hooks: tuple[str, ...] | None = None) -> list[Request]:
    """Every stage on the scanned inputs; on each of xs the given hooks (default: the final residual
    stream and every attention layer's pattern)."""
    if hooks is None:
        layers = sorted({l for l, _ in info["heads"]})
        hooks = (final_resid(info["n_layers"]),) + tuple(attn_pattern(l) for l in layers)
    out = [(tuple(x), tuple(h for h, _ in stage_hooks(info))) for x in scan]
    return out + [(tuple(x), hooks) for x in xs]


def plan(info: dict, obs: Observations, reqs: list[Request]) -> list[dict]:
    """get_activations json arguments covering the requests, each reply within the output cap (as
    learned from a refusal, halved again after each further refusal)."""
    budget = int((obs.cap_chars or probes.DEFAULT_CAP_CHARS) * 0.85 / (2 ** min(obs.failed, 2)))
    return probes.plan_calls(reqs, budget, info["n_vars"], info["heads_per_layer"] or 1, obs.sizes)


def read_message(call, info: dict, obs: Observations, reqs: list[Request], note: str, used: int,
                 budget: int, phase: str = "read") -> AIMessage:
    """get_activations calls for the requests, never past the episode's tool-call limit `budget` (the
    submission needs the last call); `used` is the number of calls made so far. The turn is marked
    with `phase` (rule_based.phase_message)."""
    args = plan(info, obs, reqs)[: max(1, budget - 1 - used)]
    return phase_message(phase, f"{note}: {len(args)} get_activations calls (json).",
                         [call("get_activations", a, i) for i, a in enumerate(args)])


def missing(obs: Observations, reqs: list[Request]) -> list[Request]:
    return [(x, hooks) for x, hooks in reqs if not all(obs.has(x, h) for h in hooks)]


@dataclass
class Round1:
    scan: list[tuple]
    probes: list[tuple]
    """The designed inputs (empty until the scan is read: their number depends on its replies)."""
    requests: list[Request]
    scan_done: bool


def round1(info: dict, results) -> Round1:
    """Round 1's reads, given what the history has read so far."""
    obs = read_results(results, info["d_model"])
    scan = probes.scan_inputs(probes.round1(info["vocab"], info["max_seq_len"]), info["max_seq_len"])
    scan_reqs = requests(info, scan, scan)
    if missing(obs, scan_reqs):
        return Round1(scan, [], scan_reqs, False)
    scan_obs = read_results([r for r in results if _reads_only(r, scan)], info["d_model"])
    scan_obs.failed = 0
    probe_set = _probe_set(info, scan_obs)
    return Round1(scan, probe_set, scan_reqs + requests(info, probe_set, []), True)


def _probe_set(info: dict, scan_obs: Observations) -> list[tuple]:
    """As many of the designed inputs as fit in ROUND1_CALLS calls, sized from the scan's replies."""
    n = probes.N_PROBES
    while True:
        probe_set = probes.round1(info["vocab"], info["max_seq_len"], n)
        if n <= 12 or len(plan(info, scan_obs, requests(info, probe_set, []))) <= ROUND1_CALLS - 3:
            return probe_set
        n -= 4


def _reads_only(result, inputs) -> bool:
    """Whether a get_activations result read only these inputs (the scan's replies)."""
    if result.name != "get_activations":
        return False
    xs = result.args.get("input") or []
    return bool(xs) and all(isinstance(x, list) and tuple(x) in inputs for x in xs)
