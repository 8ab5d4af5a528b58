"""The open-world baseline (`--llm baseline`): it knows nothing of the zoo.

With decoded outputs (`full`, `blackbox`): probe with designed and random inputs, synthesize
the smallest composition of RASP-like blocks that reproduces every observed output
(synthesis.py), test it on fresh inputs (random ones plus inputs on which the best candidates
disagree), re-synthesize on everything seen when it fails, and submit the program (render.py):
a mechanism, a generated description, and a neutral label naming the kind of computation.
Without decoded outputs (`whitebox`, labelled or raw residual): read the residual stream with
get_activations (decompiler/rounds.py: the same reads as the decompiler's round 1), find the output variable
(the one no decompiled step reads, of the output's kind and values; with raw dims, found from
activations) and take its values on every probe input as the observed outputs; then synthesize
and test on fresh inputs (their final residual stream) as with decoded outputs, saying so in the
description. It never needs run_model or logits.
With the static dump (`static+io`): synthesize over the input/output pairs in the prompt.

It is stateless (every decision is recomputed from the message history, so replay and
resumption work unchanged); synthesis results are memoized per set of observations.
"""

from __future__ import annotations

import random
from typing import ClassVar, Optional

from langchain_core.messages import AIMessage

from tracr_agent.agent.investigators.hypotheses import BATCH, probe_inputs, submit_prediction
from tracr_agent.agent.investigators.openworld.fit import Fit, fit, refit
from tracr_agent.agent.investigators.decompiler import rounds
from tracr_agent.agent.investigators.decompiler.confidence import ASSUMED, GUESSED
from tracr_agent.agent.investigators.decompiler.output import decompile_internals, output_observations
from tracr_agent.agent.investigators.decompiler.readout import readout_unseen
from tracr_agent.agent.investigators.rule_based import RuleInvestigator, Turn, model_info_of
from tracr_agent.tools.protocol.raw import all_raw
from tracr_agent.tools.protocol.run_model import observations
from tracr_agent.tools.subjects.compare import outputs_equal

RANDOM_BATCHES = 1
"""Random batches after the designed probes, before the first synthesis."""
MAX_CHECKS = 4
"""Verification batches (each may refute the candidate and trigger a new synthesis)."""
MIN_FRESH = 16
"""Fewest fresh inputs read off the internals for a whitebox answer to be sure: a program wrong on 10% of
the domain passes 16 one time in five (it is then held at ASSUMED)."""
CHECK_MARK = "Testing the program on fresh inputs"
MORE_MARK = "More evidence"
"""How its whitebox test turns begin (for people: the turns are counted by their phase marks, "check"
and "more", recomputed from the history each turn)."""
UNKNOWN_SOURCE = "def f(tokens):\n    return [None] * len(tokens)\n"


def random_inputs(info: dict, seed: int, count: int, avoid: set) -> list[list]:
    vocab, n = info["vocab"], info["max_seq_len"]
    rng = random.Random(seed)
    out: list[list] = []
    for _ in range(count * 50):
        x = tuple(rng.choice(vocab) for _ in range(rng.randint(1, n)))
        if x not in avoid and list(x) not in out:
            out.append(list(x))
            if len(out) >= count:
                break
    return out


class OpenWorldInvestigator(RuleInvestigator):
    """The open-world baseline: generic building blocks, fitted to what it observes."""

    without_pairs: ClassVar[str] = ("the open-world baseline fits programs to observed outputs, so it cannot say "
                                    "what the model computes")

    def _investigate(self, t: Turn, info: dict) -> AIMessage:
        if "run_model" in self.available:
            return self._with_outputs(info, t)
        return self._from_residual(info, t)

    # -- with decoded outputs -------------------------------------------------------------------
    def _with_outputs(self, info: dict, t) -> AIMessage:
        obs: dict = {}
        before_checks: dict = {}  # what the first fit saw: the designed and random batches
        asked = 0
        for r in t.results:
            if r.name != "run_model":
                continue
            asked += 1
            if r.ok:
                obs.update(observations(r.data))
                if asked <= 1 + RANDOM_BATCHES:
                    before_checks.update(observations(r.data))
        if not obs and not t.forced and asked == 0:
            return AIMessage(content="Probing with designed inputs: single tokens, sorted, reversed, constant and "
                                     "random sequences.",
                             tool_calls=[t.call("run_model", {"inputs": probe_inputs(info, self.seed)})])
        if asked < 1 + RANDOM_BATCHES and not t.forced:
            return AIMessage(content="More evidence before fitting: random inputs of every length.",
                             tool_calls=[t.call("run_model", {"inputs": random_inputs(info, self.seed + asked, BATCH, set(obs))})])
        result = refit(before_checks, obs, info)
        checks = asked - 1 - RANDOM_BATCHES
        if result.best is not None and checks < 1 and not t.forced:
            probes = self._checks(info, result, obs, asked)
            return AIMessage(content=f"{len(obs)} inputs observed; the smallest program found: {result.best.label}. "
                                     f"Testing it on {len(probes)} fresh inputs (random ones, and inputs on which "
                                     "the runners-up disagree).",
                             tool_calls=[t.call("run_model", {"inputs": probes})])
        if result.best is None and checks < MAX_CHECKS and not t.forced and obs:
            return AIMessage(content=f"No composition of the building blocks explains all {len(obs)} observed inputs "
                                     "yet; gathering more evidence.",
                             tool_calls=[t.call("run_model", {"inputs": random_inputs(info, self.seed + asked, BATCH, set(obs))})])
        return self._submit(result, len(obs), t, f"{len(obs)} inputs observed ({checks} test batch(es))")

    def _checks(self, info: dict, result: Fit, obs: dict, asked: int) -> list[list]:
        """Fresh inputs for the candidate: where the runners-up disagree with it first, then random."""
        rng = random.Random(self.seed * 7919 + asked)
        vocab, n = info["vocab"], info["max_seq_len"]
        found: list[list] = []
        if len(result.programs) > 1:
            for _ in range(2000):
                x = tuple(rng.choice(vocab) for _ in range(rng.randint(1, n)))
                if x in obs or list(x) in found:
                    continue
                preds = [p.predict(x) for p in result.programs]
                if any(p is None for p in preds) or any(not outputs_equal(preds[0], p, info["numerical"]) for p in preds[1:]):
                    found.append(list(x))
                    if len(found) >= BATCH // 2:
                        break
        return found + random_inputs(info, rng.randrange(1 << 30), BATCH - len(found), set(obs) | {tuple(f) for f in found})

    def _submit(self, result: Fit, n_obs: int, t, note: str, source_note: str = "", cap: float = 1.0) -> AIMessage:
        """`cap`: the most confidence the observations allow (outputs read off internals whose values
        were only guessed allow less)."""
        best = result.best
        if best is None:
            return submit_prediction(t.call, "unknown computation",
                                     "No composition of the baseline's building blocks (within its search budget) "
                                     f"reproduces the {n_obs} observed inputs." + source_note,
                                     UNKNOWN_SOURCE, 0.05, note + "; no program explains them")
        conf = min(0.9 if len(result.programs) == 1 else 0.75, cap)
        return submit_prediction(t.call, best.label, best.description + source_note, best.source, conf,
                                 note + f"; program of {best.cost} step(s) consistent with all of them")

    # -- without decoded outputs: the model's internals ----------------------------------------
    def _from_residual(self, info: dict, t) -> AIMessage:
        """Outputs read off the residual stream (decompiler/rounds.py): round 1 of reads, the output variable
        (the one no decompiled step reads, of the output's kind and values) on every probe, then
        synthesis and a test on fresh inputs exactly as with decoded outputs."""
        wb = model_info_of(t.results)
        if wb is None or "get_activations" not in self.available:
            return self._submit(Fit([]), 0, t, "No decoded outputs and no activations to read them from")
        used = len(t.results)
        budget = self.limits.max_tool_calls
        can_read = not t.forced and used < budget - 1
        obs = rounds.observe(t.results, wb)
        r1 = rounds.round1(wb, t.results)
        miss = rounds.missing(obs, r1.requests)
        if miss and can_read:
            note = ("No decoded outputs: reading the residual stream at every stage on a few long inputs (which "
                    "layer writes each variable)" if not r1.scan_done else
                    "Reading the final residual stream and the attention patterns on designed inputs (to find the "
                    "output variable and its values)")
            return rounds.read_message(t.call, wb, obs, miss, note, used, budget)
        dec = decompile_internals(wb, obs, r1.scan)
        outs = output_observations(dec, obs, wb["n_layers"]) if dec is not None else {}
        if not outs:
            return self._submit(Fit([]), 0, t, "The output variable could not be found in the residual stream")
        var = dec.program.output
        checks = sum(1 for phase in t.phases if phase in ("check", "more"))
        probed = set(r1.probes)
        result = refit({x: y for x, y in outs.items() if x in probed}, outs, info)
        values = r1.value_hooks(wb)
        fresh = sum(1 for x in outs if x not in probed)
        # tested again while the fresh inputs read are too few to be sure and the budget allows
        if result.best is not None and (checks < 1 or (fresh < MIN_FRESH and checks < MAX_CHECKS)) and can_read:
            probes = self._checks(info, result, outs, used)
            return rounds.read_message(t.call, wb, obs, [(tuple(x), values) for x in probes],
                                       f"{CHECK_MARK} (random ones, and inputs on which the runners-up disagree): "
                                       f"the smallest program found on {len(outs)} inputs is {result.best.label}; "
                                       f"the output is read off variable {var}", used, budget, phase="check")
        if result.best is None and checks < MAX_CHECKS and can_read:
            more = random_inputs(info, self.seed + used, BATCH, set(outs))
            return rounds.read_message(t.call, wb, obs, [(tuple(x), values) for x in more],
                                       f"{MORE_MARK}: no composition of the building blocks explains the "
                                       f"{len(outs)} inputs read so far; reading fresh ones", used, budget,
                                       phase="more")
        raw = " (variables found as what each component writes; the output's values named as the decompiler " \
              "names them)" if all_raw(obs.residual_labels) else ""
        note = (f" (Inferred without decoded outputs: the output was read off residual variable {var}{raw}, the "
                f"variable no decompiled step reads, on {len(outs)} inputs; the program reproduces it on all of them.)")
        # the observations are only as sure as the reading that named them, and a test is only as sure as the
        # fresh inputs it read (where every position read is a dense vector, few fit the budget)
        doubt = dec.output_guess or readout_unseen(dec, wb)
        skipped = len(dec.writes.unexplained) if dec.writes is not None else 0
        if not doubt and skipped:
            # the reading chose the sample: inputs holding values it cannot place (another length, a count never
            # seen) are left out, and a program fitted to the rest may hold only there
            doubt = (f"the output was read on {len(outs)} of the {len(outs) + skipped} inputs read; the others hold "
                     "values the components' write subspaces do not explain, so the inputs fitted are not a fair "
                     "sample of the domain")
        if not doubt and fresh < MIN_FRESH:
            doubt = (f"the program was tested on only {fresh} fresh input{'s' if fresh != 1 else ''} (no more fit "
                     f"the budget), too few to rule out one it gets wrong on part of the domain")
        if doubt:
            note += f" Unsure: {doubt}."
        return self._submit(result, len(outs), t, f"Output variable {var} read on {len(outs)} inputs "
                                                  f"({checks} test batch(es))", note,
                            cap=GUESSED if dec.output_guess else ASSUMED if doubt else 1.0)

    # -- the static dump (no tools) ---------------------------------------------------------------
    def _static_answer(self, obs: dict, numerical: bool) -> AIMessage:
        vocab = sorted({t for x in obs for t in x}, key=repr)
        info = {"vocab": vocab, "max_seq_len": max(len(x) for x in obs), "numerical": numerical}
        best: Optional[object] = fit(obs, info).best
        if best is None:
            return AIMessage(content="No composition of the building blocks explains the input/output pairs."
                                     "\nPREDICTION: unknown")
        return AIMessage(content=f"{best.description}\n```python\n{best.source}```\nPREDICTION: {best.label}")
