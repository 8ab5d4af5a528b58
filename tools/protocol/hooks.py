"""TransformerLens hook names, built in one place: every tool, investigator and check names hooks here."""

from __future__ import annotations

import re
from typing import Optional

EMBED = "hook_embed"
POS_EMBED = "hook_pos_embed"
LOGITS = "logits"
"""Not a hook: the model's output, readable with get_activations where outputs are shown."""
PER_LAYER = ("hook_resid_pre", "attn.hook_q", "attn.hook_k", "attn.hook_v", "attn.hook_attn_scores",
             "attn.hook_pattern", "attn.hook_z", "hook_attn_out", "hook_resid_mid", "mlp.hook_pre",
             "mlp.hook_post", "hook_mlp_out", "hook_resid_post")
"""Each layer's hooks, in forward order (`blocks.L.` + each)."""
RESID = (EMBED, POS_EMBED, "hook_resid_pre", "hook_resid_mid", "hook_resid_post", "hook_attn_out", "hook_mlp_out")
"""Hooks in the residual basis: [positions, d_model]."""
PER_HEAD = ("attn.hook_q", "attn.hook_k", "attn.hook_v", "attn.hook_z")
"""[positions, heads, d_head]."""
HEAD_TABLES = ("attn.hook_attn_scores", "attn.hook_pattern")
"""[heads, queries, keys]."""
_LAYER = re.compile(r"^blocks\.(\d+)\.")


def block(layer: int, tail: str) -> str:
    """`blocks.{layer}.{tail}`, e.g. block(0, "attn.hook_pattern")."""
    return f"blocks.{layer}.{tail}"


def resid(layer: int, where: str = "post") -> str:
    """The residual stream before a layer's attention (pre), after it (mid) or after its MLP (post)."""
    return block(layer, f"hook_resid_{where}")


def final_resid(n_layers: int) -> str:
    """The residual stream the unembedding reads."""
    return resid(n_layers - 1, "post")


def attn_pattern(layer: int) -> str:
    return block(layer, "attn.hook_pattern")


def attn_scores(layer: int) -> str:
    return block(layer, "attn.hook_attn_scores")


def attn_q(layer: int) -> str:
    return block(layer, "attn.hook_q")


def attn_k(layer: int) -> str:
    return block(layer, "attn.hook_k")


def attn_z(layer: int) -> str:
    """Each head's output before W_O: a head is ablated or patched here."""
    return block(layer, "attn.hook_z")


def attn_out(layer: int) -> str:
    """What a layer's attention adds to the residual stream."""
    return block(layer, "hook_attn_out")


def mlp_out(layer: int) -> str:
    """What a layer's MLP adds to the residual stream."""
    return block(layer, "hook_mlp_out")


def standard_hooks(n_layers: int) -> list[str]:
    """The hook names tracr-agent exposes, in forward order."""
    return [EMBED, POS_EMBED, *(block(layer, tail) for layer in range(n_layers) for tail in PER_LAYER)]


def every_layer(name: str, n_layers: int) -> list[str]:
    """A per-layer name (`attn.hook_pattern`, `hook_resid_post`, …) as every layer's hook; a full
    name (`hook_pos_embed`, `blocks.1.attn.hook_z`) as itself."""
    if name.startswith(("attn.", "mlp.", "hook_resid", "hook_attn", "hook_mlp")):
        return [block(layer, name) for layer in range(n_layers)]
    return [name]


def hook_layer(name: str) -> Optional[int]:
    m = _LAYER.match(name)
    return int(m.group(1)) if m else None


def hook_kind(name: str) -> str:
    """'resid' [T, d_model], 'per_head' [T, H, d_head], 'head_table' [H, T, T], 'mlp' [T, d_mlp], 'logits'."""
    if name == LOGITS:
        return "logits"
    tail = name.split(".", 2)[2] if name.startswith("blocks.") else name
    if tail in RESID:
        return "resid"
    if tail in PER_HEAD:
        return "per_head"
    if tail in HEAD_TABLES:
        return "head_table"
    return "mlp"
