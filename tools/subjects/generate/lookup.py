"""Generated ids as Tasks: the registry's accepted row of an id (generated and judged on first use), made
into the Task (task.py) that compiles, verifies and scores like a zoo task, and its features."""

from __future__ import annotations

from tracr_agent.tools.errors import UserError
from tracr_agent.tools.subjects.generate.candidate import candidate_program
from tracr_agent.tools.subjects.generate.ids import GenId, is_generated, parse_id
from tracr_agent.tools.subjects.generate.program import Program
from tracr_agent.tools.subjects.generate.registry import accepted
from tracr_agent.tools.subjects.generate.task import make_task
from tracr_agent.tools.subjects.zoo.base import Task


def generated_task(task_id: str, on_candidate=None) -> Task:
    """The Task a generated id names; generates (and caches) the sequence up to it on first use."""
    gid = parse_id(task_id)
    row = accepted(gid, on_candidate)
    return make_task(gid, accepted_program(gid, row), row.get("features", {}))


def accepted_program(gid: GenId, row: dict) -> Program:
    """The program of an accepted row: as the row recorded it, or (a row without one) made again."""
    meta = {"seed": gid.seed, "difficulty": gid.difficulty, "candidate": row["k"]}
    if "program" in row:
        return Program.from_json(row["program"], meta)
    return candidate_program(gid.seed, gid.difficulty, row["k"]).program


def task_features(task_id: str):
    """A generated task's features (for results.jsonl); None for any other task or a bad id."""
    if not is_generated(task_id):
        return None
    try:
        return dict(generated_task(task_id).extra["features"]) or None
    except UserError:
        return None
