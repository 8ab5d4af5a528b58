"""The rejection rules: which sampled programs become tasks, each refusal with a counted reason.

Cheap rules run first, on the RASP evaluation of every step over the
program's input domain (the trace; the same domain the subject is verified and
scored on): the simplified program must have no step that does nothing
(simplify.idle_step) and must measure up to its difficulty (difficulty.misfit),
then the behaviour rules below. Compiling and verifying
(tracr_agent.tools.subjects.verify, exactly as the zoo is checked) come last.
Behaviour is compared through a fingerprint: a hash of the outputs on the
domain with numbers rounded to the verification tolerance.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass, field
from typing import Optional

from tracr_agent.tools.subjects.generate.program import Program
from tracr_agent.tools.subjects.generate.sampler import UNDEFINED_LIMIT
from tracr_agent.tools.subjects.generate.trace import Trace, program_domain
from tracr_agent.tools.subjects.subject import input_domain

NO_SHAPE = "no program of its difficulty found"
NOT_COMPILABLE = "does not compile"
IDLE_STEP = "a step does nothing"
MISFIT = "does not measure up to its difficulty"
UNDEFINED = "undefined on more than a quarter of positions"
CONSTANT = "output constant"
IGNORES_TOKENS = "independent of the tokens"
EQUALS_INPUT = "equal to tokens or indices"
EQUALS_ZOO = "equal to a zoo task"
EQUALS_EARLIER = "equal to an earlier generated program"
DISAGREES = "compiled model disagrees with the program"
REASONS = (NO_SHAPE, NOT_COMPILABLE, IDLE_STEP, MISFIT, UNDEFINED, CONSTANT, IGNORES_TOKENS, EQUALS_INPUT,
           EQUALS_ZOO, EQUALS_EARLIER, DISAGREES)


@functools.lru_cache(maxsize=1 << 16)  # a domain's outputs repeat a few values ~10^5 times
def _norm(value):
    if value is None:
        return None
    if isinstance(value, (bool, int, float)):
        return f"{round(float(value), 3) + 0.0:.3f}"  # + 0.0 folds -0.0 into 0.0
    return f"s:{value}"


def fingerprint(outputs: list[list]) -> str:
    """A behavioural fingerprint: equal outputs on the domain (numbers to 3 decimals) give equal hashes."""
    data = json.dumps([[_norm(v) for v in out] for out in outputs], separators=(",", ":"))
    return hashlib.sha256(data.encode()).hexdigest()[:20]


_ZOO_PRINTS: dict[tuple, dict[str, str]] = {}


def reference_fingerprints(vocab: tuple, max_seq_len: int) -> dict[str, str]:
    """Fingerprint -> name for `tokens`, `indices` and every zoo task whose reference runs on this domain."""
    key = (vocab, max_seq_len)
    if key in _ZOO_PRINTS:
        return _ZOO_PRINTS[key]
    from tracr_agent.tools.subjects.zoo import all_tasks

    domain = input_domain(vocab, max_seq_len)
    prints = {fingerprint([list(x) for x in domain]): "tokens",
              fingerprint([list(range(len(x))) for x in domain]): "indices"}
    for task in all_tasks():
        try:
            outs = [list(task.reference(list(x))) for x in domain]
        except Exception:  # noqa: BLE001 — a zoo reference written for another vocabulary
            continue
        prints.setdefault(fingerprint(outs), f"zoo:{task.id}")
    _ZOO_PRINTS[key] = prints
    return prints


@dataclass
class Behaviour:
    """The cheap verdict on one candidate, from its RASP evaluation alone."""
    reason: Optional[str]
    fingerprint: str = ""
    detail: str = ""
    outputs: list = field(default_factory=list, repr=False)


def check_behaviour(program: Program, earlier: set[str], trace: Trace) -> Behaviour:
    """Every rule on the output that needs no compilation, in order, from the program's trace: compilable
    per tracr's validator, defined, not constant, dependent on the tokens, and new (not tokens, indices,
    a zoo task or `earlier`)."""
    if trace.problems:
        return Behaviour(NOT_COMPILABLE, detail=trace.problems[0])
    domain, outputs = trace.domain, trace.outputs()
    positions = sum(len(x) for x in domain)
    undefined = sum(v is None for out in outputs for v in out)
    if undefined > UNDEFINED_LIMIT * positions:
        return Behaviour(UNDEFINED, detail=f"{undefined} of {positions} positions undefined")
    values = {_norm(v) for out in outputs for v in out}
    if len(values) <= 1:
        return Behaviour(CONSTANT, detail=f"always {sorted(map(str, values))}")
    by_length: dict[int, set] = {}
    for x, out in zip(domain, outputs):
        by_length.setdefault(len(x), set()).add(tuple(_norm(v) for v in out))
    if all(len(s) == 1 for s in by_length.values()):
        return Behaviour(IGNORES_TOKENS, detail="each length always gives the same output")
    fp = fingerprint(outputs)
    known = reference_fingerprints(program.vocab, program.max_seq_len).get(fp)
    if known in ("tokens", "indices"):
        return Behaviour(EQUALS_INPUT, fp, detail=known)
    if known:
        return Behaviour(EQUALS_ZOO, fp, detail=known)
    if fp in earlier:
        return Behaviour(EQUALS_EARLIER, fp)
    return Behaviour(None, fp, outputs=outputs)
