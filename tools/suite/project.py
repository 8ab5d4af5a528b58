"""project: one input's activations projected onto a component's write subspace or a probe's directions.

Onto a component (`component`: 'L.H', 'L.mlp', 'L.attn'): the hook's vectors (a residual-basis
hook; default the final residual stream) are written in the coordinates of the subspace
component_writes finds for it (on the same default sample), and each position is decoded as the
distinct write its projection is (w1, w2, … as component_writes names them), '-' when nothing lies
in the subspace, '?' when no distinct write is near. Onto a probe (`probe`: the arguments of a probe
call): the probe is fitted as `probe` fits it (keeping the directions it needed) and applied to the
hook's vectors (default the probe's own hook; another hook of the same width reads the same
directions elsewhere): a score per value (or the value, for a numerical property) and its reading.
Both are printed as a table (a heatmap in people's views) and a decode.
"""

from __future__ import annotations

from typing import Annotated, Optional

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from tracr_agent.tools.errors import ToolError
from tracr_agent.tools.protocol.directions import MAX_COLUMNS, Projection, project_text, same_write
from tracr_agent.tools.protocol.hooks import final_resid, hook_kind
from tracr_agent.tools.protocol.values import fmt_num
from tracr_agent.tools.suite.activations import resolve_hook
from tracr_agent.tools.suite.base import ToolContext, Tokens, tool
from tracr_agent.tools.suite.probe import READS_AT, ProbeArgs, fit_probe
from tracr_agent.tools.suite.residual import pos_labels
from tracr_agent.tools.suite.sample import DEFAULT_SAMPLES
from tracr_agent.tools.suite.writes import component_name, write_subspace


def _inline_schema(model) -> dict:
    """`model`'s JSON schema written out in place, optional: a tool schema holds no `$defs`/`$ref` (Gemini's
    function declarations refuse them)."""
    schema = model.model_json_schema()
    assert "$defs" not in schema, "a nested model inside an inlined one"
    schema.pop("title", None)
    return {"anyOf": [schema, {"type": "null"}], "default": None}


class ProjectArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    input: Tokens = Field(description="One input sequence (tokens from the vocab, BOS excluded).")
    component: Optional[str] = Field(None, description="Project onto the write subspace of this head 'L.H', MLP "
                                                       "'L.mlp' or attention layer 'L.attn' (as component_writes "
                                                       "finds it).")
    probe: Annotated[Optional[ProbeArgs], WithJsonSchema(_inline_schema(ProbeArgs))] = Field(None, description="Or project onto a probe's directions: the arguments of a "
                                                         "probe call, e.g. {\"hook\": \"blocks.1.hook_resid_post\", "
                                                         "\"property\": \"token\"}.")
    hook: Optional[str] = Field(None, description="The hook whose vectors are projected; default the final residual "
                                                  "stream (component) or the probe's hook.")
    samples: int = Field(DEFAULT_SAMPLES, ge=20, le=2000, description="component: the sample its write subspace is "
                                                                      "found on (as component_writes).")


def _vectors(subject, hook: str, tokens: list):
    """[position, features] of `hook` on one input (per-head hooks with their heads side by side)."""
    import numpy as np

    return np.asarray(subject.activations(tokens)[hook].reshape(len(tokens) + 1, -1), dtype=np.float64)


def _onto_component(subject, ctx: ToolContext, args: ProjectArgs, tokens: list) -> Projection:
    sub = write_subspace(subject, ctx, args.component, args.samples)
    hook = resolve_hook(subject, ctx, args.hook or final_resid(subject.n_layers), allow_logits=False)
    if hook_kind(hook) != "resid":
        raise ToolError(f"{hook} is not in the residual basis: project a component's writes from a residual hook "
                        "(hook_embed, blocks.L.hook_resid_pre/mid/post, blocks.L.hook_attn_out, blocks.L.hook_mlp_out)")
    name = component_name(sub.component)
    if not sub.rank:
        raise ToolError(f"{name} writes nothing on the sample: there is no subspace to project onto")
    x = _vectors(subject, hook, tokens)
    dims = min(sub.rank, MAX_COLUMNS)
    onto = (f"the write subspace of {name} ({sub.rank} direction{'s' if sub.rank > 1 else ''}, from its writes on "
            f"{len(sub.inputs)} inputs)" + (f"; the first {dims} shown" if dims < sub.rank else ""))
    return Projection(
        hook, tokens, onto, [f"c{j + 1}" for j in range(dims)], pos_labels(subject, tokens), (x @ sub.basis[:dims].T).tolist(),
        sub.component.name, [sub.nearest(row) for row in x],
        f"nearest write of {name} at each position ('-': nothing in its subspace; '?': none of its writes; "
        f"{same_write(sub.rank)})")


def _onto_probe(subject, ctx: ToolContext, args: ProjectArgs, tokens: list) -> Projection:
    fit = fit_probe(subject, ctx, args.probe)
    if fit.single is not None:
        raise ToolError(f"the probe's property has one value on every sampled position ({fit.single!r}): it has no "
                        "direction to project onto")
    hook = resolve_hook(subject, ctx, args.hook or fit.hook)
    x = _vectors(subject, hook, tokens)
    if x.shape[1] != fit.n_features:
        raise ToolError(f"{hook} has {x.shape[1]} features per position and the probe's hook {fit.hook} "
                        f"{fit.n_features}: project a hook of the same width (the residual hooks share one)")
    scores = x @ fit.W + fit.b
    what = f"{len(fit.classes)} values" if fit.categorical else "numerical"
    quality = (f"held-out accuracy {100 * fit.full:.1f}%" if fit.categorical else f"held-out R² {fit.full:.3f}")
    onto = (f"the probe of {args.probe.property.strip()} at {fit.hook} ({fit.where}; {what}, {fit.rank} "
            f"direction{'s' if fit.rank > 1 else ''}; {quality})")
    if fit.categorical:
        decoded = [str(fit.classes[int(row.argmax())]) if row.max() >= READS_AT else "-" for row in scores]
        legend = f"the probe's reading at each position ('-': no value scores {READS_AT:g} or more)"
        columns = [str(v) for v in fit.classes]
    else:
        decoded = [fmt_num(row[0]) for row in scores]
        legend = "the probe's reading at each position"
        columns = ["value"]
    return Projection(hook, tokens, onto, columns, pos_labels(subject, tokens), scores.tolist(), "probe", decoded,
                      legend)


@tool("project", ProjectArgs)
def project(subject, ctx: ToolContext, args: ProjectArgs) -> str:
    """Project one input's activations onto a component's write subspace (as component_writes finds it) or a probe's directions (the arguments of a probe call): coordinates per position, and which write or value each position holds."""
    if (args.component is None) == (args.probe is None):
        raise ToolError("give either component (e.g. '1.0' or '2.mlp') or probe (the arguments of a probe call), "
                        "not both and not neither")
    tokens = subject.check_input(args.input)
    how = _onto_component if args.component is not None else _onto_probe
    return project_text(how(subject, ctx, args, tokens))
