"""model_info and list_hooks: what the subject is, and which hooks can be read."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from tracr_agent.tools.protocol.model_info import model_info_text as format_model_info
from tracr_agent.tools.subjects.rawview import is_raw
from tracr_agent.tools.protocol.hooks import PER_LAYER
from tracr_agent.tools.suite.base import ToolContext, tool


class NoArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")


def model_info_text(subject, show_output: bool = True) -> str:
    return format_model_info(subject, show_output, is_raw(subject),
                             transformed=getattr(subject, "transform", None) is not None)


@tool("model_info", NoArgs, kind="meta")
def model_info(subject, ctx: ToolContext, args: NoArgs) -> str:
    """Architecture of the model: layers, heads, sizes, input vocab, max_seq_len, output kind and values, which heads and MLPs are non-empty, and the residual stream's variables."""
    return model_info_text(subject, show_output=ctx.reveals_output)


@tool("list_hooks", NoArgs, kind="meta")
def list_hooks(subject, ctx: ToolContext, args: NoArgs) -> str:
    """The TransformerLens hook names you can read with get_activations, grouped by layer, with their shapes."""
    T = "n+1"
    h, dm, dh, dmlp = subject.n_heads, subject.d_model, subject.d_head, subject.d_mlp
    shapes = {
        "hook_embed": f"[{T}, {dm}]", "hook_pos_embed": f"[{T}, {dm}]",
        "hook_resid_pre": f"[{T}, {dm}]", "attn.hook_q": f"[{T}, {h}, {dh}]", "attn.hook_k": f"[{T}, {h}, {dh}]",
        "attn.hook_v": f"[{T}, {h}, {dh}]", "attn.hook_attn_scores": f"[{h}, {T}, {T}]",
        "attn.hook_pattern": f"[{h}, {T}, {T}]", "attn.hook_z": f"[{T}, {h}, {dh}]",
        "hook_attn_out": f"[{T}, {dm}]", "hook_resid_mid": f"[{T}, {dm}]", "mlp.hook_pre": f"[{T}, {dmlp}]",
        "mlp.hook_post": f"[{T}, {dmlp}]", "hook_mlp_out": f"[{T}, {dm}]", "hook_resid_post": f"[{T}, {dm}]",
    }
    lines = [f"shapes use n+1 positions (BOS at 0); {subject.n_layers} layers"]
    lines.append("embeddings: hook_embed " + shapes["hook_embed"] + ", hook_pos_embed " + shapes["hook_pos_embed"])
    for layer in range(subject.n_layers):
        lines.append(f"blocks.{layer}: " + ", ".join(f"{tail} {shapes[tail]}" for tail in PER_LAYER))
    if ctx.reveals_output:
        lines.append(f"output: logits [{T}, {subject.card.config.d_vocab_out}] (read with get_activations hook='logits')")
    return "\n".join(lines)
