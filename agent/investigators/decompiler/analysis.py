"""Putting it together: the layer each variable is written in, then each head and MLP explained in
the model's order, then the output variable; the result is a `Program`.

Stages: 0 = the embedding (input variables); 2L+1 = layer L's attention (non-zero in its
hook_attn_out); 2L+2 = layer L's MLP (non-zero in its hook_mlp_out).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from tracr_agent.agent.investigators.decompiler.heads import explain_head, selections
from tracr_agent.agent.investigators.decompiler.mlps import explain_mlp
from tracr_agent.agent.investigators.decompiler.observations import Observations
from tracr_agent.agent.investigators.decompiler.program import HeadStep, MlpStep, Program, python_names
from tracr_agent.agent.investigators.decompiler.variables import INPUT_VARS, Variable, read_all
from tracr_agent.tools.protocol.hooks import attn_out, attn_pattern, final_resid, mlp_out, resid
from tracr_agent.tools.subjects.compare import nonzero


def stage_hooks(info: dict) -> list[tuple[str, int]]:
    """(hook, stage) pairs: the embedding's residual stream, then what each non-empty attention layer
    and MLP adds to it (hook_attn_out / hook_mlp_out hold only the variables that component writes,
    so they are cheap to read). A variable is written at the first stage where it is non-zero."""
    hooks = [(resid(0, "pre"), 0)]
    for layer in range(info["n_layers"]):
        if any(l == layer for l, _ in info["heads"]):
            hooks.append((attn_out(layer), 2 * layer + 1))
        if layer in info["mlps"]:
            hooks.append((mlp_out(layer), 2 * layer + 2))
    return hooks



@dataclass
class Decompilation:
    program: Program
    variables: list[Variable]
    stages: dict[str, int] = field(default_factory=dict)


def _scanned(obs: Observations, info: dict):
    """(activation of a stage's hook [positions, d], stage) on every input scanned at every stage's hook."""
    hooks = stage_hooks(info)
    for acts in obs.acts.values():
        if all(h in acts for h, _ in hooks):
            yield from ((acts[h], i) for h, i in hooks)


def _first(stages: dict, key, stage: int) -> None:
    stages[key] = min(stages.get(key, stage), stage)


def write_stages(obs: Observations, variables: list[Variable], info: dict) -> dict[str, int]:
    """The first stage at which each variable holds a value on any scanned input."""
    stages: dict[str, int] = {}
    for resid, i in _scanned(obs, info):
        for v in variables:
            if any(v.written(row) for row in resid[1:]) or (v.name in INPUT_VARS and v.written(resid[0])):
                _first(stages, v.name, i)
    return stages


def dim_stages(obs: Observations, info: dict) -> dict[int, int]:
    """The first stage at which each residual dim is non-zero (any position) on a scanned input."""
    stages: dict[int, int] = {}
    for resid, i in _scanned(obs, info):
        for j in np.nonzero(np.any(nonzero(resid), axis=0))[0]:
            _first(stages, int(j), i)
    return stages


def decompile(info: dict, obs: Observations, variables: list[Variable]) -> Decompilation:
    n_layers = info["n_layers"]
    fh = final_resid(n_layers)
    stages = write_stages(obs, variables, info)
    probes = []  # (input, values at pos 0..n, {layer: pattern})
    for x in obs.inputs_with(fh):
        vals = read_all(variables, obs.get(x, fh))
        pats = {layer: obs.get(x, attn_pattern(layer)) for layer in range(n_layers) if obs.has(x, attn_pattern(layer))}
        probes.append((x, vals, pats))
    prog = Program(idents=python_names(v.name for v in variables), numerical_output=info.get("numerical", False))
    prog.index_offset = _index_offset(probes)
    # Variables never seen written on a scanned input (e.g. numerical zero there) still hold values on
    # probes: place them at the latest stage so they can read everything (a rough guess, said so).
    for v in variables:
        if v.name not in stages and any(any(x not in (None, 0, 0.0) for x in vals[v.name][1:]) for _, vals, _ in probes):
            stages[v.name] = 2 * n_layers
            prog.unexplained.append(f"the layer that writes {v.name} was not seen (assumed the last)")
    heads = info.get("heads", [])
    mlps = info.get("mlps", [])
    explained: set[str] = {n for n, s in stages.items() if s == 0}
    for layer in range(n_layers):
        attn_stage, mlp_stage = 2 * layer + 1, 2 * layer + 2
        available = [v for v in variables if v.name in stages and stages[v.name] < attn_stage]
        written = [v for v in variables if stages.get(v.name) == attn_stage]
        for (hl, hh) in heads:
            if hl != layer:
                continue
            hp = [(vals, *selections(pats[layer][hh])) for _, vals, pats in probes if layer in pats]
            remaining = [v for v in written if v.name not in explained]
            _record(prog, explained, *explain_head(hp, layer, hh, remaining, available))
        for v in written:
            if v.name not in explained:
                prog.unexplained.append(f"{v.name} (written by layer {layer}'s attention) matches no head's aggregate")
        available = [v for v in variables if v.name in stages and stages[v.name] < mlp_stage]
        written = [v for v in variables if stages.get(v.name) == mlp_stage]
        if written and layer not in mlps:
            prog.unexplained.append(f"layer {layer} writes {', '.join(v.name for v in written)} with an empty MLP")
        rows = [{name: vs[p] for name, vs in vals.items()} for _, vals, _ in probes
                for p in range(1, len(next(iter(vals.values()))))]
        for v in written:
            _record(prog, explained, *explain_mlp(rows, layer, v, available, stages))
    prog.output = _output(prog, variables, stages, info, probes)
    return Decompilation(prog, variables, stages)


def _record(prog: Program, explained: set, step, why: Optional[str]) -> None:
    if step is None:
        prog.unexplained.append(why)
    else:
        prog.steps.append(step)
        explained.add(step.out)


def _index_offset(probes) -> int:
    for _, vals, _ in probes:
        idx = vals.get("indices")
        if idx and len(idx) > 1 and isinstance(idx[1], int):
            return idx[1]
    return 0


def _output(prog: Program, variables: list[Variable], stages: dict, info: dict, probes) -> Optional[str]:
    """The variable the model outputs: written by a step, read by none; the value set and kind the
    model's output has; the latest written."""
    read: set[str] = set()
    for st in prog.steps:
        if isinstance(st, HeadStep):
            read |= {st.query, st.key} | ({st.value} if st.value else set())
        else:
            read |= set(st.inputs)
    written = {st.out for st in prog.steps}
    kinds = {v.name: v for v in variables}
    want_kind = "numerical" if info.get("numerical") else "categorical"
    out_values = set(map(repr, info.get("output_values") or []))

    def fits(name: str) -> bool:
        v = kinds[name]
        if v.kind != want_kind:
            return False
        if info.get("raw"):  # values are ordinals until the output is known: only the count can be checked
            return not out_values or len(v.dims) <= len(out_values)
        return not out_values or v.kind == "numerical" or set(map(repr, v.values)) <= out_values | {"None"}

    pool = [n for n in written if n not in read and fits(n)] or [n for n in written if fits(n)] or list(written)
    if not pool:
        # no step decompiled: an input variable may be the output itself (an identity program)
        pool = [v.name for v in variables if fits(v.name) and v.name != "one"]
    if not pool:
        return None
    return max(pool, key=lambda n: (stages.get(n, -1), n))
