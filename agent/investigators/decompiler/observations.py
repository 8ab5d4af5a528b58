"""What the decompiler has seen: get_activations (format json) replies parsed back into dense arrays.

Everything it knows about the model comes from here and from model_info's text: the activations of
the hooks it asked for, per input, as numpy arrays; and the residual basis' column labels.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

_CAP = re.compile(r"over the output cap \(~(\d+)\)")


@dataclass
class Observations:
    residual_labels: list[str] = field(default_factory=list)
    acts: dict[tuple, dict[str, np.ndarray]] = field(default_factory=dict)
    """input (tuple) -> hook -> array (positions first for residual hooks; [heads, q, k] for patterns)."""
    cap_chars: Optional[int] = None
    """The output cap learned from a refusal, if any."""
    failed: int = 0
    sizes: dict = field(default_factory=dict)
    """hook kind -> [characters, positions] summed over every activation read: to size later calls."""

    def has(self, x, hook: str) -> bool:
        return hook in self.acts.get(tuple(x), {})

    def get(self, x, hook: str) -> np.ndarray:
        return self.acts[tuple(x)][hook]

    def inputs_with(self, hook: str) -> list[tuple]:
        return [x for x, a in self.acts.items() if hook in a]


def read_results(results, d_model: int) -> Observations:
    """Observations from the (tool name, args, text) results of get_activations json calls."""
    obs = Observations()
    for name, args, text in results:
        if name != "get_activations" or not isinstance(args, dict) or args.get("format") != "json":
            continue
        if text.startswith("error"):
            obs.failed += 1
            m = _CAP.search(text)
            if m:
                obs.cap_chars = int(m.group(1))
            continue
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            obs.failed += 1
            continue
        if data.get("residual_labels"):
            obs.residual_labels = data["residual_labels"]
        for entry in data.get("inputs", []):
            x = tuple(entry["input"])
            n_pos = len(x) + 1
            slot = obs.acts.setdefault(x, {})
            for hook, sp in entry["acts"].items():
                slot[hook] = _dense_hook(sp, hook, n_pos, d_model)
                size = obs.sizes.setdefault(hook_kind(hook), [0, 0])
                size[0] += len(json.dumps(sp, separators=(",", ":"))) + len(hook) + 4
                size[1] += n_pos
    return obs


def hook_kind(hook: str) -> str:
    """What sizes a hook's json: the residual stream, one component's output, or attention patterns."""
    if hook.endswith("hook_pattern"):
        return "pattern"
    if hook.endswith(("hook_attn_out", "hook_mlp_out")):
        return "component"
    if hook == "blocks.0.hook_resid_pre":
        return "embedding"
    return "resid"


def _dense_hook(sp, hook: str, n_pos: int, d_model: int) -> np.ndarray:
    if hook.endswith("hook_pattern"):
        # [heads][queries][[key, weight]…]
        out = np.zeros((len(sp), n_pos, n_pos))
        for h, rows in enumerate(sp):
            for q, row in enumerate(rows):
                for k, v in row:
                    out[h, q, k] = v
        return out
    out = np.zeros((len(sp), d_model))
    for p, row in enumerate(sp):
        for j, v in row:
            out[p, j] = v
    return out
