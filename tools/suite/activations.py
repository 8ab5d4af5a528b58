"""get_activations and attention_pattern: reading hooks of one forward pass.

Small tensors are printed whole (3 decimals); large ones are summarized by
their non-zero columns and the largest entries per position. Residual-stream
tensors are labelled with the neutral residual names. Every number is rounded
and every ordering fixed, so the same call always gives the same text.
"""

from __future__ import annotations

import difflib
import re
from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field

from tracr_agent.tools.protocol.attention import describe_pattern
from tracr_agent.tools.protocol.hooks import attn_pattern, final_resid, hook_kind, hook_layer, standard_hooks
from tracr_agent.tools.suite.machine import activations_json
from tracr_agent.tools.suite.base import ToolContext, Tokens, tool
from tracr_agent.tools.errors import ToolError
from tracr_agent.tools.protocol.values import fmt_num, fmt_seq, shows_nonzero, table
from tracr_agent.tools.suite.residual import check_layer, pos_labels

FULL_TABLE_COLS = 12
TOP_K = 8


# -- hook names -----------------------------------------------------------------------------


def valid_hooks(subject, ctx: ToolContext) -> list[str]:
    names = standard_hooks(subject.n_layers)
    return names + ["logits"] if ctx.reveals_output else names


def resolve_hook(subject, ctx: ToolContext, hook: str, *, allow_logits: bool = True) -> str:
    """A hook name exactly as list_hooks prints it; otherwise an error naming the closest ones."""
    name = hook.strip()
    valid = valid_hooks(subject, ctx)
    if name == "logits":
        if not ctx.reveals_output:
            raise ToolError("logits are not available in this session (decoded outputs are hidden); "
                            f"read the residual stream instead, e.g. {final_resid(subject.n_layers)}")
        if allow_logits:
            return name
        raise ToolError("logits cannot be used here; name a hook inside the model (see list_hooks)")
    if name in valid:
        return name
    m = re.match(r"^blocks\.(\d+)\.(.+)$", name)
    if m and int(m.group(1)) >= subject.n_layers:
        raise ToolError(f"layer {m.group(1)} is out of range in {name!r}: layers are 0..{subject.n_layers - 1}")
    close = difflib.get_close_matches(name, valid, n=3, cutoff=0.6)
    hint = f" Did you mean {' or '.join(close)}?" if close else ""
    raise ToolError(f"unknown hook {name!r}.{hint} Hook names look like hook_embed, blocks.0.attn.hook_pattern, "
                    "blocks.0.hook_resid_post (call list_hooks for all of them)")


# -- formatting -----------------------------------------------------------------------------


def compress_ranges(idx: list[int], prefix: str = "") -> str:
    out, i = [], 0
    while i < len(idx):
        j = i
        while j + 1 < len(idx) and idx[j + 1] == idx[j] + 1:
            j += 1
        out.append(f"{prefix}{idx[i]}" if i == j else f"{prefix}{idx[i]}-{prefix}{idx[j]}")
        i = j + 1
    return ", ".join(out)


def matrix_text(row_labels: list[str], col_labels: list[str], rows: list[list[float]], corner: str = "",
                sparse_names: bool = False) -> str:
    """The whole table when small; otherwise its non-zero columns, or the top entries per row."""
    n_cols = len(col_labels)
    nz = [j for j in range(n_cols) if any(shows_nonzero(r[j]) for r in rows)]
    if sparse_names:
        # Residual-stream rows: list the non-zero named dimensions per position.
        lines = []
        w0 = max(len(l) for l in row_labels)
        for label, r in zip(row_labels, rows):
            ent = [(j, r[j]) for j in range(n_cols) if shows_nonzero(r[j])]
            more = ""
            if len(ent) > 2 * TOP_K:
                top = sorted(ent, key=lambda e: (-abs(e[1]), e[0]))[: 2 * TOP_K]
                more = f"  (+{len(ent) - len(top)} smaller)"
                ent = sorted(top)
            body = " ".join(f"{col_labels[j]}={fmt_num(x)}" for j, x in ent) or "all 0"
            lines.append(f"{label.ljust(w0)}  {body}{more}")
        return "\n".join(lines)
    if n_cols <= FULL_TABLE_COLS:
        return table(row_labels, col_labels, rows, corner)
    if not nz:
        return f"all {len(rows)}x{n_cols} entries are 0"
    head = f"non-zero columns: {len(nz)} of {n_cols} ({compress_ranges(nz, col_labels[0].rstrip('0123456789'))})"
    if len(nz) <= FULL_TABLE_COLS:
        return head + "; the others are 0\n" + table(row_labels, [col_labels[j] for j in nz],
                                                       [[r[j] for j in nz] for r in rows], corner)
    lines = [head + f"; largest {TOP_K} entries per position:"]
    w0 = max(len(l) for l in row_labels)
    for label, r in zip(row_labels, rows):
        ent = sorted(((j, r[j]) for j in nz if shows_nonzero(r[j])), key=lambda e: (-abs(e[1]), e[0]))
        body = " ".join(f"{col_labels[j]}={fmt_num(x)}" for j, x in ent[:TOP_K]) or "all 0"
        more = f"  (+{len(ent) - TOP_K} more non-zero)" if len(ent) > TOP_K else ""
        lines.append(f"{label.ljust(w0)}  {body}{more}")
    return "\n".join(lines)


# -- get_activations ------------------------------------------------------------------------


class ActArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    hook: str = Field(description="A hook name exactly as list_hooks prints it, e.g. 'blocks.0.attn.hook_pattern'.")
    input: Tokens = Field(description="One input sequence (tokens from the vocab, BOS excluded); with format 'json', "
                                       "also a list of such sequences.")
    head: Optional[int] = Field(None, description="Only this head (attention hooks with a head dimension).")
    positions: Optional[list[int]] = Field(
        None, description="Only these positions (0 is BOS, the input is at 1..n); for attention tables, these queries.")
    positions_per_input: Optional[list[list[int]]] = Field(
        None, description="With format 'json' and a list of inputs, instead of positions: one list of positions "
                          "for each input, in order.")
    format: Literal["text", "json"] = Field(
        "text", description="'json': machine-readable sparse numbers; then input may be a list of inputs and hook "
                            "several hooks separated by commas.")


def check_positions(positions: Optional[list[int]], n_pos: int) -> list[int]:
    if positions is None:
        return list(range(n_pos))
    if not positions:
        raise ToolError(f"positions is empty: give some of 0..{n_pos - 1} (0 is BOS), or leave it out for all")
    bad = [p for p in positions if not 0 <= p < n_pos]
    if bad:
        raise ToolError(f"position {bad[0]} is out of range: this input has positions 0..{n_pos - 1} (0 is BOS)")
    return sorted(set(positions))


def check_head(subject, head: int) -> int:
    if not 0 <= head < subject.n_heads:
        raise ToolError(f"head {head} is out of range: heads are 0..{subject.n_heads - 1}")
    return head


def _n(k: int, word: str) -> str:
    return f"{k} {word}" + ("" if k == 1 else "s")


def _empty_note(subject, layer: int, head: int) -> str:
    return "" if (layer, head) in subject.nonempty_heads else " (empty head: all-zero weights)"


@tool("get_activations", ActArgs)
def get_activations(subject, ctx: ToolContext, args: ActArgs) -> str:
    """Read one hook's activation for one input. Rows are positions labelled with their token ('0 BOS', '1 a', …). Residual-stream hooks list their non-zero dimensions by residual variable name; large tensors are summarized (non-zero columns, largest entries per position)."""
    if args.format == "json":
        return activations_json(subject, ctx, args, resolve_hook, hook_kind, check_positions)
    if args.positions_per_input is not None:
        raise ToolError("positions_per_input is for format 'json' with a list of inputs; here give positions, "
                        "e.g. [0, 2]")
    hook = resolve_hook(subject, ctx, args.hook)
    tokens = subject.check_input(args.input)
    kind = hook_kind(hook)
    layer = hook_layer(hook)
    if args.head is not None and kind not in ("per_head", "head_table"):
        raise ToolError("head= applies only to attention hooks with a head dimension "
                        "(attn.hook_q, hook_k, hook_v, hook_z, hook_attn_scores, hook_pattern); leave it out here")
    heads = [check_head(subject, args.head)] if args.head is not None else list(range(subject.n_heads))
    n_pos = len(tokens) + 1
    positions = check_positions(args.positions, n_pos)
    x = subject.activations(tokens)[hook]
    labels = pos_labels(subject, tokens)
    rows_l = [labels[p] for p in positions]
    header = f"{hook} for input {fmt_seq(tokens)}"
    if kind == "resid":
        data = x[positions].tolist()
        return (f"{header}: shape [{n_pos} positions, {subject.d_model} dims]; "
                "non-zero dimensions per position (all others 0):\n"
                + matrix_text(rows_l, subject.residual_labels, data, sparse_names=True))
    if kind == "logits":
        cols = ([str(v) for v in subject.output_values] if subject.output_kind == "categorical"
                else [f"out{j}" for j in range(x.shape[1])])
        return (f"{header}: shape [{n_pos} positions, {x.shape[1]} outputs]\n"
                + matrix_text(rows_l, cols, x[positions].tolist(), corner="pos"))
    if kind == "mlp":
        note = "" if layer in subject.nonempty_mlps else " (this layer's MLP is empty: all-zero weights)"
        return (f"{header}: shape [{n_pos} positions, {subject.d_mlp} neurons]{note}\n"
                + matrix_text(rows_l, [f"n{j}" for j in range(x.shape[1])], x[positions].tolist(), corner="pos"))
    parts = []
    if kind == "per_head":
        parts.append(f"{header}: shape [{n_pos} positions, {_n(subject.n_heads, 'head')}, {subject.d_head} dims]")
        for h in heads:
            parts.append(f"head {h}{_empty_note(subject, layer, h)}:")
            parts.append(matrix_text(rows_l, [f"d{j}" for j in range(x.shape[2])], x[positions, h].tolist(),
                                     corner="pos"))
        return "\n".join(parts)
    # head_table: [H, query, key]
    parts.append(f"{header}: shape [{_n(subject.n_heads, 'head')}, {n_pos} queries, {n_pos} keys]; rows are queries")
    for h in heads:
        parts.append(f"head {h}{_empty_note(subject, layer, h)}:")
        parts.append(matrix_text(rows_l, labels, x[h][positions].tolist(), corner="query\\key"))
    return "\n".join(parts)


# -- attention_pattern ----------------------------------------------------------------------


class PatternArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    layer: int = Field(description="Layer index, 0..n_layers-1.")
    head: int = Field(description="Head index, 0..n_heads-1.")
    input: Tokens = Field(description="One input sequence (tokens from the vocab, BOS excluded).")


@tool("attention_pattern", PatternArgs)
def attention_pattern(subject, ctx: ToolContext, args: PatternArgs) -> str:
    """One head's attention pattern on one input: the query x key table (rows are queries, 0 is BOS) and a line naming every rule the pattern fits on this input (e.g. 'query i attends to key i-1'); when several fit, it says so, and other inputs tell them apart."""
    layer = check_layer(subject, args.layer)
    head = check_head(subject, args.head)
    tokens = subject.check_input(args.input)
    if (layer, head) not in subject.nonempty_heads:
        nonempty = ", ".join(f"{l}.{h}" for l, h in subject.nonempty_heads) or "none"
        return (f"head {layer}.{head} is empty (all-zero weights): it writes nothing, whatever it attends to. "
                f"Non-empty heads: {nonempty}")
    P = subject.activations(tokens)[attn_pattern(layer)][head].tolist()
    labels = pos_labels(subject, tokens)
    toks = [subject.bos, *tokens]
    return "\n".join([
        f"head {layer}.{head} on {fmt_seq(tokens)}: {describe_pattern(P, toks)} (queries 1..{len(tokens)})",
        table(labels, labels, P, corner="query\\key"),
    ])
