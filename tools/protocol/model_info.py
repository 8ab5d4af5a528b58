"""model_info's format (the architecture, interface and residual variables of a subject) and its parser."""

from __future__ import annotations

import re

from tracr_agent.tools.protocol.values import fmt_tok, parse_seq


def model_info_text(subject, show_output: bool, raw: bool, transformed: bool = False) -> str:
    """The model_info text of a subject; `raw`: its residual dims are shown without labels, and
    `show_output` whether the condition may name the variable the unembedding reads; `transformed`: its
    residual basis is not privileged (rotated or compressed — which one is not said)."""
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
    if transformed:
        lines.append(f"residual stream: {subject.d_model} dims d0..d{subject.d_model - 1}; residual basis: not "
                     "privileged (a variable is a direction or a subspace, not a set of dims, and directions may "
                     "overlap: which ones matter, and what they mean, is for you to find)")
        return "\n".join(lines)
    if raw:
        lines.append(f"residual stream: {subject.d_model} unlabelled dims d0..d{subject.d_model - 1} "
                     "(which dims form a variable, and what they mean, is for you to find)")
        return "\n".join(lines)
    variables = sorted({l.split(":")[0] for l in subject.residual_labels}, key=_var_order)
    lines.append(f"residual stream variables ({subject.d_model} dims): {', '.join(variables)}")
    if show_output and subject.output_variable:
        lines.append(f"the unembed reads variable {subject.output_variable}")
    return "\n".join(lines)


def _var_order(name: str):
    m = re.match(r"v(\d+)", name)
    return (1, int(m.group(1)), name) if m else (0, 0, name)


def parse_model_info(text: str) -> dict:
    """model_info's text (or an interface stating `input vocab: […]   max_seq_len: N`) -> vocab,
    max_seq_len, n_layers, heads_per_layer, d_model, d_head, d_mlp, numerical, output_values, heads [(layer, head)],
    mlps [layer], n_vars (the residual variables; for raw dims, a guess from d_model) and labelled
    (whether the residual stream's variables are named)."""
    info: dict = {}
    m = re.search(r"input vocab: (\[.*?\])\s+max_seq_len: (\d+)", text)
    if m:
        info["vocab"], info["max_seq_len"] = parse_seq(m.group(1)), int(m.group(2))
    for key in ("layers", "heads per layer", "d_model"):
        m = re.search(rf"{key}: (\d+)", text)
        info[key.replace(" ", "_")] = int(m.group(1)) if m else 0
    info["n_layers"] = info.pop("layers") or 1
    info["numerical"] = bool(re.search(r"output: numerical", text))
    m = re.search(r"output: categorical, values (\[.*?\]);", text)
    info["output_values"] = [v for v in parse_seq(m.group(1)) if v is not None] if m else []
    m = re.search(r"non-empty attention heads: (.*)", text)
    info["heads"] = [(int(a), int(b)) for a, b in re.findall(r"(\d+)\.(\d+)", m.group(1))] if m else []
    m = re.search(r"non-empty MLPs: (.*)", text)
    info["mlps"] = [int(a) for a in re.findall(r"(\d+)\.mlp", m.group(1))] if m else []
    m = re.search(r"residual stream variables \(\d+ dims\): (.*)", text)
    info["n_vars"] = len(m.group(1).split(",")) if m else max(4, info["d_model"] // 3)
    info["labelled"] = m is not None
    for key in ("d_head", "d_mlp"):
        m = re.search(rf"{key}: (\d+)", text)
        info[key] = int(m.group(1)) if m else 0
    return info


def info_of(data: dict) -> dict:
    """A model_info payload as the investigators use it (heads as (layer, head) tuples: a payload that
    went through a checkpoint holds lists)."""
    return {**data, "heads": [tuple(h) for h in data.get("heads", [])]}
