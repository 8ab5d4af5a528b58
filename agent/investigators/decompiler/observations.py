"""What the decompiler has seen: get_activations (format json) payloads turned into dense arrays.

Everything it knows about the model comes from here and from model_info's text: the activations of
the hooks it asked for, per input, as numpy arrays; and the residual basis' column labels.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from tracr_agent.tools.protocol.activations import dense, dense_at
from tracr_agent.tools.protocol.hooks import EMBED, POS_EMBED, resid



@dataclass
class Observations:
    residual_labels: list[str] = field(default_factory=list)
    acts: dict[tuple, dict[str, np.ndarray]] = field(default_factory=dict)
    """input (tuple) -> hook -> array (positions first for residual hooks; [heads, q, k] for patterns)."""
    cap_chars: Optional[int] = None
    """The output cap learned from a refusal, if any."""
    failed: int = 0
    """Calls refused since the last answered one (each answer measures the sizes again)."""
    sizes: dict = field(default_factory=dict)
    """hook kind -> [characters, positions] summed over every activation read: to size later calls."""
    hook_sizes: dict = field(default_factory=dict)
    """…and the same per hook (one MLP's hidden units may be far sparser than another's)."""
    too_long: Optional[int] = None
    """The shortest input whose read of one hook alone was refused as over the cap (a dense basis on a
    wide model): inputs this long cannot be read at all."""
    too_wide: dict = field(default_factory=dict)
    """MLP hidden-activation hook -> the shortest input on which it alone was refused as over the cap
    (a wide MLP, dense in its neurons): it is not read on inputs this long, which can still be read."""
    refused: set = field(default_factory=set)
    """The calls refused as over the cap, as (hooks, inputs, positions): planned again, they would be
    refused again."""
    partial: dict = field(default_factory=dict)
    """(input, hook) -> (array, rows read) for an activation read at some positions only so far (a call
    filled to the cap ends part way through an input); it moves to `acts` once every row is read."""

    def has(self, x, hook: str) -> bool:
        return hook in self.acts.get(tuple(x), {})

    def get(self, x, hook: str) -> np.ndarray:
        return self.acts[tuple(x)][hook]

    def inputs_with(self, hook: str) -> list[tuple]:
        return [x for x, a in self.acts.items() if hook in a]

    def rows_left(self, x, hook: str) -> list[int]:
        """The positions of x (0 is BOS) at which `hook` is still to be read."""
        if self.has(x, hook):
            return []
        got = self.partial.get((tuple(x), hook))
        return [p for p in range(len(x) + 1) if got is None or p not in got[1]]


def read_results(results, d_model: int, d_head: int = 0, d_mlp: int = 0) -> Observations:
    """Observations from the answered get_activations json calls (rule_based.Result: their payloads)."""
    obs = Observations()
    for r in results:
        if r.name != "get_activations" or r.args.get("format") != "json":
            continue
        if not r.ok or not isinstance(r.data, dict) or "inputs" not in r.data:
            obs.failed += 1
            if r.data and r.data.get("cap_chars"):  # refused as over the cap: the cap, learned
                obs.cap_chars = r.data["cap_chars"]
                xs = r.args.get("input") or []
                obs.refused.add(call_key(r.args))
                hook = str(r.args.get("hook", ""))
                rows = r.args.get("positions_per_input")
                # one hook on one input (at one position, where positions were asked for) is over the cap
                whole = rows is None or (len(rows) == 1 and len(rows[0]) == 1)
                if len(xs) == 1 and isinstance(xs[0], list) and "," not in hook and whole:
                    if hook_kind(hook) == "neurons":  # an MLP's hidden units: a shortcut, done without
                        obs.too_wide[hook] = min(len(xs[0]), obs.too_wide.get(hook, len(xs[0])))
                    else:
                        obs.too_long = min(len(xs[0]), obs.too_long or len(xs[0]))
            continue
        data = r.data
        obs.failed = 0
        if data.get("residual_labels"):
            obs.residual_labels = data["residual_labels"]
        for entry in data.get("inputs", []):
            x = tuple(entry["input"])
            n_pos = len(x) + 1
            rows = entry.get("positions")
            slot = obs.acts.setdefault(x, {})
            for hook, sp in entry["acts"].items():
                if rows is None:
                    slot[hook] = dense(sp, hook, n_pos, d_model, d_head, d_mlp)
                elif hook not in slot:
                    _add_rows(obs, x, hook, rows, dense_at(sp, hook, rows, n_pos, d_model, d_head, d_mlp))
                for size in (obs.sizes.setdefault(hook_kind(hook), [0, 0]), obs.hook_sizes.setdefault(hook, [0, 0])):
                    size[0] += len(json.dumps(sp, separators=(",", ":"))) + len(hook) + 4
                    size[1] += len(rows) if rows is not None else n_pos
    obs.acts = {x: a for x, a in obs.acts.items() if a}
    return obs


def _add_rows(obs: Observations, x: tuple, hook: str, rows: list[int], a: np.ndarray) -> None:
    """Rows of an activation read at some positions, added to what was read of it before; once every
    position is read it is an activation like any other."""
    have, got = obs.partial.get((x, hook), (np.zeros_like(a), set()))
    if hook.endswith("hook_pattern"):
        have[:, rows] = a[:, rows]
    else:
        have[rows] = a[rows]
    got = got | set(rows)
    if len(got) == len(x) + 1:
        obs.acts[x][hook] = have
        obs.partial.pop((x, hook), None)
    else:
        obs.partial[(x, hook)] = (have, got)


def call_key(args: dict) -> tuple:
    """A get_activations call's (hooks, inputs, positions), to recognise the same call planned again."""
    hooks = tuple(h.strip() for h in str(args.get("hook", "")).split(","))
    xs = args.get("input") or []
    rows = args.get("positions_per_input")
    rows = None if rows is None else tuple(tuple(p) for p in rows)
    return hooks, tuple(tuple(x) if isinstance(x, list) else x for x in xs), rows


def hook_kind(hook: str) -> str:
    """What sizes a hook's json: the residual stream, one component's output, attention patterns, or
    each head's output."""
    if hook.endswith("hook_pattern"):
        return "pattern"
    if hook.endswith(("attn.hook_q", "attn.hook_k", "attn.hook_v", "attn.hook_z")):
        return "head"
    if hook.endswith(("hook_attn_out", "hook_mlp_out")):
        return "component"
    if hook.endswith(("mlp.hook_pre", "mlp.hook_post")):
        return "neurons"
    if hook in (resid(0, "pre"), EMBED, POS_EMBED):
        return "embedding"
    return "resid"
