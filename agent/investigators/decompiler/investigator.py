"""The decompiler's chat-model face: a deterministic investigator that emits tool calls and, at the
end, a submit_prediction holding the decompiled program.

Every turn is recomputed from the message history (stateless, so replay and resumption work):
1. model_info (layers, non-empty heads and MLPs, vocab, output kind and values);
2. get_activations in json form: every stage's residual stream on a few long inputs (which layer
   writes each variable), and on every probe input the final residual stream and each attention
   layer's pattern — batched into calls that fit the output cap;
3. one coverage round: inputs reaching table entries the program has not observed yet;
4. submit: the program's Python source (the steps composed in the model's order), a description
   generated from it, a neutral label, and a confidence from how well it reproduces the probes.
It uses only the tools its condition offers (no decoded outputs are needed) and never sees the
model's task or program. When a limit forces it, it submits what it has decompiled so far and
names what it could not.
"""

from __future__ import annotations

import re
from typing import Optional

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from tracr_agent.agent.investigators.parsing import parse_seq
from tracr_agent.agent.investigators.decompiler import coverage, probes
from tracr_agent.agent.investigators.decompiler.analysis import (
    decompile,
    dim_stages,
    final_hook,
    pattern_hook,
    stage_hooks,
)
from tracr_agent.agent.investigators.decompiler.discovery import discover, output_map
from tracr_agent.agent.investigators.decompiler.observations import read_results
from tracr_agent.agent.investigators.decompiler.program import HeadStep, describe, label, source
from tracr_agent.agent.investigators.decompiler.variables import from_labels, read_all
from tracr_agent.agent.loop.prompts import FORCE

RAW_DIM = re.compile(r"d\d+")
COVER_MARK = "Coverage round"
MAX_TURNS = 8
CALL_BUDGET = 40  # the default --max-tool-calls: round 1, then a coverage round, then the submission
ROUND1_CALLS = 24
COVER_CALLS = 10


def parse_info(text: str) -> dict:
    info: dict = {}
    m = re.search(r"input vocab: (\[.*?\])\s+max_seq_len: (\d+)", text)
    if m:
        info["vocab"], info["max_seq_len"] = parse_seq(m.group(1)), int(m.group(2))
    for key in ("layers", "heads per layer", "d_model"):
        m = re.search(rf"{key}: (\d+)", text)
        info[key.replace(" ", "_")] = int(m.group(1)) if m else 0
    info["n_layers"] = info.pop("layers") or 1
    info["numerical"] = bool(re.search(r"output: numerical", text))
    m = re.search(r"output: categorical, values (\[.*?\]);", text)
    info["output_values"] = [v for v in parse_seq(m.group(1)) if v is not None] if m else []
    m = re.search(r"non-empty attention heads: (.*)", text)
    info["heads"] = [(int(a), int(b)) for a, b in re.findall(r"(\d+)\.(\d+)", m.group(1))] if m else []
    m = re.search(r"non-empty MLPs: (.*)", text)
    info["mlps"] = [int(a) for a in re.findall(r"(\d+)\.mlp", m.group(1))] if m else []
    m = re.search(r"residual stream variables \(\d+ dims\): (.*)", text)
    info["n_vars"] = len(m.group(1).split(",")) if m else max(4, info["d_model"] // 3)
    return info


def _results(messages) -> list[tuple[str, dict, str]]:
    calls = {c["id"]: (c["name"], c["args"]) for m in messages if isinstance(m, AIMessage) for c in m.tool_calls}
    return [(*calls[m.tool_call_id], m.content if isinstance(m.content, str) else str(m.content))
            for m in messages if isinstance(m, ToolMessage) and m.tool_call_id in calls]


class DecompilerInvestigator(BaseChatModel):
    available: list = []

    @property
    def _llm_type(self) -> str:
        return "decompiler"

    def bind_tools(self, tools, **kwargs):
        names = [getattr(t, "name", None) or t.get("name") for t in tools]
        return self.model_copy(update={"available": names})

    def _generate(self, messages, stop=None, run_manager=None, **kwargs) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=self._decide(list(messages)))])

    def _decide(self, messages) -> AIMessage:
        turn = sum(isinstance(m, AIMessage) for m in messages) + 1

        def call(name: str, args: dict, i: int = 0) -> dict:
            return {"id": f"dc_{turn}_{i}", "name": name, "args": args}

        if _submitted(messages):
            return AIMessage(content="My prediction is the decompiled program I submitted; its description lists "
                                     "each step (the decompiler answers every question with it).")
        forced = any(isinstance(m, HumanMessage) and m.content.startswith(FORCE.split("{")[0]) for m in messages)
        if "submit_prediction" not in self.available:
            return AIMessage(content="The decompiler needs tools (model_info, get_activations); none are offered here.")
        results = _results(messages)
        info_text = next((t for n, _, t in results if n == "model_info" and not t.startswith("error")), None)
        if info_text is None:
            if forced or "model_info" not in self.available:
                return _submit(call, None, "the model's architecture could not be read (model_info is not available)")
            return AIMessage(content="First, the architecture: layers, non-empty heads and MLPs, vocabulary.",
                             tool_calls=[call("model_info", {})])
        info = parse_info(info_text)
        used = sum(1 for m in messages if isinstance(m, AIMessage) for _ in m.tool_calls)
        can_read = "get_activations" in self.available and not forced and turn < MAX_TURNS and used < CALL_BUDGET - 1
        if "get_activations" not in self.available and not forced:
            return _submit(call, None, "activations cannot be read in this session (no get_activations)")
        obs = read_results(results, info["d_model"])
        # first the scan (every stage, a few long inputs): its replies also size the later calls
        scan = probes.scan_inputs(probes.round1(info["vocab"], info["max_seq_len"]), info["max_seq_len"])
        scan_reqs = self._requests(info, scan, scan)
        if can_read and any(not all(obs.has(x, h) for h in hooks) for x, hooks in scan_reqs):
            missing = [(x, hooks) for x, hooks in scan_reqs if not all(obs.has(x, h) for h in hooks)]
            return self._read(call, info, obs, missing, "Reading every stage of the residual stream on a few long inputs", used)
        scan_obs = read_results([r for r in results if _reads_only(r, scan)], info["d_model"])
        scan_obs.failed = 0
        probe_set = self._probe_set(info, scan_obs)
        requests = scan_reqs + self._requests(info, probe_set, [])
        cover_done = any(isinstance(m, AIMessage) and str(m.content).startswith(COVER_MARK) for m in messages)
        if cover_done:
            extra = [x for x in obs.acts if x not in probe_set and x not in scan]
            requests += [(x, (final_hook(info["n_layers"]),)) for x in extra]
        missing = [(x, hooks) for x, hooks in requests if not all(obs.has(x, h) for h in hooks)]
        if missing and can_read:
            return self._read(call, info, obs, missing, "Reading the model's internals", used)
        dec = self._decompile(info, obs)
        if dec is None:
            return _submit(call, None, "no residual stream was read")
        prog, src = dec.program, source(dec.program)
        if not cover_done and can_read and used < CALL_BUDGET - COVER_CALLS:
            cands = probes.domain_sample(info["vocab"], info["max_seq_len"])
            new = [x for x in coverage.covering_inputs(prog, src, cands, probes.N_COVER) if x not in obs.acts]
            # the final residual stream fills MLP tables; heads whose rule is a table need their patterns
            table_layers = sorted({st.layer for st in prog.steps if isinstance(st, HeadStep) and st.rule == "table"})
            hooks = (final_hook(info["n_layers"]),) + tuple(pattern_hook(layer) for layer in table_layers)
            while new:
                reqs = [(x, hooks) for x in new]
                if len(self._plan(info, obs, reqs)) <= COVER_CALLS or len(new) == 1:
                    return self._read(call, info, obs, reqs,
                                      f"{COVER_MARK}: {len(new)} inputs reach table entries not yet observed", used)
                new = new[: len(new) * 2 // 3]
        return _submit(call, dec, None, obs=obs, info=info)

    def _probe_set(self, info: dict, scan_obs) -> list[tuple]:
        """Round-1 probes: as many of the designed inputs as fit in ROUND1_CALLS calls, sized from the
        scan's replies only (so every turn computes the same set)."""
        n = probes.N_PROBES
        while True:
            probe_set = probes.round1(info["vocab"], info["max_seq_len"], n)
            if n <= 12 or len(self._plan(info, scan_obs, self._requests(info, probe_set, []))) <= ROUND1_CALLS - 3:
                return probe_set
            n -= 4

    @staticmethod
    def _requests(info: dict, xs, scan) -> list[tuple[tuple, tuple[str, ...]]]:
        layers = sorted({l for l, _ in info["heads"]})
        per_probe = (final_hook(info["n_layers"]),) + tuple(pattern_hook(l) for l in layers)
        out = [(tuple(x), tuple(h for h, _ in stage_hooks(info))) for x in scan]
        return out + [(tuple(x), per_probe) for x in xs]

    @staticmethod
    def _plan(info, obs, requests) -> list[dict]:
        budget = int((obs.cap_chars or probes.DEFAULT_CAP_CHARS) * 0.85 / (2 ** min(obs.failed, 2)))
        n_heads = info["heads_per_layer"] or 1
        return probes.plan_calls(requests, budget, info["n_vars"], n_heads, obs.sizes)

    def _read(self, call, info, obs, missing, note: str, used: int = 0) -> AIMessage:
        # never past the default tool-call budget: the submission needs the last call
        args = self._plan(info, obs, missing)[: max(1, CALL_BUDGET - 1 - used)]
        return AIMessage(content=f"{note}: {len(args)} get_activations calls (json).",
                         tool_calls=[call("get_activations", a, i) for i, a in enumerate(args)])

    @staticmethod
    def _decompile(info, obs):
        if not obs.residual_labels:
            return None
        if not all(RAW_DIM.fullmatch(label) for label in obs.residual_labels):
            return decompile(info, obs, from_labels(obs.residual_labels, info["vocab"]))
        # a label-free residual: find the variables first, then name the output's values
        info = {**info, "raw": True}
        fh = final_hook(info["n_layers"])
        finals = [(x, obs.get(x, fh)) for x in obs.inputs_with(fh)]
        dec = decompile(info, obs, discover(finals, dim_stages(obs, info)))
        out = next((v for v in dec.variables if v.name == dec.program.output), None)
        if out is not None:
            used = {j for v in dec.variables for j in v.dims}
            dec.program.output_map = output_map(out, info["output_values"], info["d_model"], used)
        return dec


def _reads_only(result, inputs) -> bool:
    """Whether a get_activations result read only these inputs (the scan's replies)."""
    name, args, _ = result
    if name != "get_activations" or not isinstance(args, dict):
        return False
    xs = args.get("input") or []
    return bool(xs) and all(isinstance(x, list) and tuple(x) in inputs for x in xs)


def _submitted(messages) -> bool:
    return any(isinstance(m, ToolMessage) and str(m.content).startswith("prediction recorded") for m in messages)


def _submit(call, dec, failure: Optional[str], obs=None, info=None) -> AIMessage:
    if dec is None:
        src = "def f(tokens):\n    return [None] * len(tokens)\n"
        return AIMessage(content=f"Nothing to decompile: {failure}.", tool_calls=[call("submit_prediction", {
            "label": "unknown", "description": f"Not decompiled: {failure}.", "implementation": src, "confidence": 0.0})])
    prog = dec.program
    src = source(prog)
    observed = {}
    fh = final_hook(info["n_layers"])
    for x in obs.inputs_with(fh):
        observed[x] = read_all(dec.variables, obs.get(x, fh))
    ok, total, bad = coverage.agreement(prog, src, observed)
    desc = describe(prog) + f" Checked on {total} probe inputs: every decompiled variable matches the model's " \
                            f"residual stream on {ok}." + (f" Mismatching: {', '.join(bad)}." if bad else "")
    conf = round(0.9 * ok / total, 2) if total else 0.1
    if prog.unexplained or not prog.output:
        conf = min(conf, 0.3)
    return AIMessage(content=f"Decompiled {len(prog.steps)} steps; output variable {prog.output}; reproduces the "
                             f"residual stream on {ok}/{total} probes.",
                     tool_calls=[call("submit_prediction", {"label": label(prog), "description": desc,
                                                            "implementation": src, "confidence": conf})])
