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

from tracr_agent.tools.protocol.hooks import attn_pattern, final_resid, hook_kind, hook_layer, standard_hooks
from tracr_agent.tools.suite.machine import activations_json
from tracr_agent.tools.suite.base import ToolContext, Tokens, tool
from tracr_agent.tools.errors import ToolError
from tracr_agent.tools.protocol.values import fmt_num, fmt_seq, shows_nonzero
from tracr_agent.tools.suite.residual import check_layer, pos_labels

FULL_TABLE_COLS = 12
TOP_K = 8
ONE_HOT = 0.9


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


def table(row_labels: list[str], col_labels: list[str], rows: list[list[float]], corner: str = "") -> str:
    """An aligned text table of rounded numbers."""
    cells = [[fmt_num(x) for x in r] for r in rows]
    w0 = max(len(corner), *(len(l) for l in row_labels))
    widths = [max(len(c), *(len(r[j]) for r in cells)) for j, c in enumerate(col_labels)]
    head = corner.ljust(w0) + "  " + "  ".join(c.rjust(w) for c, w in zip(col_labels, widths))
    body = [l.ljust(w0) + "  " + "  ".join(x.rjust(w) for x, w in zip(r, widths))
            for l, r in zip(row_labels, cells)]
    return "\n".join([head.rstrip(), *(b.rstrip() for b in body)])


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
    format: Literal["text", "json"] = Field(
        "text", description="'json': machine-readable sparse numbers; then input may be a list of inputs and hook "
                            "several hooks separated by commas (positions is ignored).")


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
        return activations_json(subject, ctx, args, resolve_hook, hook_kind)
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


def _key(j: int) -> str:
    return "BOS" if j == 0 else str(j)


def _keyset(s) -> str:
    return "{" + ",".join(_key(j) for j in sorted(s)) + "}" if s else "BOS only"


def _describe_map(a: dict[int, int], n: int) -> str:
    """A one-hot pattern: query q attends only to key a[q] (0 = BOS)."""
    qs = range(1, n + 1)
    if all(a[q] == 0 for q in qs):
        return "all queries attend to BOS"
    if all(a[q] == q for q in qs):
        return "each query attends to its own position (key i)"
    if n >= 2 and all(a[q] == n + 1 - q for q in qs):
        return f"query i attends to key n+1-i (anti-diagonal; n = {n} here)"
    for d in sorted(range(-(n - 1), n), key=lambda d: (abs(d), d)):
        if d != 0 and all(a[q] == (q + d if 1 <= q + d <= n else 0) for q in qs):
            rel = f"i{d:+d}"
            name = {-1: " (the previous position)", 1: " (the following position)"}.get(d, "")
            tail = "; queries with no such key attend to BOS" if any(a[q] == 0 for q in qs) else ""
            return f"query i attends to key {rel}{name}{tail}"
    for d in sorted(range(1, n), key=lambda d: (min(d, n - d), d > n - d)):
        if all(a[q] == (q - 1 + d) % n + 1 for q in qs):
            if d <= n - d:
                return f"query i attends to key i+{d}, wrapping around past the end (query {n} -> key {d})"
            return (f"query i attends to key i-{n - d}, wrapping around past the start "
                    f"(query 1 -> key {a[1]})")
    if n >= 2 and len({a[q] for q in qs}) == 1:
        return f"all queries attend to key {_key(a[1])}"
    pairs = ", ".join(f"{q}->{_key(a[q])}" for q in qs)
    if sorted(a[q] for q in qs) == list(qs):
        return f"a permutation, query->key: {pairs}"
    return f"one key per query, query->key: {pairs}"


def _relations(toks: list, n: int):
    """Candidate key sets per query, in the order they are tried: (description, {q: set of keys})."""
    qs = range(1, n + 1)
    ks = range(1, n + 1)
    yield "all keys", {q: set(ks) for q in qs}
    yield "keys <= i (prefix)", {q: set(range(1, q + 1)) for q in qs}
    yield "keys >= i (suffix)", {q: set(range(q, n + 1)) for q in qs}
    yield "keys < i", {q: set(range(1, q)) for q in qs}
    yield "keys > i", {q: set(range(q + 1, n + 1)) for q in qs}
    yield "the keys holding the same token as the query", {q: {k for k in ks if toks[k] == toks[q]} for q in qs}
    yield ("the keys <= i holding the same token as the query",
           {q: {k for k in ks if k <= q and toks[k] == toks[q]} for q in qs})
    yield ("the keys < i holding the same token as the query",
           {q: {k for k in ks if k < q and toks[k] == toks[q]} for q in qs})
    yield "the keys holding a different token from the query", {q: {k for k in ks if toks[k] != toks[q]} for q in qs}
    try:
        for op, f in (("<", lambda a, b: a < b), ("<=", lambda a, b: a <= b),
                      (">", lambda a, b: a > b), (">=", lambda a, b: a >= b)):
            sets = {q: {k for k in ks if f(toks[k], toks[q])} for q in qs}
            yield f"the keys whose token is {op} the query's token", sets
        yield ("the keys whose (token, position) is < the query's (smaller token, ties broken by position)",
               {q: {k for k in ks if (toks[k], k) < (toks[q], q)} for q in qs})
        yield ("the keys whose (token, position) is > the query's (larger token, ties broken by position)",
               {q: {k for k in ks if (toks[k], k) > (toks[q], q)} for q in qs})
    except TypeError:  # tokens of mixed types do not compare
        return
    for t in sorted(set(toks[1:]), key=str):
        yield f"the keys holding token {t}", {q: {k for k in ks if toks[k] == t} for q in qs}


def describe_pattern(P: list[list[float]], toks: list) -> str:
    """A one-line plain description of an attention pattern (rows = queries, BOS at 0)."""
    n = len(P) - 1
    if n == 0:
        return "only BOS is present"
    qs = range(1, n + 1)
    if all(max(P[q]) >= ONE_HOT for q in qs):
        return _describe_map({q: max(range(n + 1), key=lambda j: (P[q][j], -j)) for q in qs}, n)
    support: dict[int, set] = {}
    for q in qs:
        row, m = P[q], max(P[q])
        s = {j for j in range(n + 1) if row[j] >= 0.5 * m}
        inside = [row[j] for j in s]
        if sum(row) - sum(inside) > 0.1 or max(inside) > 1.25 * min(inside):
            support = {}
            break
        support[q] = s
    if not support:
        tops = []
        for q in qs:
            ent = sorted(((j, P[q][j]) for j in range(n + 1) if P[q][j] >= 0.1), key=lambda e: (-e[1], e[0]))
            tops.append(f"{q}->{{" + ", ".join(f"{_key(j)}:{fmt_num(x, 2)}" for j, x in ent) + "}")
        return "mixed weights; keys with weight >= 0.1 per query: " + ", ".join(tops)
    keys = {q: support[q] - {0} for q in qs}
    with_bos = [q for q in qs if 0 in support[q]]
    if all(not keys[q] for q in qs):
        return "all queries attend to BOS"
    if len(with_bos) == n:
        bos = "; BOS gets an equal share in every query's set"
    elif all(not keys[q] for q in with_bos):
        bos = "; queries with no such key attend to BOS" if with_bos else ""
    else:
        bos = None
    if bos is not None:
        for desc, sets in _relations(toks, n):
            if all(keys[q] == sets[q] for q in qs):
                return f"each query attends uniformly to {desc}{bos}"
    return "each query attends uniformly to a set of keys, query->keys: " + ", ".join(
        f"{q}->{_keyset(support[q])}" for q in qs)


@tool("attention_pattern", PatternArgs)
def attention_pattern(subject, ctx: ToolContext, args: PatternArgs) -> str:
    """One head's attention pattern on one input: the query x key table (rows are queries, 0 is BOS) and a one-line description of what it does (e.g. 'query i attends to key i-1')."""
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
