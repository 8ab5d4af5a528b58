"""decode_residual and embeddings: the residual stream read in tracr's (neutral) variable basis.

Tracr gives every residual dimension a meaning: `vK:value` is one value of a
categorical variable (one-hot), a bare `vK` is a numerical variable, `vK.sw`
a helper tracr adds to compute a selector width, and `tokens`, `indices`,
`one` are the input spaces. Decoding reads which value each variable holds at
each position. The helpers here are shared with the ablation tools.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from tracr_agent.tools.protocol.decode import decode_lines, fmt_vars
from tracr_agent.tools.protocol.hooks import final_resid, resid
from tracr_agent.tools.subjects.compare import DECODE_TOL, FLOAT_NOISE, nonzero, within
from tracr_agent.tools.subjects.rawview import is_raw
from tracr_agent.tools.suite.base import ToolContext, Tokens, tool
from tracr_agent.tools.errors import ToolError
from tracr_agent.tools.protocol.values import fmt_num, shows_nonzero

_KEEP_ORDER = ("tokens", "indices", "one")


@dataclass(frozen=True)
class Variable:
    name: str
    kind: str  # 'categorical' (dims name:value) or 'numerical' (one dim)
    dims: tuple[tuple[int, str], ...]  # (residual index, value text; '' for numerical)


def _order(name: str):
    if name in _KEEP_ORDER:
        return (0, _KEEP_ORDER.index(name), 0, name)
    m = re.match(r"v(\d+)(.*)$", name)
    if m:
        return (1, int(m.group(1)), len(m.group(2)), name)
    m = re.fullmatch(r"d(\d+)", name)  # an unlabelled dim (raw mode, imported models): numeric order
    if m:
        return (2, int(m.group(1)), 0, name)
    return (3, 0, 0, name)


def variables(subject) -> list[Variable]:
    """The residual stream's variables in a stable order: tokens, indices, one, v1, v1.sw, v2, …"""
    return _variables(tuple(subject.residual_labels))


def parse_labels(labels) -> list[Variable]:
    """The variables named by residual labels ('name:value' one-hot dims, bare 'name' numerical)."""
    return _variables(tuple(labels))


@lru_cache(maxsize=256)
def _variables(labels: tuple[str, ...]) -> list[Variable]:
    groups: dict[str, list[tuple[int, str]]] = {}
    kinds: dict[str, str] = {}
    for i, label in enumerate(labels):
        name, sep, value = label.partition(":")
        groups.setdefault(name, []).append((i, value))
        kinds[name] = "categorical" if sep else "numerical"
    return [Variable(n, kinds[n], tuple(groups[n])) for n in sorted(groups, key=_order)]


def decode_value(var: Variable, row) -> str:
    """One variable's value in one residual vector, as text ('-': no value)."""
    if var.kind == "numerical":
        return fmt_num(row[var.dims[0][0]])
    xs = [(v, float(row[i])) for i, v in var.dims]
    hot = [v for v, x in xs if within(x, 1, DECODE_TOL)]
    rest = [x for v, x in xs if v not in hot]
    if len(hot) == 1 and all(within(x, 0, DECODE_TOL) for x in rest):
        return hot[0]
    if not hot and all(within(x, 0, DECODE_TOL) for x in rest):
        return "-"
    # Not a clean one-hot (a patched or ablated run, or a mixing head): show the weights.
    return "?(" + ",".join(f"{v}:{fmt_num(x, 2)}" for v, x in xs if shows_nonzero(x, 2)) + ")"


def decode_row(subject, row, only_set: bool = False) -> list[tuple[str, str]]:
    """[(variable, value text)] for one residual vector; only_set drops variables with no nonzero dim."""
    out = []
    for var in variables(subject):
        if only_set and not any(nonzero(float(row[i]), FLOAT_NOISE) for i, _ in var.dims):
            continue
        out.append((var.name, decode_value(var, row)))
    return out


def pos_labels(subject, tokens) -> list[str]:
    """'0 BOS', '1 a', … for an input without BOS."""
    return [f"{i} {t}" for i, t in enumerate([subject.bos, *tokens])]


def check_layer(subject, layer: int) -> int:
    if not 0 <= layer < subject.n_layers:
        raise ToolError(f"layer {layer} is out of range: layers are 0..{subject.n_layers - 1}")
    return layer


def last_resid_hook(subject) -> str:
    return final_resid(subject.n_layers)


# -- decode_residual ------------------------------------------------------------------------


class DecodeArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    input: Tokens = Field(description="One input sequence (tokens from the vocab, BOS excluded).")
    layer: int = Field(description="Layer index, 0..n_layers-1.")
    where: Literal["pre", "mid", "post"] = Field(
        "post", description="'pre' = before the layer's attention, 'mid' = after attention, 'post' = after the MLP.")


@tool("decode_residual", DecodeArgs)
def decode_residual(subject, ctx: ToolContext, args: DecodeArgs) -> str:
    """Read the residual stream at one layer (blocks.L.hook_resid_pre/mid/post) in the model's variable basis: for each position, the value every variable holds ('-' = no value; categorical variables are one-hot, numerical ones are numbers)."""
    tokens = subject.check_input(args.input)
    layer = check_layer(subject, args.layer)
    hook = resid(layer, args.where)
    x = subject.activations(tokens)[hook]
    labels = pos_labels(subject, tokens)
    rows = x.tolist()
    if is_raw(subject):
        # No variables to decode by: the non-zero dims per position are what a researcher reads.
        pairs = [[(f"d{i}", fmt_num(v)) for i, v in enumerate(row) if shows_nonzero(v)] for row in rows]
        return "\n".join(decode_lines(hook, labels, pairs, raw=True))
    lines = decode_lines(hook, labels, [decode_row(subject, row) for row in rows], raw=False)
    if ctx.reveals_output and subject.output_variable:
        lines.append(f"the unembed reads {subject.output_variable}")
    return "\n".join(lines)


# -- embeddings -----------------------------------------------------------------------------


class NoArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")


@tool("embeddings", NoArgs)
def embeddings(subject, ctx: ToolContext, args: NoArgs) -> str:
    """How each input token and each position is written into the residual stream: the variables and values its embedding sets (everything else is 0)."""
    w_e = subject.weights["embed.W_E"].tolist()
    w_pos = subject.weights["pos_embed.W_pos"].tolist()
    vocab = subject.card.input_encoding.vocab
    lines = ["token embeddings (embed.W_E):"]
    for tok, row in zip(vocab, w_e):
        pairs = decode_row(subject, row, only_set=True)
        lines.append(f"token {tok} -> {fmt_vars(pairs) if pairs else 'nothing (zero vector)'}")
    lines.append(f"position embeddings (pos_embed.W_pos; BOS sits at position 0, the input at 1..{subject.max_seq_len}):")
    for p, row in enumerate(w_pos):
        pairs = decode_row(subject, row, only_set=True)
        lines.append(f"position {p} -> {fmt_vars(pairs) if pairs else 'nothing (zero vector)'}")
    return "\n".join(lines)
