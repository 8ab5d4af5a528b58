"""Which activations to read, in get_activations json calls that fit the output cap.

Round 1 is the same for every investigator that reads internals: a scan (every component's writes
on a few long inputs: which layer writes each variable, and each component's write subspace), then,
on designed probe inputs, what holds every variable's values (`value_hooks`) and every attention
layer's pattern. Its size is chosen from the scan's replies only, so every turn (recomputed from the
history) computes the same reads. Without labels, an input whose final residual stream the write
subspaces do not explain is then read component by component (`split_requests`).
"""

from __future__ import annotations

from dataclasses import dataclass

from langchain_core.messages import AIMessage

from tracr_agent.agent.investigators.decompiler import probes
from tracr_agent.agent.investigators.decompiler.analysis import stage_hooks
from tracr_agent.agent.investigators.decompiler.discovery import multi_head_layers
from tracr_agent.agent.investigators.decompiler.observations import Observations, call_key, read_results
from tracr_agent.agent.investigators.decompiler.writes import post_hook, read_writes
from tracr_agent.agent.investigators.rule_based import phase_message
from tracr_agent.tools.protocol.hooks import EMBED, attn_pattern, attn_z, final_resid

ROUND1_CALLS = 24
"""Round 1's share of the budget (the rest: later rounds and the submission)."""
ROUND1_SPLIT_CALLS = 18
"""…when the final residual stream is split (a dense basis): later rounds read what it leaves unknown."""
SPLIT_CALLS = 8
"""At most this many calls read unexplained inputs component by component."""
SPLIT_TURN = 2
"""…at most this many in one turn (what they show may explain the rest)."""
FILL_MARGIN = 0.95
"""The share of the output cap a call filled to it is planned to take (probes.fill_calls)."""

Request = tuple[tuple, tuple[str, ...]]
"""(input, hooks to read on it)."""


def labelled(info: dict) -> bool:
    return bool(info.get("labelled", True))


def pattern_hooks(info: dict) -> tuple[str, ...]:
    return tuple(attn_pattern(layer) for layer in sorted({l for l, _ in info["heads"]}))


def head_hooks(info: dict) -> tuple[str, ...]:
    """Without labels, the outputs of the heads of a layer with several (to tell them apart)."""
    return () if labelled(info) else tuple(attn_z(layer) for layer in multi_head_layers(info))


def scan_hooks(info: dict) -> tuple[str, ...]:
    return tuple(h for h, _ in stage_hooks(info)) + head_hooks(info) + neuron_hooks(info)


def value_hooks(info: dict, direct: bool) -> tuple[str, ...]:
    """What holds every variable's values on an input: the final residual stream (labels name its
    variables, or the write subspaces split it), or each component's writes when they cannot be split."""
    if direct:
        return tuple(h for h, stage in stage_hooks(info) if stage > 0) + head_hooks(info)
    return (final_resid(info["n_layers"]),) + head_hooks(info) + neuron_hooks(info)


def neuron_hooks(info: dict) -> tuple[str, ...]:
    """Without labels, when the final residual stream is split: each MLP's hidden activations (cheap,
    in the neurons' own basis), by which its write is known wherever they were seen before."""
    return () if labelled(info) else tuple(post_hook(layer) for layer in info["mlps"])


def requests(info: dict, xs, scan, hooks: tuple[str, ...] | None = None, direct: bool = False) -> list[Request]:
    """Every component's hook and the patterns on the scanned inputs (whose replies size every later
    call; with labels also the final residual stream, which labels name), and on each of xs the given
    hooks (default: what holds the variables' values, and every attention layer's pattern)."""
    if hooks is None:
        hooks = value_hooks(info, direct) + pattern_hooks(info)
    extra = (final_resid(info["n_layers"]),) if labelled(info) else ()
    everything = tuple(dict.fromkeys(scan_hooks(info) + extra + pattern_hooks(info)))
    out = [(tuple(x), everything) for x in scan]
    return out + [(tuple(x), hooks) for x in xs]


def read_len(info: dict, obs: Observations) -> int:
    """The longest input that can be read: every length, unless one hook on one input was refused as
    over the cap (each position a dense vector of a wide model); then the longest shorter one whose
    dense reply fits."""
    n = info["max_seq_len"]
    if obs.too_long is None:
        return n
    budget = (obs.cap_chars or probes.DEFAULT_CAP_CHARS) * 0.85 - 300
    fits = int(budget // (4 + probes.DENSE_CHARS * info["d_model"])) - 1  # positions, BOS included
    return max(1, min(n, obs.too_long - 1, fits))


def plan(info: dict, obs: Observations, reqs: list[Request], rows=None) -> list[dict]:
    """get_activations json arguments covering the requests, each reply within the output cap (as
    learned from a refusal, halved again after each further refusal); inputs too long to be read at
    all are left out (`missing` leaves them out too). `rows(x, hook)`: the positions to read (default
    every one not read yet; calls filled to the cap read only these)."""
    merged: dict[tuple, tuple[str, ...]] = {}
    for x, hooks in missing(obs, reqs):  # one input asked for in several requests is read once
        merged[x] = tuple(dict.fromkeys(merged.get(x, ()) + hooks))
    reqs = list(merged.items())
    cap = (obs.cap_chars or probes.DEFAULT_CAP_CHARS) / (2 ** min(obs.failed, 2))
    width = 0 if labelled(info) else info["d_model"]
    if dense_reads(info, obs) or obs.partial:
        # every position a dense vector: calls are filled to the cap, an input's positions split between two
        # (sized by what each hook measured, which leaves a smaller margin: one MLP's hidden units may be
        # far sparser than another's, and a dense vector's characters per position barely vary)
        calls = probes.fill_calls(reqs, int(cap * FILL_MARGIN), info["n_vars"], info["heads_per_layer"] or 1,
                                  {**_sizes(info, obs), **obs.hook_sizes}, dense=width, rows=rows or obs.rows_left)
    else:
        calls = probes.plan_calls(reqs, int(cap * 0.85), info["n_vars"], info["heads_per_layer"] or 1,
                                  _sizes(info, obs), dense=width)
    return _split_refused(calls, obs.refused)


def _split_refused(calls: list[dict], refused: set) -> list[dict]:
    """Every call that was refused as over the cap before, halved (its hooks, else its inputs) until no
    part of it is one refused already: a size guessed wrong (a hook kind never measured, dense where
    it was taken to be sparse) is not asked for again."""
    out: list[dict] = []
    todo = list(calls)
    while todo:
        c = todo.pop(0)
        hooks, xs, rows = call_key(c)
        one_row = rows is not None and len(rows) == 1 and len(rows[0]) == 1
        if (hooks, xs, rows) not in refused or (len(hooks) == 1 and len(xs) == 1 and (rows is None or one_row)):
            out.append(c)
        elif len(hooks) > 1:
            half = len(hooks) // 2
            todo[:0] = [{**c, "hook": ",".join(hooks[:half])}, {**c, "hook": ",".join(hooks[half:])}]
        elif len(xs) > 1:
            half = len(xs) // 2
            pos = c.get("positions_per_input")
            todo[:0] = [{**c, "input": c["input"][:half], **({"positions_per_input": pos[:half]} if pos else {})},
                        {**c, "input": c["input"][half:], **({"positions_per_input": pos[half:]} if pos else {})}]
        else:  # one hook on one input: its positions, halved
            half = len(rows[0]) // 2
            todo[:0] = [{**c, "positions_per_input": [list(rows[0][:half])]},
                        {**c, "positions_per_input": [list(rows[0][half:])]}]
    return out


def _sizes(info: dict, obs: Observations) -> dict:
    """The measured sizes, and for the final residual stream, when it was not read yet, what the scan
    says: the embedding and every component together, at most a dense vector per position."""
    sizes = dict(obs.sizes)
    emb, comp = sizes.get("embedding"), sizes.get("component")
    if "resid" not in sizes and emb and comp and emb[1] and comp[1]:
        n_comp = sum(1 for _, stage in stage_hooks(info) if stage > 0)
        per_pos = min(emb[0] / emb[1] + n_comp * comp[0] / comp[1], 4 + probes.DENSE_CHARS * info["d_model"])
        sizes["resid"] = [per_pos, 1]
    return sizes


def read_message(call, info: dict, obs: Observations, reqs: list[Request], note: str, used: int,
                 budget: int, phase: str = "read") -> AIMessage:
    """get_activations calls for the requests, never past the episode's tool-call limit `budget` (the
    submission needs the last call); `used` is the number of calls made so far. The turn is marked
    with `phase` (rule_based.phase_message)."""
    args = plan(info, obs, reqs)[: max(1, budget - 1 - used)]
    return phase_message(phase, f"{note}: {len(args)} get_activations calls (json).",
                         [call("get_activations", a, i) for i, a in enumerate(args)])


def missing(obs: Observations, reqs: list[Request]) -> list[Request]:
    """The requests not read yet, each with only its hooks not read yet (an input asked for twice, once),
    but for inputs too long to be read at all (`Observations.too_long`) and the hooks too wide to be read
    on inputs this long (`Observations.too_wide`)."""
    out: dict[tuple, tuple[str, ...]] = {}  # one request per input, its hooks merged in order
    for x, hooks in reqs:
        left = tuple(h for h in hooks if not obs.has(x, h) and h not in out.get(tuple(x), ())
                     and len(x) < obs.too_wide.get(h, len(x) + 1))
        if left and (obs.too_long is None or len(x) < obs.too_long):
            out[tuple(x)] = out.get(tuple(x), ()) + left
    return list(out.items())


@dataclass
class Round1:
    scan: list[tuple]
    probes: list[tuple]
    """The designed inputs (empty until the scan is read: their number depends on its replies)."""
    requests: list[Request]
    scan_done: bool
    direct: bool = False
    """Without labels: the write subspaces overlap, so every input is read component by component."""

    def value_hooks(self, info: dict) -> tuple[str, ...]:
        return value_hooks(info, self.direct)


def observe(results, info: dict) -> Observations:
    return read_results(results, info["d_model"], info.get("d_head", 0), info.get("d_mlp", 0))


def round1(info: dict, results) -> Round1:
    """Round 1's reads, given what the history has read so far."""
    obs = observe(results, info)
    n_scan = probes.N_SCAN if labelled(info) else probes.N_SCAN_RAW
    longest = read_len(info, obs)
    scan = probes.scan_inputs(probes.round1(info["vocab"], longest), longest, n_scan, every_token=labelled(info))
    scan_reqs = requests(info, scan, scan)
    if not labelled(info):  # the embedding of each token the scan lacks, on that token alone (cheap)
        scan_reqs += [((t,), (EMBED,)) for t in probes.sorted_vocab(info["vocab"]) if not any(t in x for x in scan)]
    if missing(obs, scan_reqs):
        # the first read is one input: its reply measures every hook's size for the rest. Without labels
        # that is its final residual stream alone: how dense it is bounds every component's writes in
        # the same basis, so the scan's hooks are then packed into few calls, not one dense guess each
        answered = any(r.name == "get_activations" and r.ok for r in results)
        first = scan_reqs[:1] if labelled(info) else [(scan[0], (final_resid(info["n_layers"]),))]
        return Round1(scan, [], scan_reqs if answered else first, False)
    scan_obs = observe([r for r in results if _reads_only(r, [x for x, _ in scan_reqs])], info)
    scan_obs.failed = 0
    split = read_writes(info, scan_obs, scan)
    # a final residual stream the subspaces cannot split (overlapping), or split only roughly (tilted, as in a
    # compressed model: least squares then mixes the components' noise), is not read; the components are
    direct = not labelled(info) and (split.dependent or split.noisy or _cheap(info, scan_obs))
    probe_set = _probe_set(info, scan_obs, direct, longest)
    return Round1(scan, probe_set, scan_reqs + requests(info, probe_set, [], direct=direct), True, direct)


def dense_reads(info: dict, obs: Observations) -> bool:
    """Whether reading the residual stream costs a dense vector per position (a basis nobody chose):
    then every position read counts against the budget, and shorter inputs are worth more."""
    resid = obs.sizes.get("resid")
    return bool(resid and resid[1]) and resid[0] / resid[1] > 4 * info["d_model"]


def _cheap(info: dict, obs: Observations) -> bool:
    """Whether reading every component's writes costs no more than what splitting the final residual
    stream reads (in tracr's sparse basis they hold its non-zero entries between them; in a rotated
    one each is dense)."""
    sizes = _sizes(info, obs)
    comp, resid, neurons = sizes.get("component"), sizes.get("resid"), sizes.get("neurons")
    if not comp or not resid or not comp[1] or not resid[1]:
        return False
    n_comp = sum(1 for _, stage in stage_hooks(info) if stage > 0)
    # split, the final residual stream comes with every MLP's hidden activations (neuron_hooks)
    split = resid[0] / resid[1] + (len(info["mlps"]) * neurons[0] / neurons[1] if neurons and neurons[1] else 0)
    return n_comp * comp[0] / comp[1] <= 1.2 * split


def split_requests(info: dict, writes, dense: bool = False) -> list[Request]:
    """Without labels: on the inputs whose final residual stream the write subspaces did not explain,
    the hooks of the components whose writes were left unknown there (each such read also widens the
    subspaces and memoizes MLP writes, so later inputs need fewer); the longest inputs first (they show
    the most), or, where every position read costs a dense vector (`dense`), the shortest (several fit
    one call)."""
    if labelled(info):
        return []
    hook = {c.name: c.hook for c in writes.comps}
    order = sorted(writes.unexplained, key=lambda x: (len(x) if dense else -len(x), x))
    return [(tuple(x), tuple(hook[n] for n in sorted(writes.needs.get(x, ())))) for x in order if writes.needs.get(x)]


def split_rows(writes, obs: Observations):
    """The positions to read a component's hook at on an unexplained input: where its writes are unknown
    (a call filled to the cap reads those alone), but those read already."""
    def rows(x, hook):
        want = writes.need_rows.get(tuple(x))
        left = obs.rows_left(x, hook)
        return [p for p in left if p in want] if want else left
    return rows


def _probe_set(info: dict, scan_obs: Observations, direct: bool, longest: int) -> list[tuple]:
    """As many of the designed inputs as fit in round 1's calls, sized from the scan's replies."""
    n = probes.N_PROBES
    calls = ROUND1_CALLS if labelled(info) or direct else ROUND1_SPLIT_CALLS
    while True:
        probe_set = probes.round1(info["vocab"], longest, n)
        if n <= 12 or len(plan(info, scan_obs, requests(info, probe_set, [], direct=direct))) <= calls - 3:
            return probe_set
        n -= 4


def _reads_only(result, inputs) -> bool:
    """Whether a get_activations result read only these inputs (the scan's replies)."""
    if result.name != "get_activations":
        return False
    xs = result.args.get("input") or []
    return bool(xs) and all(isinstance(x, list) and tuple(x) in inputs for x in xs)
