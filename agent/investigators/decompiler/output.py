"""The model's output read off its residual stream, without decoded outputs.

The variables come from the residual labels, or, in a label-free (raw) session, are found from
activations (decompiler/discovery.py). The output variable is the one the decompiled program's last
steps write and no step reads, of the kind and values `model_info` lists for the output
(decompiler/analysis.py); with raw dims its ordinals are mapped, in order, onto those values.
"""

from __future__ import annotations

from typing import Optional

from tracr_agent.agent.investigators.decompiler.analysis import Decompilation, decompile, dim_stages
from tracr_agent.tools.protocol.hooks import final_resid
from tracr_agent.tools.protocol.raw import all_raw
from tracr_agent.agent.investigators.decompiler.discovery import discover, output_map
from tracr_agent.agent.investigators.decompiler.observations import Observations
from tracr_agent.agent.investigators.decompiler.variables import from_labels

def decompile_internals(info: dict, obs: Observations) -> Optional[Decompilation]:
    """The program decompiled from what was read (None: no residual stream was read)."""
    if not obs.residual_labels:
        return None
    if not all_raw(obs.residual_labels):
        return decompile(info, obs, from_labels(obs.residual_labels, info["vocab"]))
    # a label-free residual: find the variables first, then name the output's values
    info = {**info, "raw": True}
    fh = final_resid(info["n_layers"])
    finals = [(x, obs.get(x, fh)) for x in obs.inputs_with(fh)]
    dec = decompile(info, obs, discover(finals, dim_stages(obs, info)))
    out = next((v for v in dec.variables if v.name == dec.program.output), None)
    if out is not None:
        used = {j for v in dec.variables for j in v.dims}
        dec.program.output_map = output_map(out, info["output_values"], info["d_model"], used)
    return dec


def output_observations(dec: Decompilation, obs: Observations, n_layers: int) -> dict[tuple, list]:
    """{input: the output variable's value at each token position} on every input whose final
    residual stream was read; raw ordinals are mapped to the output's values when they could be."""
    var = next((v for v in dec.variables if v.name == dec.program.output), None)
    if var is None:
        return {}
    fh = final_resid(n_layers)
    omap = dec.program.output_map
    out = {}
    for x in obs.inputs_with(fh):
        vals = [var.read(row) for row in obs.get(x, fh)[1:]]
        out[tuple(x)] = [omap.get(v) if omap and v is not None else v for v in vals]
    return out
