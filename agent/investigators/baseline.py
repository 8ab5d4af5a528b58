"""The closed-world baseline investigator (`--llm baseline-closed`): a deterministic "chat model".

CLOSED-WORLD: its hypotheses are the zoo's own reference functions, so on a zoo task its
result is a lookup, not an investigation; transcripts and reports mark it. The open-world
baseline (`--llm baseline`) is agent/investigators/openworld/.

It drives the same tools through the same graph as any agent and commits the
same way. Its method is hypothesis elimination: the zoo's reference functions
plus generic families (constant, elementwise map, positional map) are the
hypotheses; it probes with designed inputs, drops every hypothesis the model
contradicts, then searches for inputs on which the survivors disagree until
one is left. In `whitebox` (no decoded outputs) it reads the residual stream
instead: the variable written last is taken as the candidate output, and the
same elimination runs on that variable's values — it says so in its
description. It is stateless: every decision is recomputed from the message
history, so replay and resumption work unchanged.
"""

from __future__ import annotations

import random
from typing import ClassVar

from langchain_core.messages import AIMessage

from tracr_agent.agent.investigators.hypotheses import (
    BATCH,
    Hypothesis,
    generic_hypotheses,
    probe_inputs,
    submit_prediction,
)
from tracr_agent.agent.investigators.rule_based import RuleInvestigator, Turn
from tracr_agent.agent.investigators.whitebox_reader import whitebox_step
from tracr_agent.agent.investigators.zoo_lookup import zoo_hypotheses
from tracr_agent.tools.protocol.run_model import observations
from tracr_agent.tools.subjects.compare import outputs_equal

MAX_ROUNDS = 6


class BaselineInvestigator(RuleInvestigator):
    """The closed-world baseline (`--llm baseline-closed`)."""

    without_pairs: ClassVar[str] = ("the baseline only eliminates hypotheses against observed outputs, so it cannot "
                                    "name the task")

    def _investigate(self, t: Turn, info: dict) -> AIMessage:
        forced, call, turn = t.forced, t.call, t.number
        if "run_model" in self.available:
            obs: dict = {}
            for r in t.results:
                if r.name == "run_model" and r.ok:
                    obs.update(observations(r.data))
            return self._blackbox_step(info, obs, forced, call, turn)
        return whitebox_step(info, t.results, forced, call, self.seed)

    # -- with decoded outputs -----------------------------------------------------------------
    def _distinguishing(self, info: dict, survivors: list[Hypothesis], obs: dict) -> list[list]:
        vocab, n = info["vocab"], info["max_seq_len"]
        rng = random.Random(self.seed + len(obs))
        found: list = []
        for _ in range(3000):
            k = rng.randint(1, n)
            x = tuple(rng.choice(vocab) for _ in range(k))
            if x in obs or list(x) in found:
                continue
            preds = [h.predict(x) for h in survivors]
            first = preds[0]
            if any(p is None for p in preds) or any(not outputs_equal(first, p, info["numerical"]) for p in preds[1:]):
                found.append(list(x))
                if len(found) >= BATCH:
                    break
        return found

    def _blackbox_step(self, info, obs, forced, call, turn) -> AIMessage:
        numerical = info["numerical"]
        if not obs and not forced:
            return AIMessage(content="Probing with designed inputs: single tokens, sorted, reversed, constant and random sequences.",
                             tool_calls=[call("run_model", {"inputs": probe_inputs(info, self.seed)})])
        hyps = zoo_hypotheses() + generic_hypotheses(obs)
        survivors = [h for h in hyps if h.consistent(obs, numerical)]
        zoo_surv = [h for h in survivors if h.zoo] or survivors
        rounds = turn - 3
        if len(zoo_surv) > 1 and not forced and rounds < MAX_ROUNDS:
            probes = self._distinguishing(info, zoo_surv, obs)
            if probes:
                return AIMessage(
                    content=f"{len(zoo_surv)} hypotheses survive ({', '.join(h.label for h in zoo_surv[:6])}); "
                            "testing inputs on which they disagree.",
                    tool_calls=[call("run_model", {"inputs": probes})])
        if not zoo_surv:
            return submit_prediction(call, "unknown", "No hypothesis in the baseline's set explains the observed outputs.",
                                "def f(tokens):\n    return [None] * len(tokens)\n", 0.05,
                                f"Eliminated every hypothesis on {len(obs)} observed inputs.")
        best = zoo_surv[0]
        conf = 0.95 if len(zoo_surv) == 1 else 0.6
        note = f"{len(obs)} inputs observed; {len(zoo_surv)} hypothesis(es) consistent" + (
            f" (equivalent on every input tried: {', '.join(h.label for h in zoo_surv)})" if len(zoo_surv) > 1 else "")
        return submit_prediction(call, best.label, best.description, best.source, conf, note)

    # -- the static dump (no tools) -----------------------------------------------------------
    def _static_answer(self, obs: dict, numerical: bool) -> AIMessage:
        hyps = zoo_hypotheses() + generic_hypotheses(obs)
        survivors = [h for h in hyps if h.consistent(obs, numerical)]
        best = next((h for h in survivors if h.zoo), survivors[0] if survivors else None)
        if best is None:
            return AIMessage(content="No hypothesis explains the input/output pairs.\nPREDICTION: unknown")
        return AIMessage(content=f"{len(survivors)} hypotheses fit the {len(obs)} input/output pairs; the first is "
                                 f"{best.label}: {best.description}\n```python\n{best.source}```\nPREDICTION: {best.label}")
