"""ablate and patch: causal interventions on heads, MLPs and hooks.

Both run the model with TransformerLens forward hooks. In a session that
shows outputs they report decoded outputs; otherwise (whitebox) they report
how the final residual stream changed, decoded by variable, never naming
which variable the unembed reads.
"""

from __future__ import annotations

import contextlib
import random
import re
import warnings
import weakref
from dataclasses import dataclass
from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field

from tracr_agent.tools.protocol.hooks import attn_out, attn_z, mlp_out
from tracr_agent.tools.subjects.compare import value_equal
from tracr_agent.tools.subjects.rawview import is_raw
from tracr_agent.tools.suite.activations import check_head, resolve_hook
from tracr_agent.tools.suite.base import ToolContext, TokenLists, Tokens, check_inputs, tool
from tracr_agent.tools.errors import ToolError
from tracr_agent.tools.protocol.values import fmt_num, fmt_seq
from tracr_agent.tools.suite.outputs import format_output
from tracr_agent.tools.suite.residual import check_layer, decode_value, last_resid_hook, pos_labels, variables

MAX_INPUTS = 16
MAX_COMPONENTS = 16
MEAN_SAMPLES = 64

_MEANS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class Component:
    name: str
    hook: str
    layer: Optional[int] = None
    head: Optional[int] = None


def _component_help(subject) -> str:
    heads = ", ".join(f"{l}.{h}" for l, h in subject.nonempty_heads)
    mlps = ", ".join(f"{l}.mlp" for l in subject.nonempty_mlps)
    return (f"use 'L.H' for a head (e.g. '0.0'), 'L.mlp' for an MLP or 'L.attn' for a whole attention layer; "
            f"non-empty here: {', '.join(x for x in (heads, mlps) if x) or 'none'}")


def parse_component(subject, ctx: ToolContext, text, allow_hooks: bool = False) -> Component:
    if not isinstance(text, str):
        raise ToolError(f"component {text!r} must be a string; {_component_help(subject)}")
    t = text.strip()
    m = re.fullmatch(r"(?:blocks\.)?(\d+)\.(?:(\d+)|(mlp)|(attn))", t)
    if m:
        layer = check_layer(subject, int(m.group(1)))
        if m.group(2) is not None:
            head = check_head(subject, int(m.group(2)))
            return Component(f"{layer}.{head}", attn_z(layer), layer, head)
        if m.group(3):
            return Component(f"{layer}.mlp", mlp_out(layer), layer)
        return Component(f"{layer}.attn", attn_out(layer), layer)
    if allow_hooks and ("hook" in t or t == "logits"):
        hook = resolve_hook(subject, ctx, t, allow_logits=False)
        if hook.endswith("attn.hook_attn_scores"):
            raise ToolError("attention scores cannot be patched here (the engine computes the pattern from q and k "
                            f"itself); patch {hook.replace('hook_attn_scores', 'hook_pattern')} instead")
        return Component(hook, hook)
    more = "; or a hook name as list_hooks prints it" if allow_hooks else ""
    raise ToolError(f"component {t!r} not understood: {_component_help(subject)}{more}")


def _empty(subject, c: Component) -> bool:
    if c.head is not None:
        return (c.layer, c.head) not in subject.nonempty_heads
    if c.name.endswith(".mlp"):
        return c.layer not in subject.nonempty_mlps
    if c.name.endswith(".attn"):
        return not any(l == c.layer for l, _ in subject.nonempty_heads)
    return False


def _lock(subject):
    return getattr(subject, "lock", None) or contextlib.nullcontext()


def _hooked_batch(subject, inputs: list[list], hooks: list) -> list[tuple]:
    """(logits [T, V], final residual [T, d_model]) for same-size inputs run with extra forward hooks."""
    import torch

    final = last_resid_hook(subject)
    captured = []

    def capture(t, hook):
        captured.append(t.detach().clone())

    ids = torch.tensor([subject.token_ids(x) for x in inputs])
    with torch.no_grad(), _lock(subject), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logits = subject.bridge.run_with_hooks(ids, fwd_hooks=[*hooks, (final, capture)])
    resid = captured[-1]
    return [(logits[i], resid[i]) for i in range(len(inputs))]


def mean_activations(subject, n_tokens: int, seed: int = 0) -> dict:
    """Mean of every head output (hook_z), attention output and MLP output over a set of
    MEAN_SAMPLES random inputs with n_tokens tokens drawn with `seed` (the episode's), per position."""
    import torch

    per_subject = _MEANS.setdefault(subject, {})
    if (n_tokens, seed) in per_subject:
        return per_subject[n_tokens, seed]
    rng = random.Random(seed)
    batch = [[rng.choice(subject.vocab) for _ in range(n_tokens)] for _ in range(MEAN_SAMPLES)]
    names = {hook(l) for l in range(subject.n_layers) for hook in (attn_z, attn_out, mlp_out)}
    with torch.no_grad(), _lock(subject):
        _, cache = subject.bridge.run_with_cache(torch.tensor([subject.token_ids(x) for x in batch]),
                                                 names_filter=lambda n: n in names)
    means = {n: cache[n].mean(0).detach().clone() for n in names}
    per_subject[n_tokens, seed] = means
    return means


def _replace_hook(c: Component, value):
    """A forward hook setting component c to `value` (no batch dim; a head's value is [T, d_head])."""

    def fn(t, hook):
        t = t.clone()
        if c.head is not None:
            t[:, :, c.head, :] = value
        else:
            t[...] = value
        return t

    return fn


def _outputs_differ(subject, a, b) -> bool:
    return not value_equal(a, b, subject.output_kind == "numerical")


def _fmt_out(x) -> str:
    return "-" if x is None else (fmt_num(x, 4) if isinstance(x, float) else str(x))


def _resid_diff_lines(subject, tokens, before, after, reference=None, ref_name: str = "") -> list[str]:
    """Per position, the final residual's change and the variables whose decoded value changed."""
    import torch

    norms = torch.linalg.norm(after - before, dim=-1).tolist()
    labels = pos_labels(subject, tokens)
    if all(round(x, 3) == 0 for x in norms):
        return ["  no change in the final residual stream"]
    lines = ["  final residual |change| per position: " + " ".join(f"{p}:{fmt_num(x)}" for p, x in enumerate(norms))]
    b_rows, a_rows = before.tolist(), after.tolist()
    r_rows = reference.tolist() if reference is not None else None
    w0 = max(len(l) for l in labels)
    for p, label in enumerate(labels):
        changes = []
        for var in variables(subject):
            vb, va = decode_value(var, b_rows[p]), decode_value(var, a_rows[p])
            if vb != va:
                ref = f" [{ref_name} {decode_value(var, r_rows[p])}]" if r_rows is not None else ""
                changes.append(f"{var.name}: {vb} -> {va}{ref}")
        if changes:
            lines.append(f"  {label.ljust(w0)}  " + ", ".join(changes))
    return lines


# -- ablate ---------------------------------------------------------------------------------


class AblateArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    components: list[str] = Field(
        description="Components to knock out together: 'L.H' a head (e.g. '0.1'), 'L.mlp' an MLP, 'L.attn' a whole attention layer.")
    inputs: TokenLists = Field(description="Input sequences (tokens from the vocab, BOS excluded), at most 16.")
    mode: Literal["zero", "mean"] = Field(
        "zero", description="'zero' sets the output to 0; 'mean' to its average over 64 fixed random inputs.")


@tool("ablate", AblateArgs)
def ablate(subject, ctx: ToolContext, args: AblateArgs) -> str:
    """Knock out components together and see what changes: each 'L.H' (a head's slice of attn.hook_z), 'L.mlp' (an MLP's output) or 'L.attn' (an attention layer's output) is set to zero or to its mean over 64 random inputs (the same ones throughout a session). Per input, reports which positions change: the decoded outputs before and after when this session shows outputs, otherwise the variables of the final residual stream."""
    if not args.components:
        raise ToolError(f"give at least one component; {_component_help(subject)}")
    if len(args.components) > MAX_COMPONENTS:
        raise ToolError(f"at most {MAX_COMPONENTS} components per call (got {len(args.components)})")
    comps = []
    for text in args.components:
        c = parse_component(subject, ctx, text)
        if c not in comps:
            comps.append(c)
    inputs = check_inputs(subject, args.inputs, MAX_INPUTS)
    by_size: dict[int, list[int]] = {}
    for i, x in enumerate(inputs):
        by_size.setdefault(len(x), []).append(i)
    results: list = [None] * len(inputs)
    for size, idxs in sorted(by_size.items()):
        hooks = []
        for c in comps:
            if args.mode == "mean":
                value = mean_activations(subject, size, ctx.seed)[c.hook]
                value = value[:, c.head, :] if c.head is not None else value
            else:
                value = 0.0
            hooks.append((c.hook, _replace_hook(c, value)))
        for i, res in zip(idxs, _hooked_batch(subject, [inputs[i] for i in idxs], hooks)):
            results[i] = res
    names = ", ".join(c.name for c in comps)
    lines = [f"{args.mode}-ablating {names}:"]
    empty = [c.name for c in comps if _empty(subject, c)]
    if empty:
        lines.append(f"(note: {', '.join(empty)} {'is' if len(empty) == 1 else 'are'} empty (all-zero weights), "
                     "so ablating it changes nothing by itself)")
    for x, (logits, resid) in zip(inputs, results):
        acts = subject.activations(x)
        if ctx.reveals_output:
            before, after = subject.decode_logits(acts["logits"]), subject.decode_logits(logits)
            changed = [str(p + 1) for p, (b, a) in enumerate(zip(before, after)) if _outputs_differ(subject, b, a)]
            verdict = f"changed at positions {', '.join(changed)}" if changed else "unchanged"
            lines.append(f"{fmt_seq(x)}: before {format_output(subject, before)}  after "
                         f"{format_output(subject, after)}  {verdict}")
        else:
            lines.append(f"{fmt_seq(x)}:")
            lines += _resid_diff_lines(subject, x, acts[last_resid_hook(subject)], resid)
    return "\n".join(lines)


# -- patch ----------------------------------------------------------------------------------


class PatchArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    clean_input: Tokens = Field(description="The input whose activation is copied (tokens, BOS excluded).")
    corrupt_input: Tokens = Field(description="The input the model runs on; same number of tokens as clean_input.")
    component: str = Field(
        description="'L.H' a head (its attn.hook_z slice), 'L.mlp' an MLP's output, 'L.attn' an attention layer's "
        "output, or any hook name from list_hooks (e.g. 'blocks.1.hook_resid_post').")


@tool("patch", PatchArgs)
def patch(subject, ctx: ToolContext, args: PatchArgs) -> str:
    """Activation patching: run the model on corrupt_input with one component's activation (a head, an MLP, an attention layer or any hook) copied from the run on clean_input (same number of tokens), and see where the result moves: decoded outputs when this session shows outputs, otherwise the variables of the final residual stream."""
    c = parse_component(subject, ctx, args.component, allow_hooks=True)
    clean = subject.check_input(args.clean_input)
    corrupt = subject.check_input(args.corrupt_input)
    if len(clean) != len(corrupt):
        raise ToolError(f"clean_input and corrupt_input must have the same number of tokens "
                        f"(got {len(clean)} and {len(corrupt)}): activations are patched position by position")
    clean_acts, corrupt_acts = subject.activations(clean), subject.activations(corrupt)
    value = clean_acts[c.hook]
    if c.head is not None:
        value = value[:, c.head, :]
    logits, resid = _hooked_batch(subject, [corrupt], [(c.hook, _replace_hook(c, value))])[0]
    head = f"corrupt run with {c.name} taken from the clean run"
    note = f" (note: {c.name} is empty (all-zero weights))" if _empty(subject, c) else ""
    if ctx.reveals_output:
        out_clean = subject.decode_logits(clean_acts["logits"])
        out_corrupt = subject.decode_logits(corrupt_acts["logits"])
        out_patched = subject.decode_logits(logits)
        diff = [f"{p + 1} ({_fmt_out(b)} -> {_fmt_out(a)})"
                for p, (b, a) in enumerate(zip(out_corrupt, out_patched)) if _outputs_differ(subject, b, a)]
        same_clean = not any(_outputs_differ(subject, a, b) for a, b in zip(out_patched, out_clean))
        lines = [
            f"clean   {fmt_seq(clean)} -> {format_output(subject, out_clean)}",
            f"corrupt {fmt_seq(corrupt)} -> {format_output(subject, out_corrupt)}",
            f"patched ({head}) -> {format_output(subject, out_patched)}{note}",
        ]
        if diff:
            lines.append("patched differs from corrupt at positions " + ", ".join(diff)
                         + ("; it now equals the clean output" if same_clean else ""))
        else:
            lines.append("patched equals corrupt: no effect on the output")
        return "\n".join(lines)
    final = last_resid_hook(subject)
    lines = [f"clean {fmt_seq(clean)}, corrupt {fmt_seq(corrupt)}; {head}{note}",
             f"final residual, patched vs corrupt ({'dims' if is_raw(subject) else 'variables'}: "
             "corrupt -> patched [clean value]):"]
    lines += _resid_diff_lines(subject, corrupt, corrupt_acts[final], resid, clean_acts[final], "clean")
    return "\n".join(lines)
