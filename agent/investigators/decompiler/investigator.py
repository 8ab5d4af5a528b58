"""The decompiler's chat-model face: a deterministic investigator that emits tool calls and, at the
end, a submit_prediction holding the decompiled program.

Every turn is recomputed from the message history (stateless, so replay and resumption work):
1. model_info (layers, non-empty heads and MLPs, vocab, output kind and values);
2. get_activations in json form: every stage's residual stream on a few long inputs (which layer
   writes each variable), and on every probe input the final residual stream and each attention
   layer's pattern — batched into calls that fit the output cap;
3. one coverage round: inputs reaching table entries the program has not observed yet;
4. submit: the program as RASP-like Python (named primitives wherever a recovered table equals one,
   variables named by role), a description saying what it computes before how, a conventional name
   as the label when the composition is one (account.py), and a confidence from how well it
   reproduces the probes.
It uses only the tools its condition offers (no decoded outputs are needed) and never sees the
model's task or program. When a limit forces it, it submits what it has decompiled so far and
names what it could not.
"""

from __future__ import annotations

from typing import Optional

from langchain_core.messages import AIMessage

from tracr_agent.agent.investigators.rule_based import (
    DeterministicInvestigator,
    forced_turn,
    model_info_of,
    phases,
    tool_results,
)
from tracr_agent.agent.investigators.decompiler import coverage, probes
from tracr_agent.tools.protocol.hooks import attn_pattern, final_resid
from tracr_agent.agent.investigators.decompiler.observations import read_results
from tracr_agent.agent.investigators.decompiler.account import account
from tracr_agent.agent.investigators.decompiler.program import HeadStep, source
from tracr_agent.agent.investigators.decompiler.variables import read_all
from tracr_agent.agent.investigators.decompiler import rounds
from tracr_agent.agent.investigators.decompiler.output import decompile_internals

COVER_MARK = "Coverage round"
MAX_TURNS = 8
COVER_CALLS = 10
CHECK_SAMPLE = 300  # inputs of the domain on which the readable program is checked against the recovered one


class DecompilerInvestigator(DeterministicInvestigator):
    @property
    def _llm_type(self) -> str:
        return "decompiler"

    def _decide(self, messages) -> AIMessage:
        turn = sum(isinstance(m, AIMessage) for m in messages) + 1

        def call(name: str, args: dict, i: int = 0) -> dict:
            return {"id": f"dc_{turn}_{i}", "name": name, "args": args}

        results = tool_results(messages)
        if any(r.name == "submit_prediction" and r.ok for r in results):
            return AIMessage(content="My prediction is the decompiled program I submitted; its description lists "
                                     "each step (the decompiler answers every question with it).")
        forced = forced_turn(messages)
        if "submit_prediction" not in self.available:
            return AIMessage(content="The decompiler needs tools (model_info, get_activations); none are offered here.")
        info = model_info_of(results)
        if info is None:
            if forced or "model_info" not in self.available:
                return _submit(call, None, "the model's architecture could not be read (model_info is not available)")
            return AIMessage(content="First, the architecture: layers, non-empty heads and MLPs, vocabulary.",
                             tool_calls=[call("model_info", {})])
        used = sum(1 for m in messages if isinstance(m, AIMessage) for _ in m.tool_calls)
        budget = self.limits.max_tool_calls
        can_read = "get_activations" in self.available and not forced and turn < MAX_TURNS and used < budget - 1
        if "get_activations" not in self.available and not forced:
            return _submit(call, None, "activations cannot be read in this session (no get_activations)")
        obs = read_results(results, info["d_model"])
        # first the scan (every stage, a few long inputs): its replies also size the later calls
        r1 = rounds.round1(info, results)
        if can_read and not r1.scan_done:
            return rounds.read_message(call, info, obs, rounds.missing(obs, r1.requests),
                              "Reading every stage of the residual stream on a few long inputs", used, budget)
        requests = list(r1.requests)
        cover_done = "cover" in phases(messages)
        if cover_done:
            extra = [x for x in obs.acts if x not in r1.probes and x not in r1.scan]
            requests += [(x, (final_resid(info["n_layers"]),)) for x in extra]
        missing = rounds.missing(obs, requests)
        if missing and can_read:
            return rounds.read_message(call, info, obs, missing, "Reading the model's internals", used, budget)
        dec = decompile_internals(info, obs)
        if dec is None:
            return _submit(call, None, "no residual stream was read")
        prog, src = dec.program, source(dec.program)
        if not cover_done and can_read and used < budget - COVER_CALLS:
            cands = probes.domain_sample(info["vocab"], info["max_seq_len"])
            new = [x for x in coverage.covering_inputs(prog, src, cands, probes.N_COVER) if x not in obs.acts]
            # the final residual stream fills MLP tables; heads whose rule is a table need their patterns
            table_layers = sorted({st.layer for st in prog.steps if isinstance(st, HeadStep) and st.rule == "table"})
            hooks = (final_resid(info["n_layers"]),) + tuple(attn_pattern(layer) for layer in table_layers)
            while new:
                reqs = [(x, hooks) for x in new]
                if len(rounds.plan(info, obs, reqs)) <= COVER_CALLS or len(new) == 1:
                    return rounds.read_message(call, info, obs, reqs,
                                      f"{COVER_MARK}: {len(new)} inputs reach table entries not yet observed", used, budget,
                                               phase="cover")
                new = new[: len(new) * 2 // 3]
        return _submit(call, dec, None, obs=obs, info=info)


def _submit(call, dec, failure: Optional[str], obs=None, info=None) -> AIMessage:
    if dec is None:
        src = "def f(tokens):\n    return [None] * len(tokens)\n"
        return AIMessage(content=f"Nothing to decompile: {failure}.", tool_calls=[call("submit_prediction", {
            "label": "unknown", "description": f"Not decompiled: {failure}.", "implementation": src, "confidence": 0.0})])
    prog = dec.program
    src = source(prog)
    observed = {}
    fh = final_resid(info["n_layers"])
    for x in obs.inputs_with(fh):
        observed[x] = read_all(dec.variables, obs.get(x, fh))
    ok, total, bad = coverage.agreement(prog, src, observed)
    told = account(prog, list(observed) + probes.domain_sample(info["vocab"], info["max_seq_len"], k=CHECK_SAMPLE))
    desc = told.description + f" Checked on {total} probe inputs: every decompiled variable matches the model's " \
                              f"residual stream on {ok}." + (f" Mismatching: {', '.join(bad)}." if bad else "")
    conf = round(0.9 * ok / total, 2) if total else 0.1
    if prog.unexplained or not prog.output:
        conf = min(conf, 0.3)
    return AIMessage(content=f"Decompiled {len(prog.steps)} steps; output variable {prog.output}; reproduces the "
                             f"residual stream on {ok}/{total} probes.",
                     tool_calls=[call("submit_prediction", {"label": told.label, "description": desc,
                                                            "implementation": told.implementation, "confidence": conf})])
