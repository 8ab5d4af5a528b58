"""Putting it together: each head and MLP explained in the model's order over the variables read, then
the output variable; the result is a `Program`.

What is explained is a `Reading`: the variables, the stage each is written at, and their values at
every position of every input read. In a labelled session the residual labels name the variables
(their stages from the scan); without them, decompiler/discovery.py finds them as what each
component writes. Stages: 0 = the embedding (input variables); 2L+1 = layer L's attention (non-zero
in its hook_attn_out); 2L+2 = layer L's MLP (non-zero in its hook_mlp_out).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from tracr_agent.agent.investigators.decompiler.discovery import snap
from tracr_agent.agent.investigators.decompiler.heads import computed, explain_head, selections
from tracr_agent.agent.investigators.decompiler.mlps import explain_mlp
from tracr_agent.agent.investigators.decompiler.observations import Observations
from tracr_agent.agent.investigators.decompiler.program import HeadStep, Program, python_names
from tracr_agent.agent.investigators.decompiler.variables import INPUT_VARS, Variable, read_all
from tracr_agent.agent.investigators.decompiler.writes import components
from tracr_agent.tools.protocol.hooks import attn_pattern, final_resid
from tracr_agent.tools.subjects.compare import FLOAT_NOISE, within


def stage_hooks(info: dict) -> list[tuple[str, int]]:
    """(hook, stage) pairs: the embedding's residual stream, then what each non-empty attention layer
    and MLP adds to it (hook_attn_out / hook_mlp_out hold only the variables that component writes,
    so they are cheap to read in tracr's basis). A variable is written at the first stage where it is
    non-zero."""
    return [(c.hook, c.stage) for c in components(info, split_embedding=not info.get("labelled", True))]


@dataclass
class Reading:
    """The variables, the stage each is written at, and their values on every input read."""
    variables: list[Variable]
    stages: dict[str, int]
    values: dict[tuple, dict[str, list]]
    """input -> variable -> value at positions 0..n."""
    owners: dict[str, tuple[int, int]] = field(default_factory=dict)
    """variable -> the (layer, head) that writes it, when known (found without labels)."""


@dataclass
class Decompilation:
    program: Program
    variables: list[Variable]
    stages: dict[str, int] = field(default_factory=dict)
    values: dict[tuple, dict[str, list]] = field(default_factory=dict)
    """input -> variable -> value at positions 0..n, as read from the model (scaled as the program computes it)."""
    found: list = field(default_factory=list)
    """Without labels: the variables discovery found, with how each is read (decompiler/discovery.py `Found`)."""
    writes: Any = None
    """Without labels: every component's writes (decompiler/writes.py `Writes`)."""
    output_guess: str = ""
    """Why the output's values are only guessed (without decoded outputs), or "" when they are not."""
    order_guess: str = ""
    """Why the order of some variable's values (found without a basis) is only one of several the
    heads' observed comparisons allow, or "" when none is."""
    filled: list = field(default_factory=list)
    """Entries no read observed, filled from decoded outputs (decompiler/fill.py), one phrase each."""
    fitted: int = 0
    """How many of them are only a fit: filled from the last check's outputs (no fresh evidence then), or
    given one of several values that fit as well."""


def _scanned(obs: Observations, info: dict):
    """(activation of a stage's hook [positions, d], stage) on every input scanned at every stage's hook."""
    hooks = stage_hooks(info)
    for acts in obs.acts.values():
        if all(h in acts for h, _ in hooks):
            yield from ((acts[h], i) for h, i in hooks)


def write_stages(obs: Observations, variables: list[Variable], info: dict) -> dict[str, int]:
    """The first stage at which each labelled variable holds a value on any scanned input."""
    stages: dict[str, int] = {}
    for resid, i in _scanned(obs, info):
        for v in variables:
            if any(v.written(row) for row in resid[1:]) or (v.name in INPUT_VARS and v.written(resid[0])):
                stages[v.name] = min(stages.get(v.name, i), i)
    return stages


def labelled_reading(info: dict, obs: Observations, variables: list[Variable]) -> Reading:
    """Variables named by the residual labels, read off the final residual stream."""
    fh = final_resid(info["n_layers"])
    values = {x: read_all(variables, obs.get(x, fh)) for x in obs.inputs_with(fh)}
    return Reading(variables, write_stages(obs, variables, info), values)


def decompile(info: dict, obs: Observations, reading: Reading) -> Decompilation:
    n_layers = info["n_layers"]
    variables, stages = reading.variables, dict(reading.stages)
    values = {x: dict(v) for x, v in reading.values.items()}
    probes = []  # (input, values at pos 0..n, {layer: pattern})
    for x, vals in values.items():
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
            hp = [(vals, *selections(pats[layer][hh], bool(info.get("noisy")))) for _, vals, pats in probes if layer in pats]
            own = [v for v in written if reading.owners.get(v.name) == (hl, hh)]
            remaining = own or [v for v in written if v.name not in explained and v.name not in reading.owners]
            step, why, factor = explain_head(hp, layer, hh, remaining, available, bool(info.get("noisy")))
            if step is not None and info.get("noisy") and step.mode in ("width", "mean"):
                # what the model wrote is only near the number the head computes: the number is the value
                for (_, vals, pats) in (p for p in probes if layer in p[2]):
                    exact = computed(step, vals, selections(pats[layer][hh], True)[0])
                    if exact is not None:
                        vals[step.out] = exact
            elif step is not None:
                if step.mode == "width":
                    _exact_widths(probes, layer, hh, step.out, factor or 1.0)
                if factor not in (None, 1.0):
                    _rescale(values, step.out, factor)
            if step is not None:
                _fix_scale(step, variables)
            _record(prog, explained, step, why)
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
            step, why = explain_mlp(rows, layer, v, available, stages)
            _record(prog, explained, step, why)
    prog.output = _output(prog, variables, stages, info, probes)
    return Decompilation(prog, variables, stages, values)


def _exact_widths(probes, layer: int, head: int, name: str, factor: float) -> None:
    """A selector width's fraction as the selection gives it (factor / (w + 1)), where the attention
    leaked a little weight past BOS and the value written is only near it: what the width's MLP
    reads, and what the program computes."""
    for _, vals, pats in probes:
        if layer in pats and name in vals:
            sel, _ = selections(pats[layer][head])
            vals[name] = [vals[name][0]] + [factor / (len(keys) + 1) for keys in sel]


def _rescale(values: dict, name: str, factor: float) -> None:
    """A variable known up to a factor, in the scale its head computes (values / factor)."""
    if within(factor, 1.0, FLOAT_NOISE * 1000):
        return
    for vals in values.values():
        if name in vals:
            vals[name] = [None if v is None else snap(v / factor) for v in vals[name]]


def _fix_scale(step: HeadStep, variables: list[Variable]) -> None:
    """A numerical variable whose scale was free is now known exactly when its head computes it from
    values that are: a selector width, or the mean of a categorical value's indicator or of a number
    known exactly."""
    by = {v.name: v for v in variables}
    out = by.get(step.out)
    if out is None or not out.free_scale:
        return
    moved = by.get(step.value) if step.value else None
    if step.mode == "width" or step.indicator is not None or (moved is not None and not moved.free_scale):
        out.free_scale = False


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
    """The variable the model outputs: of the kind and values the model's output has (`model_info`
    lists the unembedding's columns: every value the variable holds has one, or, failing any such,
    most of its values do: a value with no column decodes as no value); written by a step and read by
    none, else written, else an input variable (an unembedding may read the tokens themselves); the
    latest written."""
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

    def fits(name: str, how: str = "within") -> bool:
        """how: 'exactly' the listed values, 'within' them, or 'partly' (most of its values listed)."""
        v = kinds[name]
        if info.get("raw"):  # values are ordinals until the output is known: only the kind can be checked
            # (a categorical variable seen with one value lies on one line: it was read as numerical)
            return v.kind == want_kind or (want_kind == "categorical" and _distinct_values(name, probes) <= 1)
        if v.kind != want_kind:
            return False
        if not out_values or v.kind == "numerical":
            return True
        held = set(map(repr, v.values)) - {"None", repr("BOS")}  # BOS is never at an output position
        return {"exactly": held == out_values, "within": held <= out_values,
                "partly": len(held & out_values) * 2 > len(held)}[how]

    # without labels an input variable's values are not compared with the output's: it is not considered
    inputs = [] if info.get("raw") and written else [v.name for v in variables if v.name not in written and v.name != "one"]
    pool: list[str] = []
    for how in ("exactly", "within", "partly"):
        pool = pool or [n for n in written if n not in read and fits(n, how)] or [n for n in written if fits(n, how)]
        if how != "partly":
            pool = pool or [n for n in inputs if fits(n, how)]
    pool = pool or list(written)
    if not pool:
        return None
    return max(pool, key=lambda n: (stages.get(n, -1), n))


def _distinct_values(name: str, probes) -> int:
    """How many non-zero values a variable takes on the probes."""
    return len({v for _, vals, _ in probes for v in vals.get(name, [])[1:] if v not in (None, 0, 0.0)})
