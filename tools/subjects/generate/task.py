"""A generated id as a zoo-style Task: build, reference (the RASP evaluation), description, rendering."""

from __future__ import annotations

from typing import Optional

from tracr_agent.tools.subjects.generate.ids import GenId
from tracr_agent.tools.subjects.generate.program import Program, build_rasp, evaluate
from tracr_agent.tools.subjects.generate.render import describe_program, python_source, render_program
from tracr_agent.tools.subjects.generate.sampler import GENERATOR_VERSION
from tracr_agent.tools.subjects.zoo.base import Task

ORIGIN = "generated"


class RaspReference:
    """The ground truth of a generated task: tracr's own RASP evaluation of the program. `known`
    (input tuple -> outputs) holds evaluations already made, e.g. on the whole domain while the
    candidate was judged, so that verifying it does not evaluate the same inputs again."""

    def __init__(self, program: Program, known: Optional[dict] = None):
        self.program = program
        self._sop = None
        self._known = known or {}

    def __call__(self, tokens: list) -> list:
        if tuple(tokens) in self._known:
            return list(self._known[tuple(tokens)])
        if self._sop is None:
            self._sop = build_rasp(self.program)
        out, _ = evaluate(self._sop, list(tokens))
        return list(out) if out is not None else [None] * len(tokens)


def make_task(gid: GenId, program: Program, features: dict, known: Optional[dict] = None) -> Task:
    rendering = render_program(program, str(gid))
    return Task(
        id=str(gid), name=str(gid), description=describe_program(program), category="generated",
        vocab=tuple(program.vocab), max_seq_len=program.max_seq_len, build=lambda: build_rasp(program),
        reference=RaspReference(program, known), output="numerical" if program.numerical_output else "categorical",
        origin=ORIGIN, extra={"program": program, "rendering": rendering, "features": features,
                              "source": python_source(program, str(gid))},
    )


def program_source(task: Task) -> str:
    """What the subject-cache key hashes: the generator version and the program itself (not the id, which
    is only known once the candidates before it are judged; `load_task` puts the id on the subject)."""
    return f"generator {GENERATOR_VERSION}\n{render_program(task.extra['program'])}"


def is_generated_task(task) -> bool:
    return getattr(task, "origin", None) == ORIGIN
