"""An episode's budget (`Limits`) and the tool-output cap, with their one set of defaults and checks.

Every command that runs an episode (run, eval, run --interactive) takes its limit options from the
same table (records/limit_fields.py; agent/cli/options.py turns it into typer options), the
transcript header records them, and the graph enforces them.
"""

from __future__ import annotations

from typing import Optional

from pydantic import BaseModel, Field, ValidationError

from tracr_agent.agent.records.limit_fields import LIMIT_FIELDS
from tracr_agent.tools.errors import UserError

MIN_CAP_TOKENS = 200
"""Smallest tool-output cap (--cap) accepted: below it even one tool's header would be cut."""


def _field(name: str):
    kind, default, description = LIMIT_FIELDS[name]
    # nan would switch a limit off, so float limits must also be finite
    return Field(default, gt=0, description=description, **({"allow_inf_nan": False} if kind is float else {}))


LIMIT_NAMES = {"max_tool_calls": "tool-call", "max_llm_turns": "LLM-turn", "max_context_tokens": "context (tokens)",
               "max_tokens": "token", "max_seconds": "wall-time (s)", "max_cost": "cost (USD)"}
"""How a limit is named where it is reached (the forced turn's notice, the limit event, results.jsonl)."""


class Limits(BaseModel):
    """An episode's budget (fields, defaults and help from records/limit_fields.py); every limit is
    positive and finite."""

    max_tool_calls: int = _field("max_tool_calls")
    max_llm_turns: int = _field("max_llm_turns")
    max_context_tokens: int = _field("max_context_tokens")
    max_tokens: Optional[int] = _field("max_tokens")
    max_seconds: float = _field("max_seconds")
    max_cost: float = _field("max_cost")

    @classmethod
    def from_options(cls, **values) -> "Limits":
        """Limits from CLI options; a bad value raises UserError naming the option (one line, exit 2)."""
        try:
            return cls(**values)
        except ValidationError as e:
            err = e.errors()[0]
            option = "--" + str(err["loc"][0]).replace("_", "-")
            kind = "a positive integer" if LIMIT_FIELDS[err["loc"][0]][0] is int else "a positive, finite number"
            raise UserError(f"{option} must be {kind} (got {err.get('input')!r})") from None


def check_cap(cap: int) -> int:
    """--cap as given, or UserError when it is below MIN_CAP_TOKENS."""
    if cap < MIN_CAP_TOKENS:
        raise UserError(f"--cap must be at least {MIN_CAP_TOKENS} tokens (got {cap})")
    return cap
