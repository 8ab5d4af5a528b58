"""How sure the decompiler is of its program: a confidence from what was verified, and words saying why.

The confidence is a probability that the submitted program is functionally correct on the whole input
domain, set by the strongest evidence the session allowed:
- with decoded outputs (`run_model`): the program's outputs against the model's on every input run,
  the last of them fresh inputs it was not built from. Every one right, fresh inputs included: high;
  any wrong: low (it is known to be wrong);
- without them: whether every decompiled variable matches the model's internals on every probe,
  whether every step was explained, whether the output's values could be named for certain, and
  whether every table entry the program can reach on a sample of the domain was observed.
The levels are calibrated on measured episodes (`tracr-agent report` shows the calibration: Brier
score, and accuracy among answers at confidence ≥ 0.9).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from tracr_agent.agent.investigators.decompiler import coverage, probes
from tracr_agent.agent.investigators.decompiler.readout import readout_unseen
from tracr_agent.tools.subjects.compare import outputs_equal

VERIFIED = 0.95
"""Every output observed, fresh ones included, is right."""
UNCHECKED = 0.6
"""Every output observed is right, but no fresh input was checked."""
FITTED = 0.6
"""Every output observed is right, but table entries were filled from the last outputs run (no fresh
input checked them)."""
WRONG = 0.1
"""Some output observed is wrong."""
CONSISTENT = 0.9
"""No decoded outputs; every variable matches on every probe, every step and the output's values known,
every reachable table entry observed."""
ASSUMED = 0.8
"""… but what the unembedding reads is assumed: the listed output values do not confirm it (another
number of values, a numerical output's scale, an input variable taken as the output)."""
UNCOVERED = 0.6
"""… but some table entry the program can reach was never observed (it is filled with a default), or
the order of a variable's values is one of several its observed comparisons allow."""
GUESSED = 0.4
"""… but the output's values are guessed (no decoded outputs, no basis that orders them)."""
MISMATCH = 0.3
"""Some decompiled variable differs from the model's internals on a probe."""
INCOMPLETE = 0.2
"""Some step could not be decompiled."""


@dataclass
class Verdict:
    confidence: float
    words: str
    """A sentence for the description: what was verified, and what was not."""


def assess(dec, src: str, info: dict, ok: int, total: int, checks: list[dict], outputs: dict,
           submitted: str = "") -> Verdict:
    """`src`: the recovered program's source; `submitted`: the implementation submitted (its readable
    account, which may fill table entries never observed with a named primitive), whose outputs are the
    ones compared with the model's."""
    prog = dec.program
    if prog.unexplained or not prog.output:
        return Verdict(INCOMPLETE, " Unsure: part of the model could not be decompiled.")
    if outputs:
        wrong = [x for x, y in outputs.items() if not same_output(prog, submitted or src, x, y, info)]
        if wrong:
            return Verdict(WRONG, f" Unsure: the program's output differs from the model's on {len(wrong)} of "
                                  f"{len(outputs)} inputs run.")
        if dec.fitted:
            return Verdict(FITTED, f" Its output equals the model's on all {len(outputs)} inputs run, but "
                                   f"{dec.fitted} table entries filled from them are a fit, not a finding (filled "
                                   "from the last outputs run, or one of several values that fit as well).")
        unseen = _unseen(prog, src, info, checked=outputs)
        if unseen:
            return Verdict(UNCOVERED, f" Its output equals the model's on all {len(outputs)} inputs run, but {unseen} "
                                      "input(s) of a domain sample reach table entries never observed (nor run).")
        if checks:
            fresh = len(checks[-1])
            return Verdict(VERIFIED, f" Verified: its output equals the model's on all {len(outputs)} inputs run, "
                                     f"the last {fresh} of them fresh, and every table entry a domain sample reaches "
                                     "was observed, or run on an input whose output it reproduces.")
        return Verdict(UNCHECKED, f" Its output equals the model's on all {len(outputs)} inputs run (none fresh).")
    if ok < total:
        return Verdict(MISMATCH, " Unsure: some decompiled variables differ from the model's internals.")
    if dec.output_guess:
        return Verdict(GUESSED, f" Unsure: {dec.output_guess}.")
    if dec.order_guess:
        return Verdict(UNCOVERED, f" Unsure: {dec.order_guess}.")
    unseen = _unseen(prog, src, info)
    if unseen:
        return Verdict(UNCOVERED, f" Unsure: {unseen} input(s) of a domain sample reach table entries never observed.")
    assumed = readout_unseen(dec, info)
    if assumed:
        return Verdict(ASSUMED, f" Not verified without decoded outputs: {assumed}.")
    return Verdict(CONSISTENT, "")


def _unseen(prog, src: str, info: dict, checked=()) -> int:
    """How many inputs of a domain sample (up to 50) reach table entries never observed; with `checked`
    (inputs whose decoded outputs the program reproduces), an entry reached on one of them counts as
    observed through the output."""
    cands = [x for x in probes.candidates(info["vocab"], info["max_seq_len"]) if x not in checked]
    return len(coverage.covering_inputs(prog, src, cands, 50, known=tuple(checked)))


def same_output(prog, src: str, x: tuple, y: list, info: dict) -> bool:
    """Whether the program's output on x is the model's output y."""
    try:
        got = _f(src)(list(x))
    except Exception:
        return False
    return outputs_equal(list(got), list(y), bool(info.get("numerical")))


@lru_cache(maxsize=8)
def _f(src: str):
    ns: dict = {}
    exec(compile(src, "<decompiled>", "exec"), ns)
    return ns["f"]
