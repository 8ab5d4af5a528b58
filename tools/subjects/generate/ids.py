"""Generated task ids (`gen-SEED-DIFFICULTY-INDEX`), difficulty ranges and `gen:SEED:DIFFICULTY:COUNT` specs."""

from __future__ import annotations

import re
from dataclasses import dataclass

from tracr_agent.tools.errors import UserError

DIFFICULTY_RANGE = (1, 4)
MAX_INDEX = 10_000
"""Ids are found in order, so a huge index means generating that many programs: refused as a likely typo."""
_ID = re.compile(r"gen-(\d+)-(\d+)-(\d+)")
ID_FORM = "gen-SEED-DIFFICULTY-INDEX (e.g. gen-7-2-13; difficulty 1 to 4)"


@dataclass(frozen=True, order=True)
class GenId:
    seed: int
    difficulty: int
    index: int

    def __str__(self) -> str:
        return f"gen-{self.seed}-{self.difficulty}-{self.index}"


def is_generated(task_id: str) -> bool:
    """Does this name claim to be a generated task (well-formed or not)?"""
    return isinstance(task_id, str) and task_id.strip().lower().startswith("gen-")


def _difficulty(value: int, text: str) -> int:
    lo, hi = DIFFICULTY_RANGE
    if not lo <= value <= hi:
        raise UserError(f"unknown difficulty {value} in {text!r}: difficulties go from {lo} to {hi}")
    return value


def parse_id(text: str) -> GenId:
    """`gen-7-2-13` -> GenId(7, 2, 13); anything else is one clear UserError."""
    m = _ID.fullmatch(text.strip().lower())
    if not m:
        raise UserError(f"malformed generated task id {text!r}: the form is {ID_FORM}")
    seed, difficulty, index = (int(g) for g in m.groups())
    if index >= MAX_INDEX:
        raise UserError(f"generated task index {index} in {text!r} is too large (at most {MAX_INDEX - 1})")
    return GenId(seed, _difficulty(difficulty, text), index)


def parse_difficulties(text: str, where: str = "") -> list[int]:
    """`2` -> [2]; `1-3` -> [1, 2, 3]. `where`: what the user typed it in (e.g. gen:7:9:2), for the error."""
    raw = str(text).strip()
    m = re.fullmatch(r"(\d+)(?:-(\d+))?", raw)
    if not m:
        raise UserError(f"unknown difficulty {raw!r}{f' in {where!r}' if where else ''}: "
                        "give a number from 1 to 4 or a range such as 1-3")
    lo = _difficulty(int(m.group(1)), where or raw)
    hi = _difficulty(int(m.group(2)), where or raw) if m.group(2) else lo
    if hi < lo:
        raise UserError(f"difficulty range {raw!r} runs backwards: write it low-high, e.g. 1-3")
    return list(range(lo, hi + 1))


def parse_count(value, what: str) -> int:
    try:
        n = int(str(value).strip())
    except ValueError:
        raise UserError(f"{what} must be a whole number, got {value!r}") from None
    if n < 1 or n > MAX_INDEX:
        raise UserError(f"{what} must be between 1 and {MAX_INDEX}, got {n}")
    return n


def parse_seed(value) -> int:
    try:
        n = int(str(value).strip())
    except ValueError:
        raise UserError(f"the seed must be a non-negative whole number, got {value!r}") from None
    if n < 0:
        raise UserError(f"the seed must be a non-negative whole number, got {n}")
    return n


def ids_for(seed: int, difficulties: list[int], count: int) -> list[GenId]:
    """The first `count` ids of (seed, d) for each difficulty d, difficulty by difficulty."""
    return [GenId(seed, d, i) for d in difficulties for i in range(count)]


def parse_spec(spec: str) -> list[GenId]:
    """`gen:SEED:DIFFICULTY:COUNT` (DIFFICULTY may be a range) -> the ids it stands for."""
    parts = spec.split(":")
    if len(parts) != 4 or parts[0] != "gen":
        raise UserError(f"malformed generated suite {spec!r}: the form is gen:SEED:DIFFICULTY:COUNT, e.g. gen:7:1-3:10")
    return ids_for(parse_seed(parts[1]), parse_difficulties(parts[2], spec), parse_count(parts[3], f"the count in {spec!r}"))
