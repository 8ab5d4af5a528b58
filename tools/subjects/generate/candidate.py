"""Candidate k of (seed, difficulty) made ready to judge: sampled, simplified, and measured.

The sampled program is evaluated step by step on its whole domain, simplified
(simplify.simplify), then refused when a step still does nothing or when it
does not measure up to its difficulty. What passes goes on to the behaviour
rules, compilation and verification (registry.judge_candidate). Everything
here is a pure function of (seed, difficulty, k).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Optional

from tracr_agent.tools.subjects.generate import filters
from tracr_agent.tools.subjects.generate.difficulty import Measures, measure, misfit
from tracr_agent.tools.subjects.generate.program import Program
from tracr_agent.tools.subjects.generate.sampler import sample_program
from tracr_agent.tools.subjects.generate.simplify import idle_step, simplify
from tracr_agent.tools.subjects.generate.trace import Trace, trace_program


@dataclass
class Candidate:
    program: Optional[Program] = None
    """The simplified program (None when none was sampled)."""
    trace: Optional[Trace] = None
    measures: Optional[Measures] = None
    rewrites: list[str] = field(default_factory=list)
    reason: Optional[str] = None
    """A rejection reason of filters.REASONS, or None: ready for the behaviour rules."""
    detail: str = ""


def candidate_program(seed: int, difficulty: int, k: int) -> Candidate:
    """Candidate k of (seed, difficulty), sampled and prepared."""
    try:
        sampled = sample_program(seed, difficulty, k)
    except RuntimeError as e:
        return Candidate(reason=filters.NO_SHAPE, detail=str(e))
    return prepare(sampled, difficulty)


def prepare(sampled: Program, difficulty: int) -> Candidate:
    """`sampled` simplified and measured; refused (reason set) when a step still does nothing or when it does
    not measure up to `difficulty`."""
    try:
        simplified = simplify(sampled, trace_program(sampled))
    except Exception as e:  # noqa: BLE001 — tracr refuses some constructions outright
        return Candidate(sampled, reason=filters.NOT_COMPILABLE, detail=f"{type(e).__name__}: {e}")
    program = replace(simplified.program, meta={**sampled.meta, "sampled_steps": len(sampled.ops)})
    out = Candidate(program, simplified.trace, measure(program, simplified.trace.patterns), simplified.rewrites)
    idle = idle_step(program, simplified.trace)
    if idle is not None:
        out.reason, out.detail = filters.IDLE_STEP, idle
    else:
        wrong = misfit(difficulty, out.measures)
        if wrong is not None:
            out.reason, out.detail = filters.MISFIT, wrong
    return out
