"""model_info and list_hooks: what the subject is, and which hooks can be read."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from tracr_agent.tools.subjects.rawview import is_raw
from tracr_agent.tools.subjects.subject import standard_hooks
from tracr_agent.tools.suite.base import ToolContext, fmt_tok, tool


class NoArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")


def model_info_text(subject, show_output: bool = True) -> str:
    heads = subject.nonempty_heads
    lines = [
        "A Tracr-compiled transformer (no layer norm, ReLU MLPs, bidirectional attention).",
        f"layers: {subject.n_layers}   heads per layer: {subject.n_heads}   d_model: {subject.d_model}   "
        f"d_head: {subject.d_head}   d_mlp: {subject.d_mlp}",
        f"input vocab: [{', '.join(fmt_tok(t) for t in subject.vocab)}]   max_seq_len: {subject.max_seq_len} "
        f"(BOS {fmt_tok(subject.bos)} is prepended at position 0; outputs are read at positions 1..n)",
    ]
    if subject.output_kind == "categorical":
        vals = ", ".join("-" if v is None else fmt_tok(v) for v in subject.output_values or [])
        lines.append(f"output: categorical, values [{vals}]; '-' marks a position with no value")
    else:
        lines.append("output: numerical (one number per position)")
    lines.append("non-empty attention heads: " + (", ".join(f"{l}.{h}" for l, h in heads) or "none"))
    lines.append("non-empty MLPs: " + (", ".join(f"{l}.mlp" for l in subject.nonempty_mlps) or "none"))
    empty = subject.n_layers * subject.n_heads - len(heads)
    if empty:
        lines.append(f"({empty} head(s) and {subject.n_layers - len(subject.nonempty_mlps)} MLP(s) are all-zero: tracr pads every layer with both)")
    if getattr(subject, "transform", None) is not None:  # rotated or compressed: which one is not said
        lines.append(f"residual stream: {subject.d_model} dims d0..d{subject.d_model - 1}; residual basis: not "
                     "privileged (a variable is a direction or a subspace, not a set of dims, and directions may "
                     "overlap: which ones matter, and what they mean, is for you to find)")
        return "\n".join(lines)
    if is_raw(subject):
        lines.append(f"residual stream: {subject.d_model} unlabelled dims d0..d{subject.d_model - 1} "
                     "(which dims form a variable, and what they mean, is for you to find)")
        return "\n".join(lines)
    variables = sorted({l.split(":")[0] for l in subject.residual_labels}, key=_var_order)
    lines.append(f"residual stream variables ({subject.d_model} dims): {', '.join(variables)}")
    if show_output and subject.output_variable:
        lines.append(f"the unembed reads variable {subject.output_variable}")
    return "\n".join(lines)


def _var_order(name: str):
    import re

    m = re.match(r"v(\d+)", name)
    return (1, int(m.group(1)), name) if m else (0, 0, name)


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
        names = [n for n in standard_hooks(subject.n_layers) if n.startswith(f"blocks.{layer}.")]
        short = [f"{n.split('.', 2)[2]} {shapes[n.split('.', 2)[2]]}" for n in names]
        lines.append(f"blocks.{layer}: " + ", ".join(short))
    if ctx.reveals_output:
        lines.append(f"output: logits [{T}, {subject.card.config.d_vocab_out}] (read with get_activations hook='logits')")
    return "\n".join(lines)
