"""The open-world baseline (`--llm baseline`): it knows nothing of the zoo.

With decoded outputs (`full`, `blackbox`): probe with designed and random inputs, synthesize
the smallest composition of RASP-like blocks that reproduces every observed output
(synthesis.py), test it on fresh inputs (random ones plus inputs on which the best candidates
disagree), re-synthesize on everything seen when it fails, and submit the program (render.py):
a mechanism, a generated description, and a neutral label naming the kind of computation.
Without decoded outputs (`whitebox`): read the residual stream — the variable written last is
taken as the output — and synthesize over that variable's values, saying so in the description.
With the static dump (`static+io`): synthesize over the input/output pairs in the prompt.

It is stateless (every decision is recomputed from the message history, so replay and
resumption work unchanged); synthesis results are memoized per set of observations.
"""

from __future__ import annotations

import random
from typing import Optional

from langchain_core.messages import AIMessage

from tracr_agent.agent.investigators.hypotheses import BATCH, probe_inputs, submit_prediction
from tracr_agent.agent.investigators.openworld.fit import Fit, fit
from tracr_agent.agent.investigators.openworld.probes import residual_observations, whitebox_requests
from tracr_agent.agent.investigators.parsing import parse_run_model
from tracr_agent.agent.investigators.rule_based import RuleInvestigator
from tracr_agent.tools.subjects.compare import outputs_equal

RANDOM_BATCHES = 1
"""Random batches after the designed probes, before the first synthesis."""
MAX_CHECKS = 4
"""Verification batches (each may refute the candidate and trigger a new synthesis)."""
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

    def _decide(self, messages) -> AIMessage:
        if not self.available:
            return self._static_answer(messages)
        t = self.turn(messages)
        if t.info is None and not t.forced and "model_info" in self.available:
            return AIMessage(content="First, the architecture and vocabulary.", tool_calls=[t.call("model_info", {})])
        info = t.info or {"vocab": [], "max_seq_len": 1, "numerical": False}
        if "run_model" in self.available:
            return self._with_outputs(info, t)
        return self._from_residual(info, t)

    # -- with decoded outputs -------------------------------------------------------------------
    def _with_outputs(self, info: dict, t) -> AIMessage:
        obs: dict = {}
        runs = 0
        for name, _, text in t.results:
            if name == "run_model" and not text.startswith("error"):
                obs.update(parse_run_model(text))
                runs += 1
        asked = sum(name == "run_model" for name, _, _ in t.results)
        if not obs and not t.forced and asked == 0:
            return AIMessage(content="Probing with designed inputs: single tokens, sorted, reversed, constant and "
                                     "random sequences.",
                             tool_calls=[t.call("run_model", {"inputs": probe_inputs(info, self.seed)})])
        if asked < 1 + RANDOM_BATCHES and not t.forced:
            return AIMessage(content="More evidence before fitting: random inputs of every length.",
                             tool_calls=[t.call("run_model", {"inputs": random_inputs(info, self.seed + asked, BATCH, set(obs))})])
        result = fit(obs, info)
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

    def _submit(self, result: Fit, n_obs: int, t, note: str, source_note: str = "") -> AIMessage:
        best = result.best
        if best is None:
            return submit_prediction(t.call, "unknown computation",
                                     "No composition of the baseline's building blocks (within its search budget) "
                                     f"reproduces the {n_obs} observed inputs." + source_note,
                                     UNKNOWN_SOURCE, 0.05, note + "; no program explains them")
        conf = 0.9 if len(result.programs) == 1 else 0.75
        return submit_prediction(t.call, best.label, best.description + source_note, best.source, conf,
                                 note + f"; program of {best.cost} step(s) consistent with all of them")

    # -- without decoded outputs: the residual stream ------------------------------------------
    def _from_residual(self, info: dict, t) -> AIMessage:
        request = whitebox_requests(info, t.results, self.seed, t.call)
        if request is not None and not t.forced:
            return request
        found = residual_observations(info, t.results)
        if found is None:
            return self._submit(Fit([]), 0, t, "The residual stream could not be read")
        for var, layer, obs in found:
            result = fit(obs, {**info, "numerical": all(isinstance(v, float) for y in obs.values() for v in y if v is not None)
                               and any(isinstance(v, float) and not float(v).is_integer() for y in obs.values() for v in y
                                       if v is not None)})
            if result.best is not None:
                note = (f" (Inferred without decoded outputs: residual variable {var}, written last at layer {layer}, "
                        f"is taken as the output; the program reproduces its values on {len(obs)} probe inputs.)")
                return self._submit(result, len(obs), t, f"Variable {var} is written last (layer {layer})", note)
        return self._submit(Fit([]), sum(len(o) for _, _, o in found[:1]), t,
                            f"Checked {len(found)} residual variables")

    # -- the static dump (no tools) ---------------------------------------------------------------
    def _static_answer(self, messages) -> AIMessage:
        obs = self.static_pairs(messages)
        if not obs:
            return AIMessage(content="The dump holds attention patterns and embeddings but no input/output pairs; "
                                     "the open-world baseline fits programs to observed outputs, so it cannot "
                                     "say what the model computes.\nPREDICTION: unknown")
        vocab = sorted({t for x in obs for t in x}, key=repr)
        info = {"vocab": vocab, "max_seq_len": max(len(x) for x in obs),
                "numerical": any(isinstance(v, float) for y in obs.values() for v in y)}
        best: Optional[object] = fit(obs, info).best
        if best is None:
            return AIMessage(content="No composition of the building blocks explains the input/output pairs."
                                     "\nPREDICTION: unknown")
        return AIMessage(content=f"{best.description}\n```python\n{best.source}```\nPREDICTION: {best.label}")
