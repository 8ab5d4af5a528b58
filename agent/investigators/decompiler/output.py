"""The whole reading: the variables and their values (from the residual labels, or found without a
basis), the program decompiled over them, and the output read off the residual stream.

The variables come from the residual labels, or, in a label-free session (raw dims, or a rotated or
compressed model), are found as what each component writes (decompiler/writes.py,
decompiler/discovery.py). Without decoded outputs the output variable is the one the program's
last steps write and no step reads, of the kind and values `model_info` lists for the output
(decompiler/analysis.py), and its values are named by decompiler/readout.py; with decoded outputs,
readout.py reads what the unembedding reads from them.
"""

from __future__ import annotations

from typing import Optional

from tracr_agent.agent.investigators.decompiler.analysis import Decompilation, Reading, decompile, labelled_reading
from tracr_agent.agent.investigators.decompiler.discovery import discover
from tracr_agent.agent.investigators.decompiler.mlps import key_of
from tracr_agent.agent.investigators.decompiler.observations import Observations
from tracr_agent.agent.investigators.decompiler.orders import names_from_match, open_pairs, order_of
from tracr_agent.agent.investigators.decompiler.program import HeadStep, MlpStep
from tracr_agent.agent.investigators.decompiler.readout import labelled_map, whitebox_map, widths as width_names
from tracr_agent.agent.investigators.decompiler.variables import from_labels
from tracr_agent.agent.investigators.decompiler.writes import read_writes
from tracr_agent.tools.protocol.raw import all_raw


def decompile_internals(info: dict, obs: Observations, scan: Optional[list[tuple]] = None) -> Optional[Decompilation]:
    """The program decompiled from what was read (None: no residual stream was read). `scan`: the inputs
    read at every stage first (they decide whether the final residual stream can be split)."""
    if not obs.residual_labels:
        return None
    if not all_raw(obs.residual_labels):
        variables = from_labels(obs.residual_labels, info["vocab"])
        dec = decompile(info, obs, labelled_reading(info, obs, variables))
        dec.program.output_map = labelled_map(dec, info)
        return dec
    info = {**info, "raw": True}
    writes = read_writes(info, obs, scan)
    info["noisy"] = writes.noisy
    found = discover(info, obs, writes)
    owners = {f.var.name: (f.stage // 2, int(f.var.name.split("_")[1])) for f in found.found if f.var.name.startswith("h")}
    named: set[str] = set()
    unsure: dict[str, set] = {}
    for _ in range(RENAMING_ROUNDS):
        dec = decompile(info, obs, Reading(found.variables, found.stages, found.values, owners))
        if not _name_values(dec, found, named, unsure):
            break
    dec.program.open_orders = {v: pairs for v, pairs in unsure.items() if pairs}
    if unsure:
        dec.order_guess = (f"the order of the values of {', '.join(sorted(unsure))} was read from comparisons that "
                           "leave some pairs open")
    _complete_widths(dec.program, info["max_seq_len"])
    dec.found = found.found
    dec.writes = writes
    dec.program.output_map, dec.output_guess = whitebox_map(dec, info, obs)
    dec.program.output_open = bool(dec.program.output_map)
    return dec


RENAMING_ROUNDS = 8
"""Decompiling again after values were named from a head's comparisons (each naming may reveal more)."""


def _name_values(dec: Decompilation, found, named: set[str], unsure: dict[str, set]) -> bool:
    """Names or orders the values of variables found without a basis from the heads that read them with
    a rule that is a table (decompiler/orders.py), or, for the MLP completing a selector width, by the
    widths they stand for; whether anything was renamed. A variable whose order
    the observed comparisons leave open (some pair never compared) is added to `unsure`, with the pairs
    of its new names that no observed comparison orders."""
    free = {f.var.name: f.var for f in found.found if f.var.kind == "categorical"}
    for st in dec.program.steps:
        if isinstance(st, MlpStep) and st.out in free and st.out not in named and st.out != dec.program.output:
            # the second half of a selector width: each value is the width its fraction stands for (the
            # output's values are named apart, by what the unembedding reads: readout.py)
            widths = _complete(width_names(dec.program, st) or None, free[st.out].values)
            if widths is not None:
                _rename(found, free[st.out], widths)
                named.add(st.out)
                return True
        if not isinstance(st, HeadStep) or st.rule != "table":
            continue
        if st.query == st.key and st.query in free and st.query not in named:
            got = order_of(st.table)
            if got is not None:
                order, unique = got
                _rename(found, free[st.query], {v: i for i, v in enumerate(order)})
                named.add(st.query)
                if not unique:
                    unsure[st.query] = {(order.index(a), order.index(b)) for a, b in open_pairs(st.table, order)}
                return True
        for known, other, known_is_query in ((st.query, st.key, True), (st.key, st.query, False)):
            if known in ("tokens", "indices") and other in free and other not in named:
                names = _complete(names_from_match(st.table, known_is_query), free[other].values)
                if names is not None:
                    _rename(found, free[other], names)
                    named.add(other)
                    return True
    return False


def _complete_widths(prog, max_len: int) -> None:
    """An MLP decoding a selector width, its table w for 1/(w+1) on every width observed, decodes every
    width a selection can have (0..max_len: tracr's SelectorWidth builds it so), observed or not."""
    for st in prog.steps:
        if isinstance(st, MlpStep) and st.out != prog.output and width_names(prog, st) and all(
                isinstance(w, int) and key_of((1 / (w + 1),)) == frac for frac, w in st.table.items()):
            for w in range(max_len + 1):
                st.table.setdefault(key_of((1 / (w + 1),)), w)


def _complete(names: Optional[dict], values) -> Optional[dict]:
    """A matching's names for every value: one it left unnamed (matched with no known value) gets a
    whole number no known value is, so it never equals one (None: no matching, or names not numbers)."""
    if names is None:
        return None
    left = [v for v in values if v not in names]
    known = list(names.values())
    if not left:
        return names
    if not all(isinstance(n, int) and not isinstance(n, bool) for n in known):
        return None
    fresh = max(known) + 1
    return {**names, **{v: fresh + i for i, v in enumerate(left)}}


def _rename(found, var, mapping: dict) -> None:
    """A variable's values renamed everywhere they were read (values not in the mapping keep theirs)."""
    for vals in found.values.values():
        if var.name in vals:
            vals[var.name] = [mapping.get(v, v) if v is not None else None for v in vals[var.name]]
    var.values = tuple(_sorted(mapping.get(v, v) for v in var.values))
    for f in found.found:
        if f.var is var:
            f.names = {i: mapping.get(n, n) for i, n in f.names.items()}


def _sorted(values) -> list:
    values = list(values)
    try:
        return sorted(values)
    except TypeError:
        return sorted(values, key=repr)


def output_observations(dec: Decompilation, obs: Observations, n_layers: int) -> dict[tuple, list]:
    """{input: the output variable's value at each token position} on every input whose variables
    were read; values are named as the output's when a map names them."""
    name = dec.program.output
    if name is None:
        return {}
    omap = dec.program.output_map
    out = {}
    for x, vals in dec.values.items():
        if name not in vals:
            continue
        vs = vals[name][1:]
        out[tuple(x)] = [omap.get(v) if omap and v is not None else v for v in vs]
    return out
