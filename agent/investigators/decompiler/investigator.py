"""The decompiler's chat-model face: a deterministic investigator that emits tool calls and, at the
end, a submit_prediction holding the decompiled program.

Every turn is recomputed from the message history (stateless, so replay and resumption work), and
each turn marks its phase:
1. model_info (layers, non-empty heads and MLPs, vocab, output kind and values);
2. `read`: get_activations in json form — every component's writes on a few long inputs, then on
   every probe input what holds the variables' values and each attention layer's pattern — batched
   into calls that fit the cap; `split`: without labels, the inputs whose final residual stream the
   components' write subspaces do not explain, read component by component;
3. `outputs` (where run_model is offered): the decoded outputs of every input read, from which the
   readout (what the unembedding reads) is found (decompiler/readout.py);
4. `cover`: inputs reaching table entries the program has not observed yet; then, where every read
   costs a dense vector and outputs can be decoded, `cover-out`: the inputs reaching the entries still
   open are run (32 a call), and their outputs fill what they decide (decompiler/fill.py);
5. `check` (where run_model is offered): the program against the model on fresh inputs; the inputs it
   gets wrong are read (`fix`) and the program decompiled again, until a check passes or the budget
   is spent;
6. submit: the program as RASP-like Python (named primitives wherever a recovered table equals one,
   variables named by role), a description saying what it computes before how, a conventional name
   as the label when the composition is one (account.py), and a confidence from what was verified
   (decompiler/confidence.py).
It uses only the tools its condition offers and never sees the model's task or program. When a limit
forces it, it submits what it has decompiled so far and names what it could not.
"""

from __future__ import annotations

import random
from typing import Optional

from langchain_core.messages import AIMessage, ToolMessage

from tracr_agent.agent.investigators.decompiler import confidence, coverage, fill, probes, rounds
from tracr_agent.agent.investigators.decompiler.output import decompile_internals
from tracr_agent.agent.investigators.decompiler.account import account
from tracr_agent.agent.investigators.decompiler.program import source
from tracr_agent.agent.investigators.decompiler.readout import OUTPUT, read_outputs
from tracr_agent.agent.investigators.rule_based import (
    DeterministicInvestigator,
    forced_turn,
    model_info_of,
    phase_message,
    tool_results,
)
from tracr_agent.agent.loop.marks import mark_of
from tracr_agent.tools.protocol.run_model import observations as run_observations

COVER_MARK = "Coverage round"
FULL_RESERVE = 3
"""Calls kept from reading internals where outputs can be decoded: reading them, a check, a repair."""
OUT_COVER_CALLS = 2
"""run_model calls running inputs that reach entries no read observed, where reads are dense."""
OUT_COVER_RESERVE = 1
"""…of which this many are kept from reading internals."""
MAX_TURNS = 20
"""Every turn recomputes the whole decompilation from the history (the LLM-turn limit is 40 by default)."""
COVER_CALLS = 12
COVER_ROUNDS = 4
CHECK_INPUTS = 32
CHECK_CALLS = 2
"""run_model calls in one check: 64 fresh inputs leave a program wrong on 5% of the domain a 4% chance of
passing (32: 19%), which a 0.95 confidence must not overstate."""
MAX_CHECKS = 3
FIX_INPUTS = 8
FIX_CALLS = 8
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
        limit = self.limits.max_tool_calls
        obs = rounds.observe(results, info)
        # reading internals leaves room for the submission and, where outputs can be decoded, for reading
        # them and one check against the model (and, where every read costs a dense vector, for running
        # the inputs that reach table entries no read observed)
        dense = rounds.dense_reads(info, obs)
        runs = "run_model" in self.available
        budget = limit - ((FULL_RESERVE + (OUT_COVER_RESERVE if dense else 0)) if runs else 0)
        can_read = "get_activations" in self.available and not forced and turn < MAX_TURNS and used < budget - 1
        if "get_activations" not in self.available and not forced:
            return _submit(call, None, "activations cannot be read in this session (no get_activations)")
        by_phase = _results_by_phase(messages, results)
        calls_in = {p: len(rs) for p, rs in by_phase.items()}
        # first the scan (every component, a few long inputs): its replies also size the later calls
        r1 = rounds.round1(info, results)
        if can_read and not r1.scan_done:
            return rounds.read_message(call, info, obs, rounds.missing(obs, r1.requests),
                                       "Reading every component's writes on a few long inputs", used, budget)
        later = [x for x in obs.acts if x not in r1.probes and x not in r1.scan]
        every = r1.value_hooks(info) + rounds.pattern_hooks(info)
        missing = rounds.missing(obs, r1.requests + [(x, every) for x in later])
        if missing and can_read:
            return rounds.read_message(call, info, obs, missing, "Reading the model's internals", used, budget)
        dec = decompile_internals(info, obs, r1.scan)
        if dec is None:
            return _submit(call, None, "no residual stream was read")
        if dec.writes is not None and (dec.writes.dependent or dec.writes.noisy) and not r1.direct:
            # the subspaces overlap after all (a compressed model): later inputs are read component by component
            every = rounds.value_hooks(info, True) + rounds.pattern_hooks(info)
        reqs = rounds.split_requests(info, dec.writes, dense) if dec.writes is not None else []
        room = min(rounds.SPLIT_TURN, rounds.SPLIT_CALLS - calls_in.get("split", 0), budget - 1 - used)
        # where reads are dense, only the positions whose writes are unknown
        args = rounds.plan(info, obs, reqs, rounds.split_rows(dec.writes, obs))[: max(1, room)] if reqs else []
        if args and can_read and calls_in.get("split", 0) < rounds.SPLIT_CALLS:
            return phase_message("split", f"{len(dec.writes.unexplained)} inputs hold values the components' write "
                                          "subspaces read so far do not explain: reading the components left unknown "
                                          f"({len(args)} get_activations calls).",
                                 [call("get_activations", a, i) for i, a in enumerate(args)])
        can_run = "run_model" in self.available and not forced and turn < MAX_TURNS and used < limit - 1
        outputs = _outputs(results)
        if "run_model" in self.available:
            need = [x for x in dec.values if x not in outputs]
            if need and can_run:
                batches = [need[i:i + CHECK_INPUTS] for i in range(0, len(need), CHECK_INPUTS)][: limit - 1 - used]
                return phase_message("outputs", f"The decoded outputs of the {len(need)} inputs read: what the "
                                                "unembedding reads is found from them.",
                                     [call("run_model", {"inputs": [list(x) for x in b]}, i) for i, b in enumerate(batches)])
            _read_out(dec, outputs, info)
        prog, src = dec.program, source(dec.program)
        if calls_in.get("cover", 0) < COVER_CALLS and can_read and _phase_list(messages).count("cover") < COVER_ROUNDS:
            cands = probes.candidates(info["vocab"], info["max_seq_len"])
            # inputs too long to be read at all (a wide model in a dense basis) are not candidates
            cands = [x for x in cands if obs.too_long is None or len(x) < obs.too_long]
            new = [x for x in coverage.covering_inputs(prog, src, cands, probes.N_COVER, dense)
                   if x not in obs.acts]
            while new:
                reqs = [(x, every) for x in new]
                if len(rounds.plan(info, obs, reqs)) <= min(COVER_CALLS - calls_in.get("cover", 0), budget - 2 - used) \
                        or len(new) == 1:
                    return rounds.read_message(call, info, obs, reqs,
                                               f"{COVER_MARK}: {len(new)} inputs reach table entries not yet observed",
                                               used, budget, phase="cover")
                new = new[: len(new) * 2 // 3]
        if runs and dense and can_run and calls_in.get("cover-out", 0) < OUT_COVER_CALLS:
            # a read costs a call per input here, a run 32 inputs: the entries the reads left unobserved are
            # run (their outputs fill them at the end, decompiler/fill.py)
            right = tuple(x for x, y in outputs.items() if confidence.same_output(prog, src, x, y, info))
            seen = set(outputs) | set(obs.acts)
            cands = [x for x in probes.candidates(info["vocab"], info["max_seq_len"]) if x not in seen]
            n_calls = min(OUT_COVER_CALLS - calls_in.get("cover-out", 0), limit - 4 - used)
            new = coverage.covering_inputs(prog, src, cands, max(0, n_calls) * CHECK_INPUTS, known=right)
            if new:
                batches = [new[i:i + CHECK_INPUTS] for i in range(0, len(new), CHECK_INPUTS)]
                return phase_message("cover-out", f"{COVER_MARK}: running {len(new)} inputs that reach table entries "
                                                  "no read observed (their outputs say what the entries hold).",
                                     [call("run_model", {"inputs": [list(x) for x in b]}, i) for i, b in enumerate(batches)])
        checks = _check_turns(messages, results)
        if outputs:
            # from here on the program holds what the outputs decide of the entries no read observed (the reads
            # above chose their inputs without it: a read shows what an entry holds, a fill only what fits)
            _fill(dec, outputs, checks, info)
            prog, src = dec.program, source(dec.program)
        if can_run and "run_model" in self.available:
            wrong = _wrong(prog, src, checks[-1], info) if checks else []
            fixed = [x for x in wrong if x in obs.acts]
            can_fix = "get_activations" in self.available and used < limit - 3
            if wrong and len(fixed) < len(wrong) and can_fix and calls_in.get("fix", 0) < FIX_CALLS:
                reqs = [(x, every) for x in wrong if x not in obs.acts][:FIX_INPUTS]
                return rounds.read_message(call, info, obs, reqs, f"The program disagrees with the model on "
                                           f"{len(wrong)} fresh inputs: reading them to repair it", used, limit - 2,
                                           phase="fix")
            # entries filled from the last check's outputs are checked on fresh inputs before they count
            if len(checks) < MAX_CHECKS and (not checks or wrong or dec.fitted):
                seen = set(obs.acts) | {x for c in checks for x in c} | set(outputs)
                n_calls = max(1, min(CHECK_CALLS, limit - 1 - used))
                # first the inputs reaching entries no read observed: their outputs check those entries
                open_ = [x for x in coverage.covering_inputs(prog, src, probes.candidates(info["vocab"], info["max_seq_len"]),
                                                             CHECK_INPUTS) if x not in seen]
                fresh = (open_ + [x for x in _fresh(info, len(checks), seen, n_calls * CHECK_INPUTS) if x not in open_])
                fresh = fresh[:n_calls * CHECK_INPUTS]
                if fresh:
                    batches = [fresh[i:i + CHECK_INPUTS] for i in range(0, len(fresh), CHECK_INPUTS)]
                    return phase_message("check", f"Checking the program against the model on {len(fresh)} fresh "
                                                  "inputs.", [call("run_model", {"inputs": [list(x) for x in b]}, i)
                                                              for i, b in enumerate(batches)])
        return _submit(call, dec, None, info=info, checks=checks, outputs=outputs)


def _phase_list(messages) -> list[str]:
    return [p for m in messages if isinstance(m, AIMessage) and (p := mark_of(m).get("phase"))]


def _results_by_phase(messages, results) -> dict[str, list]:
    """The answered calls grouped by the phase their turn marked."""
    phase_of: dict[str, Optional[str]] = {}
    for m in messages:
        if isinstance(m, AIMessage):
            for c in m.tool_calls:
                phase_of[c["id"]] = mark_of(m).get("phase")
    answered = [phase_of.get(m.tool_call_id) for m in messages
                if isinstance(m, ToolMessage) and m.tool_call_id in phase_of]
    out: dict[str, list] = {}
    for p, r in zip(answered, results):
        out.setdefault(p or "", []).append(r)
    return out


def _outputs(results) -> dict[tuple, list]:
    out: dict[tuple, list] = {}
    for r in results:
        if r.name == "run_model" and r.ok:
            out.update(run_observations(r.data))
    return out


def _read_out(dec, outputs: dict, info: dict) -> None:
    """With decoded outputs: the program's last step is what the unembedding reads (when something read does)."""
    if not outputs:
        return
    step = read_outputs(dec, outputs, info)
    if step is None:
        dec.program.unexplained.append("no variable read explains the decoded outputs")
        return
    dec.program.steps.append(step)
    dec.program.output = OUTPUT
    dec.program.output_map = {}
    dec.program.output_open = False
    dec.output_guess = ""
    for x, vals in dec.values.items():
        if x in outputs:
            vals[OUTPUT] = [None, *outputs[x]]


def _fill(dec, outputs: dict, checks: list[dict], info: dict) -> None:
    """Entries no read observed, filled from the decoded outputs (decompiler/fill.py). `dec.fitted` counts
    the entries that are no more than a fit: ones only the last check's inputs reach (that check is then
    no evidence for them), or given one of several values that fit as well."""
    if not outputs or dec.program.unexplained or not dec.program.output:
        return
    last = checks[-1] if checks else {}
    found = fill.search(dec.program, outputs, bool(info.get("numerical")))
    dec.fitted = sum(not unique or not (inputs - set(last)) for _, _, unique, inputs in found)
    dec.filled = fill.apply(dec.program, found)


def _filled_words(dec) -> str:
    if not dec.filled:
        return ""
    shown = "; ".join(dec.filled[:8]) + (f"; and {len(dec.filled) - 8} more" if len(dec.filled) > 8 else "")
    return (f" {len(dec.filled)} table entries no read observed were filled from the decoded outputs that need "
            f"them: {shown}.")


def _fresh(info: dict, k: int, seen: set, n: int = 0) -> list[tuple]:
    """n (default CHECK_INPUTS) inputs not read or run before, from a seeded sample of the domain (longer
    ones first: they exercise more)."""
    cands = [x for x in probes.domain_sample(info["vocab"], info["max_seq_len"], seed=100 + k) if x not in seen]
    random.Random(k).shuffle(cands)
    return sorted(cands[:n or CHECK_INPUTS], key=lambda x: -len(x))


def _check_turns(messages, results) -> list[dict]:
    """The decoded outputs of each check turn (its run_model calls together), in order."""
    turn_of: dict[str, int] = {}
    for i, m in enumerate(messages):
        if isinstance(m, AIMessage) and mark_of(m).get("phase") == "check":
            turn_of.update({c["id"]: i for c in m.tool_calls})
    ids = {c["id"] for m in messages if isinstance(m, AIMessage) for c in m.tool_calls}
    answered = [turn_of.get(m.tool_call_id) for m in messages if isinstance(m, ToolMessage) and m.tool_call_id in ids]
    out: dict[int, dict] = {}
    for t, r in zip(answered, results):
        if t is not None and r.ok:
            out.setdefault(t, {}).update(run_observations(r.data))
    return [out[t] for t in sorted(out)]


def _wrong(prog, src: str, observed: dict, info: dict) -> list[tuple]:
    """The inputs on which the program's output differs from the model's."""
    return [x for x, y in observed.items() if not confidence.same_output(prog, src, x, y, info)]


def _submit(call, dec, failure: Optional[str], info=None, checks=(), outputs=None) -> AIMessage:
    if dec is None:
        src = "def f(tokens):\n    return [None] * len(tokens)\n"
        return AIMessage(content=f"Nothing to decompile: {failure}.", tool_calls=[call("submit_prediction", {
            "label": "unknown", "description": f"Not decompiled: {failure}.", "implementation": src, "confidence": 0.0})])
    prog = dec.program
    src = source(prog)
    ok, total, bad = coverage.agreement(prog, src, dec.values)
    told = account(prog, list(dec.values) + probes.domain_sample(info["vocab"], info["max_seq_len"], k=CHECK_SAMPLE))
    verdict = confidence.assess(dec, src, info, ok, total, list(checks), outputs or {}, told.implementation)
    desc = told.description + f" Checked on {total} probe inputs: every decompiled variable matches the model's " \
                              f"internals on {ok}." + (f" Mismatching: {', '.join(bad)}." if bad else "") + _filled_words(dec) \
        + verdict.words
    return AIMessage(content=f"Decompiled {len(prog.steps)} steps; output variable {prog.output}; reproduces the "
                             f"internals on {ok}/{total} probes.{verdict.words}",
                     tool_calls=[call("submit_prediction", {"label": told.label, "description": desc,
                                                            "implementation": told.implementation,
                                                            "confidence": verdict.confidence})])
